/**
 * Drill 2: Redis unavailable in the middle of traffic, twice: a crash (SIGKILL, then a restart on the same
 * port from its append-only file, as a node replacement keeps the endpoint) and a hang (SIGSTOP, then
 * SIGCONT: the process answers nothing while its sockets stay open). Requests fail fast with an `unavailable`
 * error frame (not at the Lambda timeout), a handshake is refused with 500, nothing half-written stays
 * behind, and the service recovers by itself once Redis is back: the members' next sends succeed.
 *
 * Long form: `npm run drill:redis-down -- --rooms 6 --members 5 --outage 10 --after 10`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REDIS_COMMAND_TIMEOUT_MS, REDIS_CONNECT_TIMEOUT_MS } from '@classroom/shared';
import { numberArg, parseArgs, runMain, trafficArgs } from './support/args';
import { tryHandshake } from './support/member';
import { RedisNode } from './support/redis-node';
import { report, trafficColumns } from './support/report';
import { gapFree, roomState } from './support/room-state';
import { type DrillStack, startDrillStack } from './support/stack';
import { Traffic, type TrafficFigures } from './support/traffic';

export interface RedisDownOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  warmupMs: number;
  outageMs: number;
  /**
   * Traffic after each outage, before the next phase (ms): at least this, and on until a send started
   * after Redis came back is acknowledged (30 s at most), so a busy machine's recovery is measured.
   */
  afterMs: number;
  /** Acknowledged messages the warmup needs before the first outage (the stack warm). */
  warmupAcks?: number;
}

export const REDIS_DOWN_SHORT: RedisDownOptions = {
  rooms: 3,
  membersPerRoom: 4,
  intervalMs: 250,
  warmupMs: 1500,
  outageMs: 2500,
  afterMs: 2500,
  warmupAcks: 30,
};

/**
 * The product's bounds (without what a busy machine adds: see support/bounds.ts). A request meeting a
 * dead or hung Redis fails within one connect timeout and one command timeout (ioredis: one reconnect
 * per request, then the command timeout), 2 s, answered `unavailable`; 500 ms for the rest of the request.
 */
export const FAIL_FAST_MS = REDIS_CONNECT_TIMEOUT_MS + REDIS_COMMAND_TIMEOUT_MS + 500;
/** Back by itself: the client's reconnect backoff is capped at 1 s, so the next send after it is acked. */
export const RECOVER_MS = 3000;

export interface OutagePhase {
  kind: 'crash' | 'hang';
  startedAt: number;
  /** Redis answering again. */
  backAt: number;
  /** Failed sendMessage attempts during the outage, by answer. */
  failures: Record<string, number>;
  /** Time from a send to its error answer, worst and median (ms). */
  errorMaxMs: number;
  errorP50Ms: number;
  /** A handshake during the outage: its HTTP status and how long it took. */
  handshakeStatus: string;
  handshakeMs: number;
  /** Time from Redis being back to the first ack of an attempt started after that. */
  recoverMs: number | undefined;
}

export interface RoomConsistency {
  room: string;
  seq: number;
  stored: number;
  /** Stored seqs are exactly the last `stored` up to `seq` (no seq taken without its message). */
  contiguous: boolean;
  /** Member connections and member info hold the same ids; nobody is left half-joined. */
  membersConsistent: boolean;
}

export interface RedisDownResult {
  figures: TrafficFigures;
  /** A first-attempt ack's latency, 90th percentile: what this machine adds to any request. */
  machineDelayMs: number;
  /** SendMessage's Timeout (template): a request that hangs meets it and the gateway answers, not the function. */
  lambdaTimeoutMs: number;
  phases: OutagePhase[];
  rooms: RoomConsistency[];
  line: string;
}

async function consistency(node: RedisNode, room: string): Promise<RoomConsistency> {
  const r = node.admin;
  const state = await roomState(r, room);
  const { seq } = state;
  const scores = state.stored;
  const contiguous = gapFree(state);
  const members = (await r.zrange(`room:{${room}}:members`, 0, -1)).sort();
  const info = (await r.hkeys(`room:{${room}}:info`)).sort();
  const joining = await r.zcard(`room:{${room}}:joining`);
  const membersConsistent = JSON.stringify(members) === JSON.stringify(info) && joining === 0;
  return { room, seq, stored: scores.length, contiguous, membersConsistent };
}

export async function runRedisDownDrill(options: RedisDownOptions): Promise<RedisDownResult> {
  // appendfsync always: what Redis acknowledged is on disk, so the restarted node has it (ElastiCache keeps
  // the data through a replica instead; the drill is about the functions' behaviour while it is away).
  const node = await RedisNode.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  let stack: DrillStack | undefined;
  let traffic: Traffic | undefined;
  try {
    const started = await startDrillStack({ redisUrl: node.url });
    stack = started;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `down-${i}`);
    const t = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      urlFor: (identity, room) => started.memberUrl(identity, room),
      retryDeadlineMs: options.outageMs + 20_000,
    });
    traffic = t;
    await t.runUntil({ minMs: options.warmupMs, acks: options.warmupAcks ?? 0, since: 0, timeoutMs: 30_000 });
    const phases: OutagePhase[] = [];
    for (const kind of ['crash', 'hang'] as const) {
      const startedAt = Date.now();
      if (kind === 'crash') await node.kill();
      else node.pause();
      const handshake = await tryHandshake(started, rooms[0] as string);
      await sleep(Math.max(0, options.outageMs - (Date.now() - startedAt)));
      if (kind === 'crash') await node.spawn();
      else node.resume();
      const backAt = Date.now();
      await sleep(options.afterMs);
      // A recovery slower than `afterMs` on a busy machine is still measured (the assertion judges it).
      const recovered = () => t.ackLog.some((a) => a.attemptStartedAt >= backAt);
      for (const until = Date.now() + 30_000; !recovered() && Date.now() < until; ) await sleep(50);
      const during = t.failuresBetween(startedAt, backAt + 1500);
      const failures: Record<string, number> = {};
      for (const f of during) failures[f.reason] = (failures[f.reason] ?? 0) + 1;
      const latencies = during
        .filter((f) => f.reason === 'unavailable')
        .map((f) => f.latencyMs)
        .sort((a, b) => a - b);
      phases.push({
        kind,
        startedAt,
        backAt,
        failures,
        errorMaxMs: latencies[latencies.length - 1] ?? 0,
        errorP50Ms: latencies[Math.floor(latencies.length / 2)] ?? 0,
        handshakeStatus: handshake.status,
        handshakeMs: handshake.ms,
        recoverMs: t.recoveryMs(backAt),
      });
    }
    await t.stop();
    const figures = await t.reconcile();
    const roomChecks: RoomConsistency[] = [];
    for (const room of rooms) roomChecks.push(await consistency(node, room));
    const [crash, hang] = phases as [OutagePhase, OutagePhase];
    const machineDelayMs = t.machineDelayMs();
    const lambdaTimeoutMs =
      (started.gateway.template.functions.get('SendMessageFunction')?.timeoutSeconds ?? Number.NaN) * 1000;
    const describe = (failures: Record<string, number>) =>
      Object.entries(failures)
        .map(([k, v]) => `${k}:${v}`)
        .join(',') || 'none';
    const line = report(
      'redis-down',
      {
        ...trafficColumns(figures, Math.max(crash.recoverMs ?? Number.NaN, hang.recoverMs ?? Number.NaN)),
        crash_errors: describe(crash.failures),
        crash_error_max_ms: crash.errorMaxMs,
        crash_handshake: `${crash.handshakeStatus}/${crash.handshakeMs}ms`,
        crash_recover_ms: crash.recoverMs,
        hang_errors: describe(hang.failures),
        hang_error_p50_ms: hang.errorP50Ms,
        hang_error_max_ms: hang.errorMaxMs,
        hang_handshake: `${hang.handshakeStatus}/${hang.handshakeMs}ms`,
        hang_recover_ms: hang.recoverMs,
        partial_state: roomChecks.filter((r) => !r.contiguous || !r.membersConsistent).length,
        gateway_errors: started.counts.errors + started.counts.timeouts,
        machine_delay_ms: machineDelayMs,
      },
      { ...options },
    );
    return { figures, machineDelayMs, lambdaTimeoutMs, phases, rooms: roomChecks, line };
  } finally {
    await traffic?.closeAll();
    await stack?.stop();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runRedisDownDrill({
      ...trafficArgs(args, { rooms: 6, members: 5, interval: 250 }),
      warmupMs: numberArg(args, 'warmup', 3) * 1000,
      outageMs: numberArg(args, 'outage', 10) * 1000,
      afterMs: numberArg(args, 'after', 10) * 1000,
    });
    return result.figures.lost === 0 && result.figures.duplicated === 0;
  });
}
