/**
 * What the cluster drills (drills/cluster-reshard.ts, drills/cluster-failover.ts) share: rooms placed on
 * chosen masters, the redirects the handlers' cluster client met (followed by ioredis, or handed to the
 * product as errors), the nodes' own error counters (`INFO errorstats`), a cluster client to read rooms,
 * and the current topology by port.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis, { Cluster } from 'ioredis';
import {
  type ClusterNode,
  clusterNodeOptions,
  keySlot,
  type LocalRedisCluster,
  parseClusterNodes,
  type TopologyEntry,
} from '../../local/redis-cluster';
import { type RedisProcess, startRedisServer } from '../../local/redis-server';
import { byReason, quantile } from './report';
import { roomState } from './room-state';
import { startDrillStack } from './stack';
import type { Traffic } from './traffic';

/** Redirect and migration replies of a Redis Cluster. */
export const REDIRECT_REPLIES = ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN', 'CROSSSLOT'] as const;
export type RedirectReply = (typeof REDIRECT_REPLIES)[number];
export type RedirectCounts = Record<RedirectReply, number>;

const zero = (): RedirectCounts => ({ MOVED: 0, ASK: 0, TRYAGAIN: 0, CLUSTERDOWN: 0, CROSSSLOT: 0 });

const replyOf = (message: string): RedirectReply | undefined =>
  REDIRECT_REPLIES.find((r) => message.startsWith(`${r} `) || message === r);

/** The slot of a room: all its keys share the hash tag `{ROOM}`. */
export function roomSlot(room: string): number {
  return keySlot(`room:{${room}}:state`);
}

/** `count` room names `PREFIX-N` whose slot a master (by its slots at start) serves. */
export function roomsOn(master: ClusterNode, count: number, prefix: string, taken = new Set<string>()) {
  const rooms: string[] = [];
  for (let i = 0; rooms.length < count; i++) {
    const room = `${prefix}-${i}`;
    const slot = roomSlot(room);
    if (taken.has(room) || !master.slots.some(([a, b]) => slot >= a && slot <= b)) continue;
    taken.add(room);
    rooms.push(room);
  }
  return rooms;
}

type HandleError = (
  error: Error,
  ttl: { value?: number },
  handlers: Record<string, (...args: unknown[]) => void>,
) => void;

interface ClusterInternals {
  connect: (...args: unknown[]) => Promise<void>;
  handleError: HandleError;
  pipeline: (...args: unknown[]) => {
    exec: (...args: unknown[]) => Promise<[Error | null, unknown][] | null>;
  };
}

/**
 * Watches every ioredis cluster client of this process (the handlers' one: the drill opens its own only
 * after `uninstall`): `followed` counts the redirect replies ioredis itself acted on (it sent the command
 * again where the reply said, after ASKING, or later for TRYAGAIN/CLUSTERDOWN), `toProduct` those handed
 * to the caller as errors: a pipeline's redirect, which ioredis does not re-send when another command of
 * the pipeline succeeded (the store's script + WAIT: the store refreshes the slot map and sends it again,
 * or answers `unavailable`), or the last one when the redirections ran out (answered `unavailable`).
 * Whether they were followed in the end shows in the members' answers: no `internal`, and every message
 * answered `unavailable` acknowledged once resent.
 */
export class RedirectWatch {
  readonly followed = zero();
  readonly toProduct = zero();
  /** The first few redirect errors handed to the caller, with where they came from. */
  readonly examples: string[] = [];
  /**
   * Cluster clients that connected in this process while installed: 0 when the functions run elsewhere
   * (worker threads, child processes), where this watch cannot see their redirects.
   */
  clients = 0;
  private readonly restore: () => void;

  private constructor() {
    const proto = Cluster.prototype as unknown as ClusterInternals;
    const { connect, handleError, pipeline } = proto;
    const watch = this;
    proto.connect = function (this: unknown, ...args: unknown[]) {
      watch.clients++;
      return connect.apply(this, args);
    };
    proto.handleError = function (this: unknown, error, ttl, handlers) {
      const reply = replyOf(error.message);
      if (!reply) return handleError.call(this, error, ttl, handlers);
      const wrapped = {
        ...handlers,
        maxRedirections: (...args: unknown[]) => {
          watch.toProduct[reply]++;
          watch.example(`too many redirections, last: ${error.message}`);
          handlers.maxRedirections?.(...args);
        },
      };
      // Counted when ioredis acts on it (the redirection budget not spent).
      const left = ttl.value === undefined ? Number.POSITIVE_INFINITY : ttl.value - 1;
      if (left > 0) watch.followed[reply]++;
      return handleError.call(this, error, ttl, wrapped);
    };
    proto.pipeline = function (this: unknown, ...args: unknown[]) {
      const p = pipeline.apply(this, args);
      const exec = p.exec;
      p.exec = async function (this: unknown, ...execArgs: unknown[]) {
        const replies = await exec.apply(this, execArgs);
        for (const [error] of replies ?? []) {
          const reply = error ? replyOf(error.message) : undefined;
          if (reply) {
            watch.toProduct[reply]++;
            watch.example(`pipeline: ${error?.message}`);
          }
        }
        return replies;
      };
      return p;
    };
    this.restore = () => {
      proto.connect = connect;
      proto.handleError = handleError;
      proto.pipeline = pipeline;
    };
  }

  private example(text: string): void {
    // The first five and the last five.
    if (this.examples.length >= 10) this.examples.splice(5, 1);
    this.examples.push(`${new Date().toISOString().slice(11, 23)} ${text}`);
  }

  static install(): RedirectWatch {
    return new RedirectWatch();
  }

  uninstall(): void {
    this.restore();
  }

  /** `key:value,…` of `counts`, or `n/a` when no cluster client of this process was watched. */
  text(counts: RedirectCounts): string {
    return this.clients === 0 ? 'n/a' : countsText(counts);
  }
}

function admin(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    connectTimeout: 1000,
    commandTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  client.on('error', () => undefined);
  return client;
}

/** Runs `fn` with a direct admin connection to 127.0.0.1:`port`, closed after. */
export async function withNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = admin(port);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** `INFO errorstats` of the nodes that answer, the redirect replies summed (`errorstat_MOVED:count=N`). */
export async function errorStats(ports: number[]): Promise<RedirectCounts> {
  const total = zero();
  for (const port of ports) {
    const text = await withNode(port, (c) => c.info('errorstats')).catch(() => '');
    for (const reply of REDIRECT_REPLIES) {
      const match = new RegExp(`^errorstat_${reply}:count=(\\d+)`, 'm').exec(text);
      total[reply] += Number(match?.[1] ?? 0);
    }
  }
  return total;
}

/** CONFIG RESETSTAT on the nodes that answer (errorstats and commandstats start from zero). */
export async function resetStats(ports: number[]): Promise<void> {
  for (const port of ports) await withNode(port, (c) => c.call('CONFIG', 'RESETSTAT')).catch(() => undefined);
}

/** The topology as the node at `port` sees it (CLUSTER NODES). */
export async function topologyFrom(port: number): Promise<TopologyEntry[]> {
  return withNode(port, async (c) => parseClusterNodes(String(await c.call('CLUSTER', 'NODES'))));
}

/** The master serving `slot` now, as the cluster's first answering node sees it. */
export async function currentMasterOf(cluster: LocalRedisCluster, slot: number): Promise<TopologyEntry> {
  const found = (await cluster.topology()).find(
    (e) =>
      e.role === 'master' &&
      !e.flags.includes('fail') &&
      e.slots.some(([first, last]) => slot >= first && slot <= last),
  );
  if (!found) throw new Error(`no master serves slot ${slot}`);
  return found;
}

/** A cluster client for the drill's own reads (room state), seeded from every master at start. */
export function inspector(cluster: LocalRedisCluster): Cluster {
  const client = new Cluster(
    cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      redisOptions: { connectTimeout: 1000, commandTimeout: 3000 },
      slotsRefreshTimeout: 2000,
      clusterRetryStrategy: (times) => (times > 5 ? null : 200),
    },
  );
  client.on('error', () => undefined);
  return client;
}

/** The options a cluster node of local/redis-cluster.ts runs with (to start it again in its directory). */
export function clusterNodeArgs(nodeTimeoutMs: number, dir: string): string[] {
  return [
    ...clusterNodeOptions(nodeTimeoutMs),
    // After the starter's own --dir: the node's directory, with its nodes.conf (its id and epoch).
    '--dir',
    dir,
  ];
}

/**
 * Starts a killed node again on its port and in its directory, as ElastiCache replaces a failed node: it
 * comes back empty (no persistence) with its cluster identity, learns that its slots went to the
 * promoted replica and becomes that node's replica (a full sync).
 */
export function restartNode(node: ClusterNode, nodeTimeoutMs: number): Promise<RedisProcess> {
  return startRedisServer(clusterNodeArgs(nodeTimeoutMs, node.dir), { port: node.port });
}

/** SIGKILL (a crash: no shutdown, no failover handshake); resolves once the process is gone. */
export async function killNode(node: ClusterNode): Promise<void> {
  const child = node.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** `INFO replication` of a node as a map (empty when it does not answer). */
export async function replicationOf(port: number): Promise<Record<string, string>> {
  const text = await withNode(port, (c) => c.info('replication')).catch(() => '');
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Waits until `check` holds, polling every `everyMs`; throws after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** `key:value,…` of the non-zero counts, or `none`. */
export function countsText(counts: Record<string, number>): string {
  const cells = Object.entries(counts)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}:${v}`);
  return cells.join(',') || 'none';
}

/** Answers a member treats as the product failing (not a refusal to resend): `internal` and gateway errors. */
export function isInternal(reason: string): boolean {
  return reason === 'internal' || reason.startsWith('gateway:');
}

/**
 * The drill stack on a local cluster: one warm worker per function first, and few workers (cold starts
 * cost a 2-core machine's CPU), with the replica-ack settings of the drill.
 */
export function startClusterDrillStack(
  url: string,
  options: { minReplicaAcks: number; replicaAckTimeoutMs: number; inProcess?: boolean },
) {
  return startDrillStack({
    redisUrl: url,
    redisCluster: true,
    preload: true,
    maxConcurrency: 4,
    inProcess: options.inProcess ?? false,
    env: {
      MIN_REPLICA_ACKS: String(options.minReplicaAcks),
      REPLICA_ACK_TIMEOUT_MS: String(options.replicaAckTimeoutMs),
    },
  });
}

/** Rooms whose seq counter (read through `reader`) is below the highest seq acknowledged in its epoch. */
export async function countSeqCountersBehind(reader: Cluster, rooms: string[], t: Traffic): Promise<number> {
  let behind = 0;
  try {
    for (const room of rooms) {
      const state = await roomState(reader, room);
      const highest = Math.max(
        0,
        ...t.acks.filter((a) => a.room === room && a.epoch === state.epoch).map((a) => a.seq),
      );
      if (state.seq < highest) behind++;
    }
  } finally {
    reader.disconnect();
  }
  return behind;
}

/**
 * What the members' answers say: failed attempts by answer, the `internal` ones, the messages answered
 * `unavailable` at least once and how many of those were then acknowledged, and ack latency (from the
 * first attempt). With `internal` answers, what the gateway logged for them is printed.
 */
export function answerFigures(t: Traffic, gatewayLogs: string[]) {
  const failures = byReason(t.failureLog);
  const internal = t.failureLog.filter((f) => isInternal(f.reason)).length;
  const unavailableIds = new Set(
    t.failureLog.filter((f) => f.reason === 'unavailable' && f.clientMsgId).map((f) => f.clientMsgId),
  );
  const ackedIds = new Set(t.acks.map((a) => a.clientMsgId));
  const unavailableThenAcked = [...unavailableIds].filter((id) => ackedIds.has(id as string)).length;
  const latencies = t.acks.map((a) => a.ackAt - a.firstSentAt).sort((a, b) => a - b);
  // What the gateway logged for the failed invocations, so that the log says which it was.
  if (internal > 0)
    for (const l of gatewayLogs.filter((l) => / timeout \d+ms$| error \(/.test(l)))
      console.log(`[gateway] ${l}`);
  return {
    failures,
    internal,
    unavailableMessages: unavailableIds.size,
    unavailableThenAcked,
    ackP50Ms: quantile(latencies, 0.5),
    ackP99Ms: quantile(latencies, 0.99),
    ackMaxMs: latencies[latencies.length - 1] ?? 0,
  };
}
