/**
 * Drill: a full cache. One redis-server with a tiny `maxmemory`; members send padded messages until it
 * is full. Two policies:
 *
 * - `noeviction` (what the template's parameter group sets): once full, writes are refused. Every
 *   refused send must be answered `unavailable` (an error frame, nothing acknowledged), no acknowledged
 *   message is lost (all in the store's history and held by every member), and no room is corrupted
 *   (stored seqs gap-free up to the counter, the state's byte count matching the log).
 * - `volatile-lru` (ElastiCache's default, what a stack without the parameter group gets): rooms' keys
 *   are evicted and their sequences restart. Each restart must come with a new epoch, and every member
 *   (a client that follows the protocol: on a new epoch it drops its cursor and resumes from 0) ends on
 *   the room's current epoch with the store's history. Acknowledged messages that were evicted are
 *   counted (`evicted_acked`), not asserted: that loss is why the template sets `noeviction`.
 *
 * Long form: `npm run drill:eviction -- --policy noeviction|volatile-lru|both --maxmemory 3 --rooms 6
 * --members 5 --interval 200 --payload 8000 --refusing 3 --duration 10`.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { numberArg, parseArgs, runMain, trafficArgs } from './support/args';
import { type IntegrityFigures, integrity, integrityHolds, snapshotRooms } from './support/integrity';
import { tryHandshake } from './support/member';
import { RedisNode, waitFor } from './support/redis-node';
import { byReason, report } from './support/report';
import { gapFree, roomState } from './support/room-state';
import { type DrillStack, startDrillStack } from './support/stack';
import { Traffic } from './support/traffic';

export type EvictionPolicy = 'noeviction' | 'volatile-lru';

export interface EvictionOptions {
  policy: EvictionPolicy;
  maxmemoryMb: number;
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Bytes of padding in each message's data. */
  payloadBytes: number;
  /** noeviction: how long to wait for the cache to refuse a write (Redis counting an OOM error). */
  fillTimeoutMs: number;
  /** noeviction: traffic after the first refusal. */
  refusingMs: number;
  /** volatile-lru: traffic duration (it goes on until an epoch changed, up to `fillTimeoutMs` more). */
  durationMs: number;
}

const COMMON = {
  maxmemoryMb: 3,
  rooms: 4,
  membersPerRoom: 5,
  intervalMs: 250,
  payloadBytes: 8000,
  // Generous: a busy machine fills the cache slower (the fill is sized in bytes, not in time).
  fillTimeoutMs: 60_000,
  refusingMs: 1500,
  durationMs: 5000,
};

export const EVICTION_SHORT: Record<EvictionPolicy, EvictionOptions> = {
  noeviction: { ...COMMON, policy: 'noeviction' },
  'volatile-lru': { ...COMMON, policy: 'volatile-lru' },
};

export interface EvictionResult {
  policy: EvictionPolicy;
  integrity: IntegrityFigures;
  sent: number;
  /** Sends given up when the drill stopped (still refused). */
  abandoned: number;
  gaveUp: number;
  /** Acks before the first refusal, and after it. */
  acksBeforeFull: number;
  acksAfterFull: number;
  /** Failed sends by answer, from the first refusal on (noeviction), or over the run. */
  refusals: Record<string, number>;
  /** Refusals answered otherwise than `unavailable` (noeviction), or failures other than a reconnect. */
  otherRefusals: number;
  /** Time from the start of traffic to the cache's first OOM refusal (seen in Redis's errorstats). */
  fullAfterMs: number | undefined;
  /** A handshake while full: its HTTP status ('101' when it opened). */
  handshakeWhenFull: string;
  evictedKeys: number;
  usedMemoryMb: number;
  /** Rooms whose stored seqs have a gap or do not end at the counter, read from Redis. */
  corruptedRooms: number;
  /** Rooms whose state's byte count differs from the log's (HASH layout only). */
  byteCountMismatch: number;
  line: string;
}

async function info(node: RedisNode, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await node.admin.info(section)).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Writes Redis refused for want of memory so far (`errorstat_OOM`). */
async function oomErrors(node: RedisNode): Promise<number> {
  const line = (await node.admin.info('errorstats')).match(/errorstat_OOM:count=(\d+)/);
  return Number(line?.[1] ?? 0);
}

export async function runEvictionDrill(options: EvictionOptions): Promise<EvictionResult> {
  const node = await RedisNode.start({
    args: ['--maxmemory', `${options.maxmemoryMb}mb`, '--maxmemory-policy', options.policy],
  });
  let stack: DrillStack | undefined;
  let traffic: Traffic | undefined;
  try {
    const started = await startDrillStack({ redisUrl: node.url, env: { MIN_REPLICA_ACKS: '0' } });
    stack = started;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `evict-${options.policy}-${i}`);
    const pad = 'x'.repeat(options.payloadBytes);
    const t = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      retryDeadlineMs: 40_000,
      payload: () => ({ pad }),
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    traffic = t;
    const startedAt = Date.now();
    let fullAt: number | undefined;
    let handshakeWhenFull = '-';
    if (options.policy === 'noeviction') {
      // Full is when Redis refuses a write (OOM), read from Redis itself: an `unavailable` answer before
      // that is a slow command on a busy machine, not the full cache. Every answer to a send from the
      // last look before the first OOM on is counted as a refusal (it may be the refused one).
      let lastNotFull = Date.now();
      await waitFor(
        async () => {
          const now = Date.now();
          if ((await oomErrors(node)) > 0) return true;
          lastNotFull = now;
          return false;
        },
        'the first write refused for memory',
        options.fillTimeoutMs,
        50,
      ).catch(() => undefined);
      fullAt = (await oomErrors(node)) > 0 ? lastNotFull : undefined;
      if (fullAt !== undefined)
        handshakeWhenFull = (await tryHandshake(started, rooms[0] as string, 5000)).status;
      await sleep(options.refusingMs);
      // Nothing frees memory under noeviction: what is still refused is given up.
      await t.stop({ abandon: true });
    } else {
      const epochChanged = () => {
        const first = new Map<string, number | undefined>();
        return t.acks.some((a) => {
          if (!first.has(a.room)) first.set(a.room, a.epoch);
          return first.get(a.room) !== a.epoch;
        });
      };
      await sleep(options.durationMs);
      // On until a room's epoch changed (keys evicted), as long as the fill may take on a busy machine.
      await waitFor(
        epochChanged,
        'an epoch change',
        Math.max(options.durationMs, options.fillTimeoutMs),
        100,
      ).catch(() => undefined);
      await t.stop();
    }
    const stats = await info(node, 'stats');
    const memory = await info(node, 'memory');
    // The pressure ends (volatile-lru: nothing more is evicted while the members catch up), then every
    // member resumes from its cursor and the store's view of each room is read.
    if (options.policy === 'volatile-lru') await node.admin.config('SET', 'maxmemory', '0');
    await t.reconcile(1000);
    const snapshots = await snapshotRooms(t.members);
    const figures = integrity(t.acks, t.members, snapshots);

    let corruptedRooms = 0;
    let byteCountMismatch = 0;
    for (const room of rooms) {
      const state = await roomState(node.admin, room);
      if (!gapFree(state)) corruptedRooms++;
      if (state.bytes !== undefined && state.stored.length > 0) {
        // Each stored message counted once (the store may count separators: allow one byte each).
        const diff = state.bytes - state.storedBytes;
        if (diff < 0 || diff > state.stored.length) byteCountMismatch++;
      }
    }
    const refusalWindow =
      options.policy === 'noeviction' && fullAt !== undefined ? t.failuresBetween(fullAt) : t.failureLog;
    const refusals = byReason(refusalWindow);
    const otherRefusals =
      options.policy === 'noeviction'
        ? refusalWindow.filter((f) => f.reason !== 'unavailable').length
        : refusalWindow.filter((f) => !['forbidden', 'closed'].includes(f.reason)).length;
    const cut =
      options.policy === 'noeviction' ? (fullAt ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    const result: Omit<EvictionResult, 'line'> = {
      policy: options.policy,
      integrity: figures,
      sent: t.sent,
      abandoned: t.abandoned,
      gaveUp: t.gaveUp,
      acksBeforeFull: t.acks.filter((a) => a.ackAt < cut).length,
      acksAfterFull: t.acks.filter((a) => a.ackAt >= cut).length,
      refusals,
      otherRefusals,
      fullAfterMs: options.policy === 'noeviction' && fullAt !== undefined ? fullAt - startedAt : undefined,
      handshakeWhenFull,
      evictedKeys: Number(stats.evicted_keys ?? 0),
      usedMemoryMb: Math.round((Number(memory.used_memory ?? 0) / 1048576) * 100) / 100,
      corruptedRooms,
      byteCountMismatch,
    };
    const line = report(
      `eviction-${options.policy}`,
      {
        policy: options.policy,
        maxmemory_mb: options.maxmemoryMb,
        sent: result.sent,
        acknowledged: figures.acknowledged,
        lost: figures.lost,
        lost_pairs: figures.lostPairs,
        evicted_acked: figures.lostFromStore,
        duplicated: figures.duplicated,
        seq_conflicts: figures.seqConflicts,
        cursors_behind: figures.cursorsBehind,
        history_mismatch: figures.historyMismatch,
        members_on_store_epoch: `${figures.membersOnStoreEpoch}/${figures.members}`,
        rooms_new_epoch: figures.roomsWithNewEpoch,
        epoch_resets: figures.epochResets,
        corrupted_rooms: corruptedRooms,
        byte_count_mismatch: byteCountMismatch,
        full_after_ms: result.fullAfterMs,
        acks_before_full: options.policy === 'noeviction' ? result.acksBeforeFull : undefined,
        acks_after_full: options.policy === 'noeviction' ? result.acksAfterFull : undefined,
        refusals:
          Object.entries(refusals)
            .map(([k, v]) => `${k}:${v}`)
            .join(',') || 'none',
        other_refusals: otherRefusals,
        handshake_when_full: options.policy === 'noeviction' ? handshakeWhenFull : undefined,
        abandoned: result.abandoned,
        gave_up: result.gaveUp,
        evicted_keys: result.evictedKeys,
        used_memory_mb: result.usedMemoryMb,
        members: figures.members,
        rooms: options.rooms,
      },
      { ...options },
    );
    return { ...result, line };
  } finally {
    await traffic?.closeAll();
    await stack?.stop();
    await node.stop();
  }
}

/** noeviction holds: refusals came, all `unavailable`; nothing acknowledged lost; rooms intact. */
export function noevictionHolds(r: EvictionResult): boolean {
  const f = r.integrity;
  return (
    r.fullAfterMs !== undefined &&
    (r.refusals.unavailable ?? 0) > 0 &&
    r.otherRefusals === 0 &&
    integrityHolds(f) &&
    r.corruptedRooms === 0 &&
    r.byteCountMismatch === 0 &&
    r.evictedKeys === 0
  );
}

/** volatile-lru holds: keys were evicted, epochs changed, every member recovered the store's history. */
export function volatileHolds(r: EvictionResult): boolean {
  const f = r.integrity;
  return (
    r.evictedKeys > 0 &&
    f.roomsWithNewEpoch > 0 &&
    f.membersOnStoreEpoch === f.members &&
    integrityHolds(f, { evicted: true }) &&
    r.corruptedRooms === 0
  );
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const which = args.get('policy') ?? 'both';
    if (!['noeviction', 'volatile-lru', 'both'].includes(which)) {
      throw new Error(`--policy must be noeviction, volatile-lru or both, got "${which}"`);
    }
    if (which === 'both') {
      // One process per policy: the handlers keep their warm state (the first stack's endpoint) per process.
      let ok = true;
      for (const policy of ['noeviction', 'volatile-lru']) {
        const argv = [...process.execArgv, __filename, ...process.argv.slice(2), '--policy', policy];
        ok = spawnSync(process.execPath, argv, { stdio: 'inherit' }).status === 0 && ok;
      }
      return ok;
    }
    const policy = which as EvictionPolicy;
    const result = await runEvictionDrill({
      policy,
      maxmemoryMb: numberArg(args, 'maxmemory', 3),
      ...trafficArgs(args, { rooms: 6, members: 5, interval: 200 }),
      payloadBytes: numberArg(args, 'payload', 8000),
      fillTimeoutMs: numberArg(args, 'fill-timeout', 30) * 1000,
      refusingMs: numberArg(args, 'refusing', 3) * 1000,
      durationMs: numberArg(args, 'duration', 10) * 1000,
    });
    if (result.integrity.examples.length) console.log(`examples: ${result.integrity.examples.join('; ')}`);
    return policy === 'noeviction' ? noevictionHolds(result) : volatileHolds(result);
  });
}
