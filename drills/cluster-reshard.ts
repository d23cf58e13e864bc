/**
 * Drill: resharding a Redis Cluster under traffic. A local cluster (3 masters + 1 replica each, from
 * local/redis-cluster.ts), the drill stack with REDIS_CLUSTER=true (the functions use ioredis' cluster
 * client seeded from one node), members of several rooms sending with clientMsgIds (resent with the same
 * id until acknowledged). While they send, the slots of the busiest rooms (by acknowledged messages since
 * the last round) are moved to another master, round after round, as `redis-cli --cluster reshard` does:
 * CLUSTER SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE of the slot's keys in batches
 * (every key of a room shares the hash tag `{ROOM}`, so one slot holds the whole room), SETSLOT NODE on
 * every master. After the first batch the slot stays half-moved for `holdMs`: reads then meet ASK, and the
 * send script (several keys, some not yet created) meets TRYAGAIN, which ioredis retries; afterwards a
 * client with the old slot map meets MOVED.
 *
 * It holds when: 0 acknowledged messages lost, 0 duplicated, no (epoch, seq) with two ids, every
 * member's cursor is its room's (epoch, lastSeq) with the store's history, the seq counters at least the
 * highest acknowledged seq, and every redirect followed: no request failed because of one (no `internal`
 * answer, no redirect reply handed to the product), and the sends answered `unavailable` meanwhile (a
 * TRYAGAIN outlasting the command timeout) were resent and acknowledged. The MOVED/ASK/TRYAGAIN counts
 * are the nodes' own (`INFO errorstats`) and, with `--in-process` (the functions in this process, not in
 * the gateway's worker threads), the handlers' client's: followed by ioredis itself, or handed to the store
 * (a script + WAIT pipeline's, which the store sends again after a slot map refresh).
 *
 * Long form: `npm run drill:cluster:reshard -- --busy-rooms 3 --busy-members 8 --quiet-rooms 4
 * --quiet-members 3 --interval 250 --warmup 3 --rounds 8 --moves 2 --gap 2 --hold 200 --batch 100
 * [--min-replica-acks 1] [--ack-timeout 250] [--in-process]`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterNode, LocalRedisCluster } from '../local/redis-cluster';
import { startRedisCluster } from '../local/redis-cluster';
import { numberArg, parseArgs, runMain } from './support/args';
import {
  answerFigures,
  countSeqCountersBehind,
  countsText,
  errorStats,
  inspector,
  type RedirectCounts,
  RedirectWatch,
  resetStats,
  roomSlot,
  roomsOn,
  startClusterDrillStack,
  topologyFrom,
  withNode,
} from './support/cluster-drill';
import { type IntegrityFigures, integrity, integrityHolds, snapshotRooms } from './support/integrity';
import { report } from './support/report';
import { Traffic } from './support/traffic';

export interface ClusterReshardOptions {
  /** Rooms with `busyMembers` members each (the ones whose slots move first). */
  busyRooms: number;
  busyMembers: number;
  /** Rooms with `quietMembers` members each. */
  quietRooms: number;
  quietMembers: number;
  intervalMs: number;
  /** Traffic before the first round. */
  warmupMs: number;
  /** Rounds of moves; each moves the slots of the `moves` busiest rooms. */
  rounds: number;
  moves: number;
  /** Traffic between rounds, and after the last one. */
  gapMs: number;
  /** How long a slot stays half-moved (keys on both masters) after the first batch. */
  holdMs: number;
  /** Keys per MIGRATE. */
  keysPerBatch: number;
  minReplicaAcks: number;
  replicaAckTimeoutMs: number;
  /**
   * The functions in this process instead of worker threads (one Redis client for every invocation): the
   * handlers' client's own redirect counts are then reported too.
   */
  inProcess?: boolean;
  /**
   * Acknowledged messages the warmup needs before the first round, and the whole run before the senders
   * stop (default 0: time alone). Each phase runs at least its time and on until then (`phaseTimeoutMs`
   * at most, default 60 s), so a busy machine drives the same traffic, slower.
   */
  warmupAcks?: number;
  minAcks?: number;
  phaseTimeoutMs?: number;
}

export const CLUSTER_RESHARD_SHORT: ClusterReshardOptions = {
  busyRooms: 2,
  busyMembers: 6,
  quietRooms: 3,
  quietMembers: 3,
  intervalMs: 300,
  warmupMs: 1500,
  rounds: 4,
  moves: 2,
  gapMs: 1200,
  holdMs: 150,
  keysPerBatch: 50,
  minReplicaAcks: 0,
  replicaAckTimeoutMs: 250,
  // The short form's floor is 100 acknowledged messages.
  warmupAcks: 40,
  minAcks: 130,
  phaseTimeoutMs: 30_000,
};

export interface SlotMove {
  round: number;
  room: string;
  slot: number;
  from: number;
  to: number;
  /** Keys of the slot when the move began. */
  keys: number;
  startedAt: number;
  /** From IMPORTING to the last SETSLOT NODE. */
  ms: number;
}

export interface ClusterReshardResult {
  integrity: IntegrityFigures;
  sent: number;
  gaveUp: number;
  moves: SlotMove[];
  slotsMoved: number;
  /** Redirect replies the nodes sent (INFO errorstats, summed over the nodes). */
  nodeRedirects: RedirectCounts;
  /** Redirect replies the handlers' cluster client followed. */
  followed: RedirectCounts;
  /** Redirect replies handed to the store as errors (a pipeline's: the store follows them itself). */
  toProduct: RedirectCounts;
  /** Failed attempts by answer. */
  failures: Record<string, number>;
  /** `internal` (and gateway) answers: requests that failed outright. */
  internal: number;
  /** Messages answered `unavailable` at least once, and how many of those were then acknowledged. */
  unavailableMessages: number;
  unavailableThenAcked: number;
  /** Rooms whose seq counter is below their highest acknowledged seq. */
  seqCountersBehind: number;
  /** Moved slots not served by their target on every master's view at the end. */
  slotsMisplaced: number;
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
  line: string;
}

/** The master after `from` in the list (wrapping), skipping `from` itself. */
function nextMaster(masters: ClusterNode[], from: ClusterNode, turn: number): ClusterNode {
  const others = masters.filter((m) => m.id !== from.id);
  return others[turn % others.length] as ClusterNode;
}

export async function runClusterReshardDrill(options: ClusterReshardOptions): Promise<ClusterReshardResult> {
  let cluster: LocalRedisCluster | undefined;
  let stack: Awaited<ReturnType<typeof startClusterDrillStack>> | undefined;
  let traffic: Traffic | undefined;
  let watch: RedirectWatch | undefined;
  try {
    cluster = await startRedisCluster();
    const c = cluster;
    const masters = c.masters();
    // Rooms spread over the masters: busy ones first, round robin.
    const taken = new Set<string>();
    const rooms: string[] = [];
    const sizes = new Map<string, number>();
    const total = options.busyRooms + options.quietRooms;
    for (let i = 0; i < total; i++) {
      const busy = i < options.busyRooms;
      const [room] = roomsOn(masters[i % masters.length] as ClusterNode, 1, busy ? 'busy' : 'quiet', taken);
      rooms.push(room as string);
      sizes.set(room as string, busy ? options.busyMembers : options.quietMembers);
    }
    const ports = c.nodes.map((n) => n.port);
    watch = RedirectWatch.install();
    const started = await startClusterDrillStack(c.url, options);
    stack = started;
    traffic = await Traffic.connect({
      rooms,
      membersPerRoom: options.busyMembers,
      roomSize: (room) => sizes.get(room) ?? options.quietMembers,
      intervalMs: options.intervalMs,
      // Every message is resent until acknowledged, however long a move takes.
      connectConcurrency: 4,
      retryDeadlineMs: 60_000,
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    const t = traffic;
    await resetStats(ports);
    t.startSending();
    await t.runUntil({
      minMs: options.warmupMs,
      acks: options.warmupAcks ?? 0,
      since: 0,
      timeoutMs: options.phaseTimeoutMs ?? 60_000,
    });

    const moves: SlotMove[] = [];
    let mark = 0;
    for (let round = 0; round < options.rounds; round++) {
      // The busiest rooms since the last round: most acknowledged messages.
      const recent = t.acks.slice(mark);
      mark = t.acks.length;
      const counts = new Map(rooms.map((r) => [r, 0]));
      for (const a of recent) counts.set(a.room, (counts.get(a.room) ?? 0) + 1);
      const busiest = [...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, options.moves)
        .map(([room]) => room);
      for (const [i, room] of busiest.entries()) {
        const slot = roomSlot(room);
        const from = c.masterOfSlot(slot);
        const to = nextMaster(masters, from, round + i);
        const keys = Number(await withNode(from.port, (n) => n.call('CLUSTER', 'COUNTKEYSINSLOT', slot)));
        const startedAt = Date.now();
        await c.migrateSlot(slot, to, {
          keysPerBatch: options.keysPerBatch,
          whileMigrating: () => sleep(options.holdMs),
        });
        moves.push({
          round,
          room,
          slot,
          from: from.port,
          to: to.port,
          keys,
          startedAt,
          ms: Date.now() - startedAt,
        });
      }
      await sleep(options.gapMs);
    }

    await t.runUntil({ acks: options.minAcks ?? 0, since: 0, timeoutMs: options.phaseTimeoutMs ?? 60_000 });
    await t.stop();
    await t.reconcile(1000);
    // Counted before the drill's own cluster client exists (its first slot map could meet a MOVED too).
    const nodeRedirects = await errorStats(ports);
    watch.uninstall();
    const watched = watch;
    const followed = { ...watch.followed };
    const toProduct = { ...watch.toProduct };
    if (process.env.DRILL_DEBUG) {
      console.log(watch.examples.join('\n'));
      for (const m of moves)
        console.log(`${new Date(m.startedAt).toISOString().slice(11, 23)} move ${JSON.stringify(m)}`);
      for (const f of t.failureLog)
        console.log(`${new Date(f.at).toISOString().slice(11, 23)} ${JSON.stringify(f)}`);
    }
    watch = undefined;
    const snapshots = await snapshotRooms(t.members);
    const figures = integrity(t.acks, t.members, snapshots);

    const reader = inspector(c);
    const seqCountersBehind = await countSeqCountersBehind(reader, rooms, t);
    let slotsMisplaced = 0;
    // Every master agrees on where each moved slot is now.
    const finalOwner = new Map(moves.map((m) => [m.slot, m.to]));
    for (const master of masters) {
      const entries = await topologyFrom(master.port);
      for (const [slot, port] of finalOwner) {
        const owner = entries.find(
          (e) => e.role === 'master' && e.slots.some(([a, b]) => slot >= a && slot <= b),
        );
        if (owner?.port !== port) slotsMisplaced++;
      }
    }

    const answers = answerFigures(t, started.logs);
    const result: Omit<ClusterReshardResult, 'line'> = {
      integrity: figures,
      sent: t.sent,
      gaveUp: t.gaveUp,
      moves,
      slotsMoved: moves.length,
      nodeRedirects,
      followed,
      toProduct,
      ...answers,
      seqCountersBehind,
      slotsMisplaced,
    };
    const line = report(
      options.minReplicaAcks > 0 ? 'cluster-reshard-replica-acks' : 'cluster-reshard',
      {
        min_replica_acks: options.minReplicaAcks,
        sent: result.sent,
        acknowledged: figures.acknowledged,
        lost: figures.lost,
        duplicated: figures.duplicated,
        seq_conflicts: figures.seqConflicts,
        cursors_behind: figures.cursorsBehind,
        history_mismatch: figures.historyMismatch,
        store_gaps: figures.storeGaps,
        seq_counters_behind: seqCountersBehind,
        slots_moved: moves.length,
        rounds: options.rounds,
        keys_moved: moves.reduce((n, m) => n + m.keys, 0),
        move_ms_max: Math.max(0, ...moves.map((m) => m.ms)),
        slots_misplaced: slotsMisplaced,
        moved: nodeRedirects.MOVED,
        ask: nodeRedirects.ASK,
        tryagain: nodeRedirects.TRYAGAIN,
        crossslot: nodeRedirects.CROSSSLOT,
        client_followed: watched.text(followed),
        product_redirects: watched.text(toProduct),
        internal: result.internal,
        // The gateway's side of an `internal`: a function that timed out, or one that threw.
        lambda_timeouts: started.counts.timeouts,
        lambda_errors: started.counts.errors,
        unavailable_msgs: result.unavailableMessages,
        unavailable_then_acked: result.unavailableThenAcked,
        gave_up: result.gaveUp,
        stored_unacked: figures.storedUnacked,
        members: figures.members,
        rooms: rooms.length,
        ack_p50_ms: result.ackP50Ms,
        ack_p99_ms: result.ackP99Ms,
        ack_max_ms: result.ackMaxMs,
        failures: countsText(result.failures),
      },
      { ...options },
    );
    return { ...result, line };
  } finally {
    watch?.uninstall();
    await traffic?.closeAll();
    await stack?.stop();
    await cluster?.stop();
  }
}

/** The verdict (what the short form asserts). */
export function reshardHolds(r: ClusterReshardResult): boolean {
  const f = r.integrity;
  return (
    f.acknowledged > 0 &&
    integrityHolds(f) &&
    r.seqCountersBehind === 0 &&
    r.slotsMisplaced === 0 &&
    r.internal === 0 &&
    r.unavailableThenAcked === r.unavailableMessages &&
    r.gaveUp === 0
  );
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runClusterReshardDrill({
      busyRooms: numberArg(args, 'busy-rooms', 3),
      busyMembers: numberArg(args, 'busy-members', 8),
      quietRooms: numberArg(args, 'quiet-rooms', 4),
      quietMembers: numberArg(args, 'quiet-members', 3),
      intervalMs: numberArg(args, 'interval', 250),
      warmupMs: numberArg(args, 'warmup', 3) * 1000,
      rounds: numberArg(args, 'rounds', 8),
      moves: numberArg(args, 'moves', 2),
      gapMs: numberArg(args, 'gap', 2) * 1000,
      holdMs: numberArg(args, 'hold', 200),
      keysPerBatch: numberArg(args, 'batch', 100),
      minReplicaAcks: numberArg(args, 'min-replica-acks', 0),
      replicaAckTimeoutMs: numberArg(args, 'ack-timeout', 250),
      inProcess: args.has('in-process'),
    });
    if (result.integrity.examples.length) console.log(`examples: ${result.integrity.examples.join('; ')}`);
    return reshardHolds(result);
  });
}
