/**
 * Drill 3: management API faults. The gateway emulator's test-only fault injection answers a share of
 * PostToConnection calls with 410 Gone, 429 LimitExceeded, 500, or a slow answer, while members exchange
 * messages. 429/500 are retried with backoff; a slow post delays the broadcast; a 410 removes that
 * connection from the room (AWS answers 410 only for a gone connection, so a live member hit by it is told
 * `forbidden` on its next send, rejoins and resumes). Every acknowledged message must reach every member
 * live or through resume. One vanished connection per room (410 to every post, its socket still open at
 * the gateway, as a half-open TCP connection) must be pruned from the room.
 *
 * Long form: `npm run drill:faults -- --duration 60 --share 0.2 --rooms 6 --members 6`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultKind } from '../local/management-api';
import { numberArg, parseArgs, runMain, trafficArgs } from './support/args';
import { DrillMember } from './support/member';
import { RedisNode } from './support/redis-node';
import { report, trafficColumns } from './support/report';
import { type DrillStack, startDrillStack } from './support/stack';
import { Traffic, type TrafficFigures } from './support/traffic';

export interface FaultsOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  durationMs: number;
  /**
   * Acknowledged messages the traffic needs (default 0: time alone): it runs `durationMs` at least and
   * on until then (`phaseTimeoutMs` at most, default 60 s), so a busy machine drives the same traffic.
   */
  minAcks?: number;
  phaseTimeoutMs?: number;
  /** Share of posts that get a fault (0..1). */
  share: number;
  slowMs: number;
}

export const FAULTS_SHORT: FaultsOptions = {
  rooms: 4,
  membersPerRoom: 5,
  intervalMs: 250,
  durationMs: 6000,
  // The short form's floor is 100 acknowledged messages.
  minAcks: 130,
  phaseTimeoutMs: 45_000,
  share: 0.2,
  slowMs: 800,
};

export interface FaultsResult {
  figures: TrafficFigures;
  injected: Record<FaultKind, number>;
  posts: number;
  /** Vanished connections still listed as room members at the end. */
  stalesLeft: number;
  stales: number;
  /** Frames the vanished connections' sockets received after they vanished. */
  staleFrames: number;
  line: string;
}

const KINDS: FaultKind[] = ['410', '429', '500', 'slow'];
export async function runFaultsDrill(options: FaultsOptions): Promise<FaultsResult> {
  const node = await RedisNode.start();
  const injected: Record<FaultKind, number> = { '410': 0, '429': 0, '500': 0, slow: 0 };
  const vanished = new Set<string>();
  let posts = 0;
  let armed = false;
  let stack: DrillStack | undefined;
  let traffic: Traffic | undefined;
  const stales: { member: DrillMember; id: string; framesAtVanish: number }[] = [];
  try {
    const started = await startDrillStack({
      redisUrl: node.url,
      faults: (request) => {
        if (request.method !== 'POST') return undefined;
        posts++;
        if (vanished.has(request.connectionId)) return '410';
        if (!armed || Math.random() >= options.share) return undefined;
        const kind = KINDS[Math.floor(Math.random() * KINDS.length)] as FaultKind;
        injected[kind]++;
        return kind === 'slow' ? { kind, ms: options.slowMs } : kind;
      },
    });
    stack = started;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `faults-${i}`);
    const t = await Traffic.connect({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    traffic = t;
    for (const room of rooms) {
      const before = new Set(started.gateway.connectionIds());
      const member = new DrillMember(
        { userId: `ghost-${room}`, name: 'Ghost', role: 'student' },
        room,
        (id, r) => started.memberUrl(id, r),
      );
      await member.connect();
      const id = started.gateway.connectionIds().find((c) => !before.has(c));
      if (!id) throw new Error('no connection id for the vanished member');
      stales.push({ member, id, framesAtVanish: 0 });
    }
    await sleep(200);
    for (const stale of stales) {
      vanished.add(stale.id);
      stale.framesAtVanish = stale.member.framesIn;
    }
    armed = true;
    t.startSending();
    await t.runUntil({
      minMs: options.durationMs,
      acks: options.minAcks ?? 0,
      since: 0,
      timeoutMs: options.phaseTimeoutMs ?? 60_000,
    });
    await t.stop();
    armed = false;
    const figures = await t.reconcile();
    let stalesLeft = 0;
    for (const [i, stale] of stales.entries()) {
      if ((await node.admin.zscore(`room:{${rooms[i]}}:members`, stale.id)) !== null) stalesLeft++;
    }
    const staleFrames = stales.reduce((n, s) => n + s.member.framesIn - s.framesAtVanish, 0);
    const line = report(
      'mgmt-faults',
      {
        ...trafficColumns(figures),
        posts,
        injected_410: injected['410'],
        injected_429: injected['429'],
        injected_500: injected['500'],
        injected_slow: injected.slow,
        stale_pruned: `${stales.length - stalesLeft}/${stales.length}`,
        stale_frames: staleFrames,
        gateway_errors: started.counts.errors + started.counts.timeouts,
      },
      { ...options },
    );
    return { figures, injected, posts, stalesLeft, stales: stales.length, staleFrames, line };
  } finally {
    await Promise.all(stales.map((s) => s.member.close()));
    await traffic?.closeAll();
    await stack?.stop();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runFaultsDrill({
      ...trafficArgs(args, { rooms: 6, members: 6, interval: 250 }),
      durationMs: numberArg(args, 'duration', 60) * 1000,
      share: numberArg(args, 'share', 0.2),
      slowMs: numberArg(args, 'slow', 1500),
    });
    return result.figures.lost === 0 && result.figures.duplicated === 0 && result.stalesLeft === 0;
  });
}
