/**
 * Issue 14 in `npm run bench` [7]: sendMessage on a Redis Cluster. A local cluster of 3 masters with one
 * replica each (local/redis-cluster.ts), the real sendMessage handler loaded twice with REDIS_CLUSTER=true
 * (ioredis' cluster client seeded from one node), as two warm containers: MIN_REPLICA_ACKS=0 and
 * MIN_REPLICA_ACKS=1 (the send script and WAIT pipelined to the room's master). In a room of 30 on each
 * master, each instance sends; measured:
 *
 *   - round trips per send: the socket writes of the handler's cluster client over all its node
 *     connections while one send runs (a pipeline is one write; a command sent to the wrong master and
 *     redirected would be two). Sends answered `unavailable` first (WAIT timed out on a busy machine) are
 *     left out: their resend is a second round trip by design;
 *   - where they went: MONITOR on every node, the commands of that client only: the script (and WAIT) on
 *     the room's master, nothing on the other masters or the replicas.
 *
 * `--check`: 1 round trip per send either way, every script on its room's master.
 */
import type { Socket } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { Cluster } from 'ioredis';
import { RemoteManagementApi } from '../local/management-api';
import { type ClusterNode, keySlot, type LocalRedisCluster, startRedisCluster } from '../local/redis-cluster';
import { lambdaContext, type TestCaller } from '../test/support/events';
import { countWrites, type MonitorLine, nodeConnections, watchCommands } from '../test/support/monitor';
import type { Figures } from './lib/results';
import { BENCH_HANDLER_ENV, chatEvent, memberMaker, seedRoom } from './lib/rooms';
import { median, percentile, timeMs } from './lib/stats';
import { CONFIRMED_ENV, type Instance, loadInstance } from './replica';

export interface ClusterBenchOptions {
  figures: Figures;
  quick: boolean;
}

/** Members of each room (a class: the sender and 29 recipients). */
export const CLUSTER_ROOM_SIZE = 30;
/** Redis round trips per sendMessage on a cluster (--check), with and without replica-confirmed acks. */
export const CLUSTER_ROUNDTRIPS_TARGET = 1;

const member = memberMaker('c');

/** A room name whose keys (hash tag `{ROOM}`) live in a slot `master` serves. */
function roomOn(master: ClusterNode, prefix: string): string {
  for (let i = 0; ; i++) {
    const room = `${prefix}-${i}`;
    const slot = keySlot(`room:{${room}}:state`);
    if (master.slots.some(([a, b]) => slot >= a && slot <= b)) return room;
  }
}

interface Mode {
  instance: Instance;
  /** One room per master. */
  rooms: { master: ClusterNode; members: TestCaller[]; attempts: number }[];
  ack: number[];
  writes: number[];
  unavailable: number;
}

export async function runClusterBenches({ figures, quick }: ClusterBenchOptions): Promise<void> {
  const cluster: LocalRedisCluster = await startRedisCluster();
  const api = new RemoteManagementApi();
  const common: Record<string, string> = {
    MANAGEMENT_ENDPOINT: await api.start(),
    ...BENCH_HANDLER_ENV,
  };
  const savedEnv = Object.fromEntries(Object.keys(common).map((k) => [k, process.env[k]]));
  // The handlers read MANAGEMENT_ENDPOINT on their first post: keep the common part for the whole run.
  Object.assign(process.env, common);
  const instances: Instance[] = [];
  const setup = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]?.port as number }], {
    enableAutoPipelining: true,
  });
  setup.on('error', () => undefined);
  try {
    const clusterEnv = { REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' };
    const unconfirmed = await loadInstance('unconfirmed', { ...clusterEnv, MIN_REPLICA_ACKS: '0' });
    instances.push(unconfirmed);
    const confirmed = await loadInstance('confirmed', { ...clusterEnv, ...CONFIRMED_ENV });
    instances.push(confirmed);
    if (unconfirmed.shared === confirmed.shared) throw new Error('the two layer instances are the same');
    const store = new unconfirmed.shared.RoomStore(setup, unconfirmed.shared.roomSettings());
    const makeRoom = async (master: ClusterNode, prefix: string) => {
      const roomId = roomOn(master, `${prefix}-${master.port}`);
      const members = await seedRoom(store, roomId, CLUSTER_ROOM_SIZE, member);
      return { master, members, attempts: 0 };
    };
    const modes: Mode[] = [];
    for (const instance of [unconfirmed, confirmed]) {
      const rooms = [];
      for (const master of cluster.masters()) rooms.push(await makeRoom(master, `rt-${instance.label}`));
      modes.push({ instance, rooms, ack: [], writes: [], unavailable: 0 });
    }
    console.log(
      `  sendMessage on a local Redis Cluster (${cluster.masters().length} masters + 1 replica each), rooms of ${CLUSTER_ROOM_SIZE}, one per master; MIN_REPLICA_ACKS=0 and ${CONFIRMED_ENV.MIN_REPLICA_ACKS}`,
    );

    let msg = 0;
    /** One send until its ack (an `unavailable` answer is resent with the same clientMsgId); its attempts. */
    const send = async (mode: Mode, room: Mode['rooms'][number], i: number) => {
      const caller = room.members[i % room.members.length] as TestCaller;
      const event = chatEvent(caller, `k${++msg}`);
      const posts = await api.postCount();
      let attempts = 0;
      const ms = await timeMs(async () => {
        for (;;) {
          attempts++;
          room.attempts++;
          const result: APIGatewayProxyResult = await mode.instance.send(event, lambdaContext('sendMessage'));
          const frame = JSON.parse(result.body || '{}') as { type?: string; code?: string };
          if (frame.type === 'ack') return;
          if (frame.code !== 'unavailable' || attempts >= 5)
            throw new Error(`sendMessage answered ${result.body}`);
          mode.unavailable++;
        }
      });
      const got = (await api.postCount()) - posts;
      if (got !== CLUSTER_ROOM_SIZE - 1)
        throw new Error(`expected ${CLUSTER_ROOM_SIZE - 1} posts, got ${got}`);
      return { ms, attempts };
    };

    // Warm: scripts loaded on every master (the first EVALSHA there is NOSCRIPT, then EVAL), slot map known.
    for (const mode of modes)
      for (const room of mode.rooms) for (let i = 0; i < 3; i++) await send(mode, room, i);
    for (const mode of modes) for (const room of mode.rooms) room.attempts = 0;

    const count = quick ? 10 : 30;
    const placement: { mode: Mode; lines: Map<number, MonitorLine[]> }[] = [];
    for (const mode of modes) {
      const client = await mode.instance.shared.getRedis();
      // MONITOR on every node this client is connected to (every master, after a ping to each), its lines only.
      const connections = await nodeConnections(client);
      const monitors = await Promise.all(
        connections.map(async (c) => ({
          port: Number(new URL(c.url).port),
          source: `${(c.stream as Socket).localAddress}:${(c.stream as Socket).localPort}`,
          monitor: await watchCommands(c.url),
        })),
      );
      for (let i = 0; i < count; i++) {
        for (const room of mode.rooms) {
          let outcome = { ms: 0, attempts: 0 };
          const writes = await countWrites(client, async () => {
            outcome = await send(mode, room, i);
          });
          if (outcome.attempts === 1) {
            mode.writes.push(writes);
            mode.ack.push(outcome.ms);
          }
        }
      }
      const lines = new Map<number, MonitorLine[]>();
      for (const m of monitors) {
        const seen = (await m.monitor.stop()).filter((l) => l.source === m.source && l.command !== 'ping');
        lines.set(m.port, seen);
      }
      placement.push({ mode, lines });
    }

    // Where the commands went: per master, the scripts (and WAITs) of its room's sends, nothing elsewhere.
    const misplaced: string[] = [];
    for (const { mode, lines } of placement) {
      const confirming = mode.instance.label === 'confirmed';
      for (const room of mode.rooms) {
        const on = lines.get(room.master.port) ?? [];
        const scripts = on.filter((l) => l.command === 'evalsha' || l.command === 'eval').length;
        const waits = on.filter((l) => l.command === 'wait').length;
        if (scripts !== room.attempts || waits !== (confirming ? room.attempts : 0))
          misplaced.push(
            `${mode.instance.label} 127.0.0.1:${room.master.port}: ${scripts} scripts and ${waits} WAITs for ${room.attempts} sends`,
          );
      }
      for (const [port, on] of lines) {
        const owner = mode.rooms.some((r) => r.master.port === port);
        if (!owner && on.length > 0)
          misplaced.push(
            `${mode.instance.label} 127.0.0.1:${port}: ${on.length} commands (${on[0]?.command}…)`,
          );
      }
    }
    for (const line of misplaced) console.error(`  cluster placement: ${line}`);

    const [u, c] = modes as [Mode, Mode];
    const per = (m: Mode) => m.writes.reduce((a, b) => a + b, 0) / Math.max(1, m.writes.length);
    const masters = cluster.masters().length;
    figures.add(
      'roundtrips_per_send_cluster',
      per(u),
      'round trips',
      `per sendMessage on a ${masters}-master Redis Cluster (REDIS_CLUSTER=true, MIN_REPLICA_ACKS=0): socket writes of the handler's cluster client over all its node connections, ${u.writes.length} sends in rooms on every master; MONITOR: each EVALSHA on the room's master only`,
    );
    figures.add(
      'roundtrips_per_send_cluster_confirmed',
      per(c),
      'round trips',
      `same with MIN_REPLICA_ACKS=1 (EVALSHA + WAIT pipelined to the room's master), ${c.writes.length} sends acked at once (${c.unavailable} unavailable first, resent, left out)`,
    );
    figures.add(
      'ack_p50_ms_cluster',
      median(u.ack),
      'ms',
      `sendMessage handler until its ack on the cluster, room of ${CLUSTER_ROOM_SIZE}, MIN_REPLICA_ACKS=0; p99 ${percentile(u.ack, 99).toFixed(2)}`,
    );
    figures.add(
      'ack_p50_ms_cluster_confirmed',
      median(c.ack),
      'ms',
      `same, MIN_REPLICA_ACKS=1; p99 ${percentile(c.ack, 99).toFixed(2)}`,
    );
    const pass =
      u.writes.length > 0 &&
      c.writes.length > 0 &&
      u.writes.every((w) => w === CLUSTER_ROUNDTRIPS_TARGET) &&
      c.writes.every((w) => w === CLUSTER_ROUNDTRIPS_TARGET) &&
      misplaced.length === 0;
    figures.add(
      'cluster_roundtrips_pass',
      pass,
      'bool',
      `every sendMessage on the cluster in ${CLUSTER_ROUNDTRIPS_TARGET} Redis round trip, MIN_REPLICA_ACKS=0 and 1, its script on the room's master${misplaced.length ? `; ${misplaced.join('; ')}` : ''}`,
    );
  } finally {
    for (const instance of instances) await instance.shared.closeRedis();
    setup.disconnect();
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await api.stop();
    await cluster.stop();
  }
}
