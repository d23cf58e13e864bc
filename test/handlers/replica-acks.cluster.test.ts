/**
 * Replica-confirmed acks (SPEC §5) on a Redis Cluster, MIN_REPLICA_ACKS=1: the send script and `WAIT 1`
 * are pipelined to the master that serves the room's slot, so a write is confirmed by that master's own
 * replica. A master whose replica stops answering refuses its rooms' sends with `unavailable` while the
 * rooms on the other masters go on being acked; the resend completes once. Also a full master (OOM under
 * noeviction) refuses only its own rooms.
 *
 * Cluster target only (jest project handlers-cluster). This file starts a cluster of its own (3 masters,
 * 1 replica each): it stops a replica's process (SIGSTOP) and shrinks a master's maxmemory, which must not
 * disturb the run's shared cluster. The standalone form of these tests is replica-acks.test.ts.
 */
import { getRedis } from '@classroom/shared';
import Redis from 'ioredis';
import {
  type ClusterNode,
  keySlot,
  type LocalRedisCluster,
  startRedisCluster,
} from '../../local/redis-cluster';
import type { TestCaller } from '../support/events';
import { Harness } from '../support/harness';
import { countWrites } from '../support/monitor';
import {
  expectTransientNotWaiting,
  expectUnconfirmedPublishRetried,
  loadPublish,
  type Publish,
  REPLICA_ACK_ENV,
  sendChat,
} from '../support/replica-acks';

const h = new Harness();
let cluster: LocalRedisCluster;
const admins = new Map<number, Redis>();
/** Replicas stopped by a test (continued in afterEach). */
const stopped = new Set<ClusterNode>();
let publish: Publish;

/** A direct connection to one node (READONLY on a replica, so it serves reads of its master's slots). */
async function admin(node: ClusterNode): Promise<Redis> {
  let client = admins.get(node.port);
  if (!client) {
    client = new Redis(node.url);
    if (node.role === 'replica') await client.call('READONLY');
    admins.set(node.port, client);
  }
  return client;
}

/** A room id whose keys live on `master`. */
function roomOn(master: ClusterNode): string {
  for (;;) {
    const room = h.room();
    if (cluster.masterOfKey(`room:{${room}}:state`).id === master.id) return room;
  }
}

function replicaOf(master: ClusterNode): ClusterNode {
  const [replica] = cluster.replicasOf(master);
  if (!replica) throw new Error(`master ${master.port} has no replica`);
  return replica;
}

/** The replica of `master` stops answering (its process stopped): its master's WAIT counts no replica. */
function cutReplica(master: ClusterNode): void {
  const replica = replicaOf(master);
  process.kill(replica.pid, 'SIGSTOP');
  stopped.add(replica);
}

/** Continues the replica and waits until its master's WAIT counts it again (a probe in one of its rooms). */
async function rejoinReplica(master: ClusterNode): Promise<void> {
  const replica = replicaOf(master);
  process.kill(replica.pid, 'SIGCONT');
  stopped.delete(replica);
  const key = `room:{${roomOn(master)}}:probe`;
  const client = await admin(master);
  try {
    for (let i = 0; i < 100; i++) {
      await client.set(key, String(i));
      if (Number(await client.call('WAIT', 1, 100)) >= 1) return;
    }
    throw new Error(`the replica of ${master.port} never confirmed a write after it was continued`);
  } finally {
    await client.del(key);
  }
}

beforeAll(async () => {
  // The default node timeout (2 s) is above a test's pause of a replica (about 0.6 s: one or two WAIT
  // timeouts), so the cluster does not flag it failing meanwhile; a longer one would slow the start.
  cluster = await startRedisCluster();
  await h.start({
    REDIS_URL: cluster.url,
    REDIS_CLUSTER: 'true',
    ...REPLICA_ACK_ENV,
  });
  publish = await loadPublish();
}, 60_000);
afterAll(async () => {
  for (const replica of stopped) process.kill(replica.pid, 'SIGCONT');
  await h.stop();
  for (const client of admins.values()) client.disconnect();
  await cluster?.stop();
});
beforeEach(() => h.api.reset());
afterEach(async () => {
  for (const master of cluster.masters()) {
    await (await admin(master)).config('SET', 'maxmemory', '0');
    if (stopped.has(replicaOf(master))) await rejoinReplica(master);
  }
});

const send = (caller: TestCaller, data: unknown, clientMsgId?: string) =>
  sendChat(h, caller, data, clientMsgId);

async function pair(room: string): Promise<[TestCaller, TestCaller]> {
  return [await h.join(h.caller(room, 'ann')), await h.join(h.caller(room, 'bob'))];
}

describe('Replica-confirmed acks on a Redis Cluster (WAIT per master)', () => {
  it("acks a send on every master once that master's replica has it, in one round trip", async () => {
    for (const master of cluster.masters()) {
      // Prepare
      const room = roomOn(master);
      const [ann, bob] = await pair(room);
      await send(ann, 'warm-up');
      h.api.reset();
      // Act
      let ack: Record<string, unknown> | undefined;
      const writes = await countWrites(await getRedis(), async () => {
        ack = await send(ann, 'confirmed', 'c1');
      });
      // Assess
      expect({ master: master.port, writes, ack }).toEqual({
        master: master.port,
        writes: 1,
        ack: expect.objectContaining({ type: 'ack', clientMsgId: 'c1', seq: 2 }),
      });
      expect(h.api.framesTo(bob.connectionId).map((f) => f.seq)).toEqual([2]);
      const onReplica = await (await admin(replicaOf(master))).zrangebyscore(`room:{${room}}:log`, 2, 2);
      expect(onReplica).toHaveLength(1);
    }
  });

  it('refuses sends in the rooms of a master whose replica is gone, acks the other masters’ rooms; the resend completes once', async () => {
    // Prepare
    const [cut, other] = cluster.masters() as [ClusterNode, ClusterNode];
    const [annCut, bobCut] = await pair(roomOn(cut));
    const [annOther, bobOther] = await pair(roomOn(other));
    const first = await send(annCut, 'before', 'p0');
    cutReplica(cut);
    h.api.reset();
    // Act
    const refused = await send(annCut, 'during the partition', 'p1');
    const elsewhere = await send(annOther, 'on another master', 'o1');
    const framesWhileCut = h.api.framesTo(bobCut.connectionId);
    await rejoinReplica(cut);
    const completed = await send(annCut, 'during the partition', 'p1');
    const duplicate = await send(annCut, 'during the partition', 'p1');
    // Assess
    expect(refused).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      action: 'sendMessage',
      clientMsgId: 'p1',
    });
    expect(elsewhere).toMatchObject({ type: 'ack', clientMsgId: 'o1', seq: 1 });
    expect(h.api.framesTo(bobOther.connectionId).map((f) => f.data)).toEqual(['on another master']);
    expect(framesWhileCut).toEqual([]);
    expect(completed).toEqual({
      type: 'ack',
      clientMsgId: 'p1',
      epoch: first?.epoch,
      seq: 2,
      id: expect.any(String),
    });
    expect(duplicate).toEqual(completed);
    expect(h.api.framesTo(bobCut.connectionId).map((f) => [f.seq, f.id, f.data])).toEqual([
      [2, completed?.id, 'during the partition'],
    ]);
  });

  it('does not wait for replicas on transient messages', async () => {
    // Prepare
    const master = cluster.masters()[0] as ClusterNode;
    const [ann, bob] = await pair(roomOn(master));
    cutReplica(master);
    await expectTransientNotWaiting(h, ann, bob);
  });

  it('reports an unconfirmed server publish as a batch item failure, and its redelivery publishes it once', async () => {
    // Prepare
    const master = cluster.masters()[1] as ClusterNode;
    const ann = await h.join(h.caller(roomOn(master), 'ann'));
    await expectUnconfirmedPublishRetried(h, publish, ann, 'c0ffee00-0000-4000-8000-000000000002', {
      cut: () => cutReplica(master),
      rejoin: () => rejoinReplica(master),
    });
  });

  it('refuses only the rooms of a full master (OOM under noeviction), leaves them whole, and accepts the resend once there is room', async () => {
    // Prepare
    const [full, other] = cluster.masters() as [ClusterNode, ClusterNode];
    const [ann, bob] = await pair(roomOn(full));
    const [annOther] = await pair(roomOn(other));
    await send(ann, 'one', 'o1');
    const fullAdmin = await admin(full);
    const stateBefore = await h.redis.hgetall(`room:{${ann.classRoomId}}:state`);
    const used = Number(/used_memory:(\d+)/.exec(await fullAdmin.info('memory'))?.[1]);
    await fullAdmin.config('SET', 'maxmemory-policy', 'noeviction');
    await fullAdmin.config('SET', 'maxmemory', String(used - 1024 * 1024));
    h.api.reset();
    // Act
    const refused = await send(ann, { text: 'two' }, 'o2');
    const elsewhere = await send(annOther, { text: 'fine here' }, 'x1');
    const stateDuring = await h.redis.hgetall(`room:{${ann.classRoomId}}:state`);
    await fullAdmin.config('SET', 'maxmemory', '0');
    const accepted = await send(ann, { text: 'two' }, 'o2');
    // Assess
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'o2' });
    expect(JSON.stringify(refused)).not.toMatch(/OOM|maxmemory/);
    expect(elsewhere).toMatchObject({ type: 'ack', clientMsgId: 'x1', seq: 1 });
    expect(stateDuring).toEqual(stateBefore);
    expect(accepted).toMatchObject({ type: 'ack', clientMsgId: 'o2', seq: 2 });
    expect(h.api.framesTo(bob.connectionId).map((f) => f.seq)).toEqual([2]);
  });

  /**
   * KNOWN BUG (issue 14, layers/shared/src/room-store.ts runConfirmed; `.failing` until fixed, then make it
   * a plain `it`): ioredis retries a cluster pipeline's MOVED/ASK only when every command in it failed alike
   * or the others are read-only; WAIT succeeds on the old node and is not read-only, so the send script's
   * MOVED comes back as is (answered `internal`, without clientMsgId) and the slot map is not refreshed:
   * every confirmed send to the moved rooms fails until some other command of that container meets a MOVED.
   */
  it('confirmed sends, resumes and joins follow the redirect when the room’s slot has moved to another master (resharding)', async () => {
    // Prepare
    const [from, to] = cluster.masters() as [ClusterNode, ClusterNode];
    const [ann, bob] = await pair(roomOn(from));
    await send(ann, 'before the move', 'r1');
    await cluster.migrateSlot(keySlot(`room:{${ann.classRoomId}}:state`), to);
    h.api.reset();
    // Act
    const after = await send(ann, 'after the move', 'r2');
    await cluster.migrateSlot(keySlot(`room:{${ann.classRoomId}}:state`), from);
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    await cluster.migrateSlot(keySlot(`room:{${ann.classRoomId}}:state`), to);
    const carol = await h.join(h.caller(ann.classRoomId, 'carol'));
    // Assess
    expect(after).toMatchObject({ type: 'ack', clientMsgId: 'r2', seq: 2 });
    expect(h.api.framesTo(bob.connectionId).map((f) => f.data)).toEqual(['after the move']);
    expect(history).toMatchObject({ type: 'history', lastSeq: 2, done: true });
    expect(carol.connectionId).toBeTruthy();
  });
});
