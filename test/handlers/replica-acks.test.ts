/**
 * Replica-confirmed acks (SPEC §5) against a real primary and replica: a message is broadcast and
 * acknowledged only once WAIT confirms MIN_REPLICA_ACKS replicas, in the same round trip as the script;
 * otherwise nothing is delivered, the sender gets `unavailable`, and a resend with the same clientMsgId
 * completes it once. Also a full cache (OOM under noeviction): `unavailable`, the room intact.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getRedis } from '@classroom/shared';
import Redis from 'ioredis';
import { lambdaContext, type TestCaller, wsEvent } from '../support/events';
import { Harness } from '../support/harness';
import { type RedisProcess, startRedisServer } from '../support/redis-server';
import {
  expectTransientNotWaiting,
  expectUnconfirmedPublishRetried,
  loadPublish,
  type Publish,
  REPLICA_ACK_ENV,
  sendChat,
} from '../support/replica-acks';
import { skipFileOnCluster, skipFileOnDynamoDB } from '../support/skip';

skipFileOnDynamoDB(
  'Redis replicas and WAIT: DynamoDB acknowledges a write only once it is durable in several Availability Zones (no replica setting)',
);
skipFileOnCluster(
  'starts its own standalone primary and replica (REPLICAOF, not allowed in cluster mode); WAIT per master on a cluster: replica-acks.cluster.test.ts',
);

const h = new Harness();
let primary: RedisProcess;
let replica: RedisProcess;
let replicaAdmin: Redis;
let publish: Publish;

async function replicaLinkUp(up: boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const linked = /master_link_status:up/.test(await replicaAdmin.info('replication'));
    const primaryInfo = await h.redis.info('replication');
    // `online`: past the initial sync, so it acknowledges offsets (WAIT counts it).
    const online = /slave0:.*state=online/.test(primaryInfo);
    const attached = Number(/connected_slaves:(\d+)/.exec(primaryInfo)?.[1] ?? 0);
    if (up ? linked && online : attached === 0) return;
    await sleep(50);
  }
  throw new Error(`replication link did not come ${up ? 'up' : 'down'} in 10 s`);
}

/** Cuts the replica off the primary (it stops replicating), as a partition does for WAIT. */
async function cutReplica(): Promise<void> {
  await replicaAdmin.call('REPLICAOF', 'NO', 'ONE');
  await replicaLinkUp(false);
}

async function joinReplica(): Promise<void> {
  await replicaAdmin.call('REPLICAOF', '127.0.0.1', String(primary.port));
  await replicaLinkUp(true);
  await replicaConfirms();
}

/**
 * After a (re)sync the primary streams to the replica only from its first REPLCONF ACK (sent each
 * second): until then WAIT counts no replica. Waits for a probe write to be confirmed.
 */
async function replicaConfirms(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await h.redis.set('probe', String(i));
    if (Number(await h.redis.call('WAIT', 1, 100)) >= 1) return;
  }
  throw new Error('the replica never confirmed a write');
}

beforeAll(async () => {
  // No diskless-sync delay: a replica that rejoins resyncs at once.
  primary = await startRedisServer(['--repl-diskless-sync-delay', '0']);
  replica = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
  await h.start({
    REDIS_URL: primary.url,
    ...REPLICA_ACK_ENV,
  });
  replicaAdmin = new Redis(replica.url);
  await replicaLinkUp(true);
  await replicaConfirms();
  publish = await loadPublish();
}, 30_000);
afterAll(async () => {
  await h.stop();
  replicaAdmin.disconnect();
  await replica.stop();
  await primary.stop();
});
beforeEach(() => h.api.reset());
afterEach(async () => {
  await h.redis.config('SET', 'maxmemory', '0');
  if (!/master_link_status:up/.test(await replicaAdmin.info('replication'))) await joinReplica();
});

const send = (caller: TestCaller, data: unknown, clientMsgId?: string) =>
  sendChat(h, caller, data, clientMsgId);

/** Socket writes of the handlers' Redis client while `act` runs: each is one round trip. */
async function writesDuring(act: () => Promise<unknown>): Promise<number> {
  const client = await getRedis();
  await client.ping();
  const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
  const original = stream.write;
  let writes = 0;
  stream.write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return original.apply(this, args);
  };
  try {
    await act();
  } finally {
    stream.write = original;
  }
  return writes;
}

describe('Replica-confirmed acks', () => {
  it('acks and delivers once a replica has the write, in one round trip (script and WAIT pipelined)', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await send(ann, 'warm-up');
    h.api.reset();
    // Act
    let ack: Record<string, unknown> | undefined;
    const writes = await writesDuring(async () => {
      ack = await send(ann, 'confirmed', 'c1');
    });
    // Assess
    expect(ack).toMatchObject({ type: 'ack', clientMsgId: 'c1', seq: 2 });
    expect(writes).toBe(1);
    expect(h.api.framesTo(bob.connectionId).map((f) => f.seq)).toEqual([2]);
    const onReplica = await replicaAdmin.zrangebyscore(`room:{${room}}:log`, 2, 2);
    expect(onReplica).toHaveLength(1);
  });

  it('answers unavailable and delivers nothing when no replica confirms; the resend completes it once', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const first = await send(ann, 'before', 'p0');
    await cutReplica();
    h.api.reset();
    // Act
    const refused = await send(ann, 'during the partition', 'p1');
    const framesWhileCut = h.api.framesTo(bob.connectionId);
    const refusedAgain = await send(ann, 'during the partition', 'p1');
    await joinReplica();
    const completed = await send(ann, 'during the partition', 'p1');
    const duplicate = await send(ann, 'during the partition', 'p1');
    // Assess
    expect(refused).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      action: 'sendMessage',
      clientMsgId: 'p1',
    });
    expect(refusedAgain).toMatchObject({ code: 'unavailable', clientMsgId: 'p1' });
    expect(framesWhileCut).toEqual([]);
    expect(completed).toEqual({
      type: 'ack',
      clientMsgId: 'p1',
      epoch: first?.epoch,
      seq: 2,
      id: expect.any(String),
    });
    expect(duplicate).toEqual(completed);
    const delivered = h.api.framesTo(bob.connectionId);
    expect(delivered.map((f) => [f.seq, f.id, f.data])).toEqual([[2, completed?.id, 'during the partition']]);
  });

  it('stores a resend anew when the unconfirmed write was lost with the old primary', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const first = await send(ann, 'replicated', 'q0');
    await cutReplica();
    const refused = await send(ann, 'lost', 'q1');
    // The primary dies and the replica, which never got q1, takes over: what it holds is what survives.
    const survivors = await replicaAdmin.dumpBuffer(`room:{${room}}:state`);
    const survivingLog = await replicaAdmin.dumpBuffer(`room:{${room}}:log`);
    await h.redis.del(`room:{${room}}:state`, `room:{${room}}:log`, `room:{${room}}:dedupe:ann:q1`);
    await h.redis.restore(`room:{${room}}:state`, 0, survivors);
    await h.redis.restore(`room:{${room}}:log`, 0, survivingLog);
    await joinReplica();
    h.api.reset();
    // Act
    const resent = await send(ann, 'lost', 'q1');
    // Assess
    expect(refused).toMatchObject({ code: 'unavailable' });
    expect(resent).toMatchObject({ type: 'ack', clientMsgId: 'q1', epoch: first?.epoch, seq: 2 });
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([[2, 'lost']]);
  });

  it('answers a resume unavailable while its page is not confirmed, so no one reads a write a failover can take back', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await send(ann, 'confirmed', 'h0');
    await cutReplica();
    await send(ann, 'unconfirmed', 'h1');
    // Act
    const during = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    await joinReplica();
    const after = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess
    expect(during).toMatchObject({ type: 'error', code: 'unavailable', action: 'resume' });
    expect(after).toMatchObject({ type: 'history', done: true });
    expect(((after?.messages ?? []) as { data: unknown }[]).map((m) => m.data)).toEqual([
      'confirmed',
      'unconfirmed',
    ]);
  });

  it('refuses a handshake (500) whose membership no replica confirms; the retry joins', async () => {
    // Prepare
    const room = h.room();
    const ann = h.caller(room, 'ann');
    await cutReplica();
    // Act
    const during = await h.handlers.connect(wsEvent(ann, '$connect'), lambdaContext('connect'));
    await joinReplica();
    const retry = await h.handlers.connect(wsEvent(ann, '$connect'), lambdaContext('connect'));
    // Assess
    expect(during.statusCode).toBe(500);
    expect(retry.statusCode).toBe(200);
    expect(await replicaAdmin.zscore(`room:{${room}}:members`, ann.connectionId)).not.toBeNull();
  });

  it('does not wait for replicas on transient messages (nothing is stored)', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await cutReplica();
    await expectTransientNotWaiting(h, ann, bob);
  });

  it('reports an unconfirmed server publish as a batch item failure, and its redelivery publishes it once', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    await expectUnconfirmedPublishRetried(h, publish, ann, 'c0ffee00-0000-4000-8000-000000000001', {
      cut: cutReplica,
      rejoin: joinReplica,
    });
  });
});

describe('A full cache (noeviction)', () => {
  it('answers unavailable, stores nothing, and leaves the room whole; the resend is accepted once there is room', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await send(ann, 'one', 'o1');
    const stateBefore = await h.redis.hgetall(`room:{${room}}:state`);
    const used = Number(/used_memory:(\d+)/.exec(await h.redis.info('memory'))?.[1]);
    await h.redis.config('SET', 'maxmemory-policy', 'noeviction');
    await h.redis.config('SET', 'maxmemory', String(used - 1024 * 1024));
    h.api.reset();
    // Act
    const refused = await send(ann, { text: 'two' }, 'o2');
    const stateDuring = await h.redis.hgetall(`room:{${room}}:state`);
    await h.redis.config('SET', 'maxmemory', '0');
    const accepted = await send(ann, { text: 'two' }, 'o2');
    // Assess
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'o2' });
    expect(JSON.stringify(refused)).not.toMatch(/OOM|maxmemory/);
    expect(stateDuring).toEqual(stateBefore);
    expect(accepted).toMatchObject({ type: 'ack', clientMsgId: 'o2', seq: 2 });
    expect(h.api.framesTo(bob.connectionId).map((f) => f.seq)).toEqual([2]);
  });
});
