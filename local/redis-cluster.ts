/**
 * A real Redis Cluster on this machine: `redis-server` processes on 127.0.0.1 (by default 3 masters and
 * 1 replica each), joined with `redis-cli --cluster create`, for `REDIS_CLUSTER=true npm run dev`, the
 * cluster test targets (handlers-cluster, integration-cluster), drills and benchmarks.
 *
 * Each node runs with `--cluster-enabled yes` in a temp dir of its own, without persistence (`--save ''`,
 * `--appendonly no`), a short `--cluster-node-timeout` (2 s by default, so a failover drill is quick) and
 * `--repl-diskless-sync-delay 0` (a replica syncs at once). A node's cluster bus listens on port + 10000,
 * so ports are picked below 55535 with both the port and its bus port free. `startRedisCluster` resolves
 * once every node reports `cluster_state:ok` and knows every other, every replica is online and every master
 * has had a write confirmed by its replicas (so `WAIT`, i.e. MIN_REPLICA_ACKS >= 1, works from the start).
 *
 * Command line: `npx tsx local/redis-cluster.ts [--masters 3] [--replicas 1] [--node-timeout 2000]` starts
 * one, prints its nodes and runs until Ctrl-C.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import Redis from 'ioredis';
import { portFree, REDIS_INSTALL_HINT, type RedisProcess, startRedisServer } from './redis-server';

/** A node's cluster bus port is its port plus this. */
export const CLUSTER_BUS_OFFSET = 10_000;
/** Data ports are picked in [MIN_CLUSTER_PORT, MAX_CLUSTER_PORT]: the bus port stays below 65535. */
export const MIN_CLUSTER_PORT = 20_000;
export const MAX_CLUSTER_PORT = 55_534;
export const CLUSTER_SLOTS = 16_384;

export type ClusterRole = 'master' | 'replica';

export interface ClusterNode {
  /** The node id (CLUSTER MYID). */
  id: string;
  host: string;
  port: number;
  busPort: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  role: ClusterRole;
  /** A replica's master (node id). */
  masterId?: string;
  /** A master's slot ranges, [first, last] inclusive. */
  slots: Array<[number, number]>;
  pid: number;
  process: ChildProcess;
  dir: string;
}

/** A node as CLUSTER NODES describes it now (roles change after a failover). */
export interface TopologyEntry {
  id: string;
  host: string;
  port: number;
  role: ClusterRole;
  masterId?: string;
  slots: Array<[number, number]>;
  /** Flags other than the role: fail, fail?, handshake, noaddr, myself… */
  flags: string[];
  connected: boolean;
}

export interface RedisClusterOptions {
  /** Masters (at least 3, as redis-cli requires; default 3). */
  masters?: number;
  /** Replicas of each master (default 1). */
  replicasPerMaster?: number;
  /** --cluster-node-timeout in ms (default 2000). */
  nodeTimeoutMs?: number;
  /** More redis-server options for every node. */
  extraArgs?: string[];
  /** How long the cluster may take to be ready, from the first start (default 60 s). */
  readyTimeoutMs?: number;
}

export interface LocalRedisCluster {
  /** The seed URL (the first master); any node would do as a seed. */
  url: string;
  /** Every master's URL. */
  seeds: string[];
  /** The nodes with their roles when the cluster was ready. */
  nodes: ClusterNode[];
  masters(): ClusterNode[];
  replicas(): ClusterNode[];
  /** The replicas of a master (by node or id) at start. */
  replicasOf(master: ClusterNode | string): ClusterNode[];
  /** The master serving a slot at start. */
  masterOfSlot(slot: number): ClusterNode;
  /** The master serving a key at start (hash tags honoured). */
  masterOfKey(key: string): ClusterNode;
  /** The current topology, read with CLUSTER NODES from the first node that answers. */
  topology(): Promise<TopologyEntry[]>;
  /**
   * Moves one slot, with its keys, from the master serving it now to `to` (a master), as
   * `redis-cli --cluster reshard` does: IMPORTING/MIGRATING, MIGRATE of its keys in batches (clients get
   * ASK meanwhile), then SETSLOT NODE on every master (clients get MOVED from then on). `whileMigrating`
   * runs after the first batch of keys has moved, before the slot is handed over. Updates `nodes` slots.
   */
  migrateSlot(
    slot: number,
    to: ClusterNode,
    options?: { keysPerBatch?: number; whileMigrating?: () => Promise<void> },
  ): Promise<void>;
  /** One line per master with its slots and replicas, for banners and logs. */
  describe(): string[];
  /** Stops every node (SIGTERM, then SIGKILL) and removes their directories. */
  stop(): Promise<void>;
}

/** Why a local cluster cannot start here (redis-server or redis-cli missing or too old), or undefined. */
export function clusterToolsMissing(): string | undefined {
  const version = (command: string) => {
    const result = spawnSync(command, ['--version'], { encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const server = version('redis-server');
  const cli = version('redis-cli');
  const missing = [server ? '' : 'redis-server', cli ? '' : 'redis-cli'].filter(Boolean);
  if (missing.length)
    return `a local Redis Cluster needs ${missing.join(' and ')} on PATH (${REDIS_INSTALL_HINT})`;
  const major = Number(/(\d+)\.\d+/.exec(cli ?? '')?.[1] ?? 0);
  if (major < 5) return `a local Redis Cluster needs redis-cli 5 or later (--cluster create), found "${cli}"`;
  return undefined;
}

// ---- key slots (CRC16/XMODEM mod 16384, as Redis Cluster computes them) -----------------------------

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The slot of a key: only the part inside the first non-empty `{…}` counts, when there is one. */
export function keySlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(hashed, 'utf8')) % CLUSTER_SLOTS;
}

// ---- CLUSTER NODES ------------------------------------------------------------------------------------

/** Parses CLUSTER NODES output (Redis 3 to 7 formats). */
export function parseClusterNodes(text: string): TopologyEntry[] {
  const entries: TopologyEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, address, flagList, master, , , , linkState, ...slotFields] = fields as string[];
    const hostPort = (address as string).split('@')[0] as string;
    const colon = hostPort.lastIndexOf(':');
    const flags = (flagList as string).split(',');
    const role: ClusterRole = flags.includes('slave') ? 'replica' : 'master';
    const slots: Array<[number, number]> = [];
    for (const field of slotFields) {
      if (field.startsWith('[')) continue; // a slot being migrated or imported
      const [first, last] = field.split('-').map(Number);
      if (first !== undefined && !Number.isNaN(first)) slots.push([first, last ?? first]);
    }
    entries.push({
      id: id as string,
      host: hostPort.slice(0, colon),
      port: Number(hostPort.slice(colon + 1)),
      role,
      ...(role === 'replica' && master && master !== '-' ? { masterId: master } : {}),
      slots,
      flags: flags.filter((f) => f !== 'master' && f !== 'slave'),
      connected: linkState === 'connected',
    });
  }
  return entries;
}

// ---- starting ---------------------------------------------------------------------------------------

/** A port in range with that port and its bus port free, clear of the ports in `taken`. */
async function pickPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const port = randomInt(MIN_CLUSTER_PORT, MAX_CLUSTER_PORT + 1);
    const bus = port + CLUSTER_BUS_OFFSET;
    if (taken.has(port) || taken.has(bus)) continue;
    if ((await portFree(port)) && (await portFree(bus))) return port;
  }
  throw new Error(
    `no free port pair (PORT and PORT+${CLUSTER_BUS_OFFSET}) found in ${MIN_CLUSTER_PORT}-${MAX_CLUSTER_PORT}`,
  );
}

function reserve(taken: Set<number>, port: number): void {
  taken.add(port);
  taken.add(port + CLUSTER_BUS_OFFSET);
}

/** Starts one cluster-enabled node; picks another port pair when the one picked was taken meanwhile. */
async function startNode(port: number, taken: Set<number>, args: string[]): Promise<RedisProcess> {
  let candidate = port;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServer(args, { port: candidate });
    } catch (error) {
      if (attempt >= 5 || !/address already in use|bind/i.test((error as Error).message)) throw error;
      candidate = await pickPort(taken);
      reserve(taken, candidate);
    }
  }
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}\n${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function adminClient(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 100,
  });
  client.on('error', () => undefined);
  return client;
}

/** The options every node of a local cluster runs with (also to start a killed node again). */
export function clusterNodeOptions(nodeTimeoutMs: number): string[] {
  return [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--repl-diskless-sync-delay',
    '0',
  ];
}

/** Starts the cluster; rejects (having stopped whatever it started) when it is not ready in time. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const masterCount = options.masters ?? 3;
  const perMaster = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  if (!Number.isInteger(masterCount) || masterCount < 3)
    throw new Error(
      `a Redis Cluster needs at least 3 masters (redis-cli --cluster create), not ${masterCount}`,
    );
  if (!Number.isInteger(perMaster) || perMaster < 0)
    throw new Error(`replicasPerMaster must be an integer >= 0, not ${perMaster}`);
  const missing = clusterToolsMissing();
  if (missing) throw new Error(missing);

  const total = masterCount * (1 + perMaster);
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < total; i++) {
    const port = await pickPort(taken);
    reserve(taken, port);
    ports.push(port);
  }
  const args = [...clusterNodeOptions(nodeTimeoutMs), ...(options.extraArgs ?? [])];
  const started = await Promise.allSettled(ports.map((port) => startNode(port, taken, args)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const admins = servers.map((s) => adminClient(s.port));
  try {
    const created = await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        String(perMaster),
        '--cluster-yes',
      ],
      Math.max(5000, deadline - Date.now()),
    );
    if (created.code !== 0 || !/All 16384 slots covered/.test(created.output))
      throw new Error(`redis-cli --cluster create failed (exit ${created.code}):\n${created.output.trim()}`);
    const topology = await waitUntilReady(admins, masterCount, perMaster, deadline);
    const nodes: ClusterNode[] = servers.map((server) => {
      const entry = topology.find((e) => e.port === server.port);
      if (!entry) throw new Error(`node 127.0.0.1:${server.port} is missing from CLUSTER NODES`);
      return {
        id: entry.id,
        host: '127.0.0.1',
        port: server.port,
        busPort: server.port + CLUSTER_BUS_OFFSET,
        url: server.url,
        role: entry.role,
        ...(entry.masterId ? { masterId: entry.masterId } : {}),
        slots: entry.slots,
        pid: server.process.pid as number,
        process: server.process,
        dir: server.dir,
      };
    });
    await confirmReplication(nodes, admins, perMaster, deadline);
    return clusterHandle(nodes, servers);
  } catch (error) {
    await stopAll();
    throw error;
  } finally {
    for (const admin of admins) admin.disconnect();
  }
}

/**
 * Waits until every node says cluster_state:ok with all slots served and every node known, sees the same
 * masters and replicas (no node flagged fail or in handshake), every master has its replicas online and
 * every replica's link is up. Returns the topology as the first node sees it.
 */
async function waitUntilReady(
  admins: Redis[],
  masterCount: number,
  perMaster: number,
  deadline: number,
): Promise<TopologyEntry[]> {
  const total = admins.length;
  let waitingFor = 'the first check';
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(
        admins.map(async (admin) => ({
          info: String(await admin.call('CLUSTER', 'INFO')),
          nodes: parseClusterNodes(String(await admin.call('CLUSTER', 'NODES'))),
          replication: await admin.info('replication'),
        })),
      );
      const problem = views
        .map((view, i) => {
          const port = admin(admins, i);
          if (!/cluster_state:ok/.test(view.info)) return `${port}: cluster_state not ok`;
          if (!new RegExp(`cluster_slots_ok:${CLUSTER_SLOTS}\\b`).test(view.info))
            return `${port}: not every slot ok`;
          if (!new RegExp(`cluster_known_nodes:${total}\\b`).test(view.info))
            return `${port}: does not know all ${total} nodes yet`;
          const masters = view.nodes.filter((n) => n.role === 'master');
          const replicas = view.nodes.filter((n) => n.role === 'replica');
          if (masters.length !== masterCount || replicas.length !== masterCount * perMaster)
            return `${port}: sees ${masters.length} masters and ${replicas.length} replicas`;
          const unsettled = view.nodes.find(
            (n) =>
              !n.connected ||
              n.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr'),
          );
          if (unsettled) return `${port}: node ${unsettled.port} is ${unsettled.flags.join(',')}`;
          const self = view.nodes.find((n) => n.flags.includes('myself'));
          if (self?.role === 'master') {
            const online = (view.replication.match(/^slave\d+:.*state=online/gm) ?? []).length;
            if (online < perMaster) return `${port}: ${online} of ${perMaster} replicas online`;
          } else if (!/master_link_status:up/.test(view.replication)) {
            return `${port}: replica link not up`;
          }
          return undefined;
        })
        .find(Boolean);
      if (!problem) return (views[0] as { nodes: TopologyEntry[] }).nodes;
      waitingFor = problem;
    } catch (error) {
      waitingFor = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`the local Redis Cluster was not ready in time: ${waitingFor}`);
}

function admin(admins: Redis[], i: number): string {
  const options = (admins[i] as Redis).options;
  return `127.0.0.1:${options.port}`;
}

/**
 * After a replica's initial sync its master counts it for WAIT only from its first REPLCONF ACK (sent
 * once a second): write a probe key in each master's slots until WAIT says every replica has it.
 */
async function confirmReplication(
  nodes: ClusterNode[],
  admins: Redis[],
  perMaster: number,
  deadline: number,
): Promise<void> {
  if (perMaster === 0) return;
  await Promise.all(
    nodes
      .filter((n) => n.role === 'master')
      .map(async (master) => {
        const client = admins[nodes.indexOf(master)] as Redis;
        const key = probeKey(master);
        try {
          for (let i = 0; ; i++) {
            await client.set(key, String(i));
            if (Number(await client.call('WAIT', perMaster, 100)) >= perMaster) return;
            if (Date.now() > deadline)
              throw new Error(`the replicas of 127.0.0.1:${master.port} never confirmed a write`);
          }
        } finally {
          await client.del(key).catch(() => undefined);
        }
      }),
  );
}

function probeKey(master: ClusterNode): string {
  for (let i = 0; ; i++) {
    const key = `cluster-probe:{${i}}`;
    const slot = keySlot(key);
    if (master.slots.some(([first, last]) => slot >= first && slot <= last)) return key;
  }
}

function withoutSlot(ranges: Array<[number, number]>, slot: number): Array<[number, number]> {
  return ranges.flatMap(([first, last]): Array<[number, number]> => {
    if (slot < first || slot > last) return [[first, last]];
    const parts: Array<[number, number]> = [];
    if (slot > first) parts.push([first, slot - 1]);
    if (slot < last) parts.push([slot + 1, last]);
    return parts;
  });
}

function withSlot(ranges: Array<[number, number]>, slot: number): Array<[number, number]> {
  const merged: Array<[number, number]> = [];
  for (const [first, last] of [...ranges, [slot, slot] as [number, number]].sort((a, b) => a[0] - b[0])) {
    const previous = merged[merged.length - 1];
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged;
}

function clusterHandle(nodes: ClusterNode[], servers: RedisProcess[]): LocalRedisCluster {
  const masters = () => nodes.filter((n) => n.role === 'master');
  const replicasOf = (master: ClusterNode | string) => {
    const id = typeof master === 'string' ? master : master.id;
    return nodes.filter((n) => n.role === 'replica' && n.masterId === id);
  };
  const masterOfSlot = (slot: number) => {
    const found = masters().find((m) => m.slots.some(([first, last]) => slot >= first && slot <= last));
    if (!found) throw new Error(`no master serves slot ${slot}`);
    return found;
  };
  let stopping: Promise<void> | undefined;
  const first = masters()[0] as ClusterNode;
  return {
    url: first.url,
    seeds: masters().map((m) => m.url),
    nodes,
    masters,
    replicas: () => nodes.filter((n) => n.role === 'replica'),
    replicasOf,
    masterOfSlot,
    masterOfKey: (key) => masterOfSlot(keySlot(key)),
    async topology() {
      const errors: string[] = [];
      for (const node of nodes) {
        const client = adminClient(node.port);
        try {
          return parseClusterNodes(String(await client.call('CLUSTER', 'NODES')));
        } catch (error) {
          errors.push(`${node.port}: ${(error as Error).message}`);
        } finally {
          client.disconnect();
        }
      }
      throw new Error(`no cluster node answered CLUSTER NODES (${errors.join('; ')})`);
    },
    async migrateSlot(slot, to, options = {}) {
      const from = masterOfSlot(slot);
      if (to.role !== 'master') throw new Error(`127.0.0.1:${to.port} is not a master`);
      if (from.id === to.id) return;
      const source = adminClient(from.port);
      const target = adminClient(to.port);
      const others = masters()
        .filter((m) => m.id !== from.id && m.id !== to.id)
        .map((m) => adminClient(m.port));
      try {
        await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
        await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
        let first = true;
        for (;;) {
          const keys = (await source.call(
            'CLUSTER',
            'GETKEYSINSLOT',
            slot,
            options.keysPerBatch ?? 100,
          )) as string[];
          if (keys.length === 0) break;
          await source.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'REPLACE', 'KEYS', ...keys);
          if (first) await options.whileMigrating?.();
          first = false;
        }
        if (first) await options.whileMigrating?.();
        // The target first, then the source, then the others (the order redis-cli uses).
        for (const client of [target, source, ...others])
          await client.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      } finally {
        for (const client of [source, target, ...others]) client.disconnect();
      }
      from.slots = withoutSlot(from.slots, slot);
      to.slots = withSlot(to.slots, slot);
    },
    describe() {
      return masters().map((m) => {
        const slots = m.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
        const replicas = replicasOf(m)
          .map((r) => `replica 127.0.0.1:${r.port} (pid ${r.pid})`)
          .join(', ');
        return `master 127.0.0.1:${m.port} (pid ${m.pid}) slots ${slots}${replicas ? `; ${replicas}` : ''}`;
      });
    },
    stop() {
      stopping ??= Promise.all(servers.map((s) => s.stop())).then(() => undefined);
      return stopping;
    },
  };
}

// ---- command line -------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const option = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  if (argv.includes('--help')) {
    console.log('usage: tsx local/redis-cluster.ts [--masters 3] [--replicas 1] [--node-timeout 2000]');
    return;
  }
  const started = Date.now();
  const cluster = await startRedisCluster({
    masters: option('masters'),
    replicasPerMaster: option('replicas'),
    nodeTimeoutMs: option('node-timeout'),
  });
  console.log(
    [
      `Local Redis Cluster ready in ${Date.now() - started} ms.`,
      ...cluster.describe().map((line) => `  ${line}`),
      '',
      `  REDIS_URL=${cluster.url} REDIS_CLUSTER=true npm run dev`,
      '',
      'Ctrl-C stops it.',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    // A second signal does not wait: the exit hook of local/redis-server.ts still kills the nodes.
    if (stopping) process.exit(130);
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
