/**
 * Drill 1: a Redis primary failover while members exchange a steady stream of messages.
 *
 * Two redis-server processes (a primary and a replica with `--replicaof`) and a TCP proxy standing for
 * the ElastiCache primary endpoint (the functions' REDIS_URL). A failover does what ElastiCache does on
 * TestFailover: writes on the primary pause, the replica catches up to the primary's replication offset,
 * the replica is promoted (`REPLICAOF NO ONE`), the endpoint is repointed, the old primary becomes a
 * replica of the new one (it answers READONLY to writes), writes resume. Failovers alternate between two
 * ways clients meet it: `readonly` (connections to the old node are kept: paused writes get READONLY,
 * the client reconnects and resends) and `reset` (the endpoint drops every connection to the old node).
 *
 * Long form: `npm run drill:failover:local -- --rooms 8 --members 6 --interval 200 --failovers 6 --gap 5`
 * (`--min-replica-acks 1`: acks wait for the replica, which is the node promoted at the next failover).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { numberArg, parseArgs, runMain, trafficArgs } from './support/args';
import { type FailoverEvent, type FailoverTrigger, runFailovers } from './support/failover-run';
import { RedisNode, waitFor } from './support/redis-node';
import { report, trafficColumns } from './support/report';
import { roomState } from './support/room-state';
import { startDrillStack } from './support/stack';
import { TcpProxy } from './support/tcp-proxy';
import { Traffic, type TrafficFigures } from './support/traffic';

export interface FailoverDrillOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Traffic before the first failover, between failovers and after the last (ms). */
  warmupMs: number;
  gapMs: number;
  failovers: number;
  /** Acknowledged messages the warmup and each gap need at least (a busy machine runs them longer). */
  warmupAcks?: number;
  gapAcks?: number;
  phaseTimeoutMs?: number;
  /** MIN_REPLICA_ACKS of the functions (default: the local default, 0). */
  minReplicaAcks?: number;
}

export const FAILOVER_SHORT: FailoverDrillOptions = {
  rooms: 4,
  membersPerRoom: 5,
  intervalMs: 250,
  warmupMs: 2000,
  gapMs: 3000,
  failovers: 2,
  // 50 + 2 x 40: the short form's floor is 100 acknowledged messages.
  warmupAcks: 50,
  gapAcks: 40,
  phaseTimeoutMs: 30_000,
};

export interface FailoverTimings {
  mode: 'readonly' | 'reset';
  startedAt: number;
  /** Writes paused on the old primary until they resumed on the new one. */
  writePauseMs: number;
  /** Replication offset the replica had to reach. */
  offset: number;
  /** Proxied connections reset. */
  dropped: number;
}

export interface FailoverDrillResult {
  figures: TrafficFigures;
  failovers: FailoverTimings[];
  /** Worst, over the failovers, time from the failover's start to the first ack of a later attempt. */
  recoverMs: number | undefined;
  /** Worst time until every sender was acknowledged again after its last failure. */
  allRecoveredMs: number | undefined;
  /** A first-attempt ack's latency, 90th percentile: what this machine adds to any request. */
  machineDelayMs: number;
  /** Per room: the new primary's seq counter is at least the highest acknowledged seq. */
  seqCountersIntact: boolean;
  line: string;
}

async function offsetOf(node: RedisNode, field: string): Promise<number> {
  return Number((await node.replication())[field] ?? Number.NaN);
}

/** Promotes `replica` over `primary` as ElastiCache's TestFailover does; see the file comment. */
export async function failover(
  primary: RedisNode,
  replica: RedisNode,
  proxy: TcpProxy,
  mode: FailoverTimings['mode'],
): Promise<FailoverTimings> {
  const startedAt = Date.now();
  await primary.admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
  let offset = 0;
  await waitFor(
    async () => {
      offset = await offsetOf(primary, 'master_repl_offset');
      return (await offsetOf(replica, 'slave_repl_offset')) >= offset;
    },
    'the replica reaching the primary replication offset',
    5000,
    5,
  );
  await replica.admin.call('REPLICAOF', 'NO', 'ONE');
  const target = { host: '127.0.0.1', port: replica.port };
  let dropped = proxy.repoint(target, { keepExisting: mode === 'readonly' });
  await primary.admin.call('REPLICAOF', '127.0.0.1', String(replica.port));
  await primary.admin.call('CLIENT', 'UNPAUSE');
  const writePauseMs = Date.now() - startedAt;
  if (mode === 'readonly') {
    // Writes queued on the old node now get READONLY and move; then what still points there is reset.
    await sleep(200);
    dropped += proxy.dropStale();
  }
  return { mode, startedAt, writePauseMs, offset, dropped };
}

/** The local trigger: two redis-server processes behind the proxy, swapping roles at each failover. */
class LocalProxyTrigger implements FailoverTrigger {
  readonly name = 'the local primary (TCP proxy over two redis-server processes)';
  readonly timings: FailoverTimings[] = [];
  constructor(
    public primary: RedisNode,
    public replica: RedisNode,
    private readonly proxy: TcpProxy,
  ) {}

  async ready(): Promise<void> {
    await waitFor(
      async () => (await this.replica.replication()).master_link_status === 'up',
      'the replica linked to the primary',
      10_000,
    );
  }

  async failover(index: number): Promise<FailoverEvent> {
    const t = await failover(this.primary, this.replica, this.proxy, index % 2 === 0 ? 'readonly' : 'reset');
    this.timings.push(t);
    [this.primary, this.replica] = [this.replica, this.primary];
    return {
      startedAt: t.startedAt,
      completedAt: t.startedAt + t.writePauseMs,
      detail: { mode: t.mode, write_pause_ms: t.writePauseMs, resets: t.dropped },
    };
  }
}

export async function runFailoverDrill(options: FailoverDrillOptions): Promise<FailoverDrillResult> {
  const nodes: RedisNode[] = [];
  let proxy: TcpProxy | undefined;
  let stack: Awaited<ReturnType<typeof startDrillStack>> | undefined;
  let traffic: Traffic | undefined;
  try {
    const a = await RedisNode.start();
    nodes.push(a);
    const b = await RedisNode.start({ args: ['--replicaof', '127.0.0.1', String(a.port)] });
    nodes.push(b);
    await waitFor(async () => (await b.replication()).master_link_status === 'up', 'replica link up', 10_000);
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: a.port });
    const started = await startDrillStack({
      redisUrl: proxy.url,
      env: options.minReplicaAcks === undefined ? {} : { MIN_REPLICA_ACKS: String(options.minReplicaAcks) },
    });
    stack = started;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `failover-${i}`);
    traffic = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    const trigger = new LocalProxyTrigger(a, b, proxy);
    const run = await runFailovers(traffic, trigger, options);
    if (process.env.DRILL_DEBUG) console.log(JSON.stringify(traffic.failureLog));
    const timings = trigger.timings;
    let seqCountersIntact = true;
    for (const room of rooms) {
      const counter = (await roomState(trigger.primary.admin, room)).seq;
      const highest = Math.max(0, ...(traffic.acked.get(room)?.keys() ?? []));
      if (counter < highest) seqCountersIntact = false;
    }
    const { figures, recoverMs, allRecoveredMs } = run;
    const line = report(
      options.minReplicaAcks ? 'failover-replica-acks' : 'failover',
      {
        min_replica_acks: options.minReplicaAcks ?? 0,
        ...trafficColumns(figures, recoverMs),
        failovers: timings.length,
        write_pause_ms: Math.max(...timings.map((t) => t.writePauseMs)),
        all_recovered_ms: allRecoveredMs,
        proxied_resets: timings.reduce((n, t) => n + t.dropped, 0),
        seq_counters_intact: seqCountersIntact,
        machine_delay_ms: traffic.machineDelayMs(),
      },
      { ...options },
    );
    const machineDelayMs = traffic.machineDelayMs();
    return {
      figures,
      failovers: timings,
      recoverMs,
      allRecoveredMs,
      machineDelayMs,
      seqCountersIntact,
      line,
    };
  } finally {
    await traffic?.closeAll();
    await stack?.stop();
    await proxy?.close();
    for (const node of nodes) await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runFailoverDrill({
      ...trafficArgs(args, { rooms: 8, members: 6, interval: 200 }),
      warmupMs: numberArg(args, 'warmup', 3) * 1000,
      gapMs: numberArg(args, 'gap', 5) * 1000,
      failovers: numberArg(args, 'failovers', 6),
      minReplicaAcks: numberArg(args, 'min-replica-acks', 0),
    });
    return result.figures.lost === 0 && result.figures.duplicated === 0 && result.seqCountersIntact;
  });
}
