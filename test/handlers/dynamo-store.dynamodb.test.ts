/**
 * The DynamoDB store's own guarantees (DynamoDB target only): no gap and no duplicate seq under concurrent
 * senders, a sender that dies between its two writes leaves no gap, a resend after an attempt that ended
 * not knowing completes it once, the joining window, TTLs on every item, and how many DynamoDB calls each
 * operation makes. Against the run's local DynamoDB (moto, one request at a time: local/moto-atomic.py), through
 * the handlers where the protocol is concerned and through the store where a fault is injected.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type CapacityUsage,
  createDynamoClient,
  DynamoRoomStore,
  messageParts,
  onConsumedCapacity,
  type RoomSettings,
  roomSettings,
  roomStore,
  StoreUnavailableError,
} from '@classroom/shared';
import type { TestCaller } from '../support/events';
import { Harness } from '../support/harness';
import type { DynamoInspector } from '../support/store-inspector';

type Frame = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

const h = new Harness();
const endpoint = process.env.TEST_DYNAMODB_ENDPOINT as string;
const table = process.env.TEST_TABLE_NAME as string;
let settings: RoomSettings;
beforeAll(async () => {
  await h.start({ RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000', ROOM_HISTORY_LIMIT: '1000' });
  settings = roomSettings();
});
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

const inspect = () => h.inspect as DynamoInspector;
const say = (caller: Parameters<Harness['send']>[1], data: unknown, clientMsgId?: string) =>
  h.send('sendMessage', caller, {
    action: 'sendMessage',
    kind: 'chat',
    data,
    ...(clientMsgId ? { clientMsgId } : {}),
  }) as Promise<Frame>;

/** A store on its own client, with `fault` run before each of its calls (real requests otherwise). */
function storeWith(fault: (command: string, input: Record<string, unknown>) => void | Promise<void>) {
  const client = createDynamoClient({ endpoint, connectTimeoutMs: 5000, requestTimeoutMs: 5000 });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      await fault(context.commandName as string, args.input as Record<string, unknown>);
      return next(args);
    },
    { step: 'initialize', name: 'injectFault' },
  );
  return { store: new DynamoRoomStore(client, table, settings), client };
}

const connectionReset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const sk = (input: Record<string, unknown>) => ((input.Item ?? input.Key) as Item | undefined)?.sk?.S ?? '';

function input(roomId: string, data: string, clientMsgId?: string) {
  const parts = messageParts({
    classRoomId: roomId,
    from: { userId: 'ann', name: 'ANN', role: 'student' },
    kind: 'chat',
    data,
  });
  return {
    roomId,
    id: parts.id,
    head: parts.head,
    tail: parts.tail,
    transient: false,
    dedupe: clientMsgId ? { scope: 'ann', key: clientMsgId } : undefined,
    rateLimited: false,
  };
}

describe('DynamoDB store: selection', () => {
  it('is what roomStore() gives the handlers with STORE=dynamodb, with no Redis to connect to', async () => {
    // Prepare: the harness removed REDIS_URL/REDIS_HOST (a Redis client would fail its configuration)
    expect(process.env.REDIS_URL ?? process.env.REDIS_HOST).toBeUndefined();
    // Act
    const store = await roomStore();
    // Assess
    expect(store).toBeInstanceOf(DynamoRoomStore);
  });
});

describe('DynamoDB store: sequence', () => {
  it('gives 50 senders sending at once to one room the seqs 1..50, no gap, no duplicate', async () => {
    // Prepare
    const room = h.room();
    const members: TestCaller[] = [];
    for (let i = 0; i < 50; i++) members.push(await h.join(h.caller(room, `s${i}`)));
    h.api.reset();
    // Act: as clients do, an `unavailable` answer is resent with its clientMsgId (senders queue on the
    // room's counter, one message stored at a time; a slow local DynamoDB may keep one waiting too long)
    let acks = await Promise.all(members.map((m, i) => say(m, { i }, `c${i}`)));
    const firstTry = acks.filter((a) => a.type === 'ack').length;
    const until = Date.now() + 150_000;
    while (Date.now() < until && acks.some((a) => a.type !== 'ack')) {
      acks = await Promise.all(
        acks.map((a, i) => (a.type === 'ack' ? a : say(members[i] as TestCaller, { i }, `c${i}`))),
      );
    }
    console.log(`[dynamodb target] 50 at once: ${firstTry} acked at once, the others after resending`);
    // Assess
    const seqs = acks.map((a) => a.seq as number).sort((a, b) => a - b);
    expect(acks.filter((a) => a.type !== 'ack')).toEqual([]);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(acks.map((a) => a.epoch)).size).toBe(1);
    // Each member got the 49 others' messages, each seq once.
    for (const m of members) {
      const got = h.api.framesTo(m.connectionId).map((f) => f.seq as number);
      expect(new Set(got).size).toBe(49);
    }
    const history = await h.send('resume', members[0] as (typeof members)[0], {
      action: 'resume',
      afterSeq: 0,
    });
    expect(((history?.messages ?? []) as Frame[]).map((f) => f.seq)).toEqual(seqs);
    expect(await inspect().storedSeqs(room)).toEqual(seqs);
  }, 240_000);

  it('leaves no gap when a sender dies between the counter write and its message write', async () => {
    // Prepare: a store whose message items are never written (its Lambda died after the counter write)
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await say(ann, 'one', 'm1');
    const { store: dying, client } = storeWith((command, req) => {
      if (command === 'PutItemCommand' && sk(req).startsWith('msg#')) throw connectionReset();
    });
    // Act
    const second = await dying.append(input(room, 'two', 'm2')).catch((error: unknown) => error);
    client.destroy();
    const stateOnly = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    const storedBefore = await inspect().storedSeqs(room);
    const third = await say(ann, 'three', 'm3');
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess: not acknowledged (its own item was not written), readable at once from the state item,
    // written by the next sender before it takes seq 3
    expect(second).toBeInstanceOf(StoreUnavailableError);
    expect(storedBefore).toEqual([1]);
    expect(((stateOnly?.messages ?? []) as Frame[]).map((f) => [f.seq, f.data])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    expect(third).toMatchObject({ type: 'ack', seq: 3 });
    expect(await inspect().storedSeqs(room)).toEqual([1, 2, 3]);
    expect(((history?.messages ?? []) as Frame[]).map((f) => f.data)).toEqual(['one', 'two', 'three']);
  });

  it('answers a resend while the first attempt may still run unavailable, and completes it once that attempt is over', async () => {
    // Prepare: an attempt that stores the message, then loses DynamoDB before anything else
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    let dead = false;
    const { store: dying, client } = storeWith((command, req) => {
      if (dead) throw connectionReset();
      if (
        command === 'UpdateItemCommand' &&
        sk(req) === 'state' &&
        String(req.UpdateExpression).includes('seq')
      )
        setImmediate(() => {
          dead = true;
        });
    });
    const first = input(room, 'once', 'r1');
    const failed = await dying.append({ ...first, senderConnectionId: ann.connectionId }).catch((e) => e);
    client.destroy();
    h.api.reset();
    // Act
    const early = await say(ann, 'once', 'r1');
    // the first attempt's claim ages past the functions' timeouts
    const ddb = new DynamoDBClient({ endpoint });
    await ddb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: `room#${room}` }, sk: { S: 'dd#3:ann#r1' } },
        UpdateExpression: 'SET #at = :old',
        ExpressionAttributeNames: { '#at': 'at' },
        ExpressionAttributeValues: { ':old': { N: String(Date.now() - 60_000) } },
      }),
    );
    ddb.destroy();
    const late = await say(ann, 'once', 'r1');
    const again = await say(ann, 'once', 'r1');
    // Assess
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(early).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'r1' });
    expect(late).toMatchObject({ type: 'ack', clientMsgId: 'r1', seq: 1 });
    expect(again).toEqual(late);
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([[1, 'once']]);
    expect(await inspect().seq(room)).toBe(1);
  });
});

describe('DynamoDB store: members', () => {
  it('keeps a member still in its $connect when a 410 prunes it, and removes it once joined', async () => {
    // Prepare
    const room = h.room();
    const { store, client } = storeWith(() => {});
    await store.addMember(room, 'early=', { userId: 'ann', name: 'ANN', role: 'student' });
    // Act
    const whileJoining = await store.removeMembers(room, ['early='], { stale: true });
    await store.joined(room, 'early=');
    const afterJoined = await store.removeMembers(room, ['early='], { stale: true });
    client.destroy();
    // Assess
    expect(whileJoining.removed).toBe(0);
    expect(afterJoined).toEqual({
      remaining: [],
      goneMembers: [{ userId: 'ann', name: 'ANN', role: 'student' }],
      removed: 1,
    });
  });

  it('announces a user gone when its last two connections leave at the same moment (at least once)', async () => {
    // Prepare: deletes slower than the Query beside them (each removal first reads the other still there)
    const room = h.room();
    let slowDeletes = false;
    const { store, client } = storeWith(async (command) => {
      if (slowDeletes && command === 'DeleteItemCommand') await sleep(300);
    });
    const ann = { userId: 'ann', name: 'ANN', role: 'student' as const };
    for (const id of ['phone=', 'laptop=']) {
      await store.addMember(room, id, ann);
      await store.joined(room, id);
    }
    await store.addMember(room, 'teacher=', { userId: 'teacher', name: 'T', role: 'teacher' });
    slowDeletes = true;
    // Act
    const results = await Promise.all([
      store.removeMembers(room, ['phone=']),
      store.removeMembers(room, ['laptop=']),
    ]);
    client.destroy();
    // Assess
    expect(results.map((r) => r.removed)).toEqual([1, 1]);
    expect(results.flatMap((r) => r.goneMembers).length).toBeGreaterThanOrEqual(1);
    for (const r of results) expect(r.goneMembers.every((m) => m.userId === 'ann')).toBe(true);
    expect(await inspect().memberIds(room)).toEqual(['teacher=']);
  });

  it('puts a TTL on every item: connections for CONNECTION_TTL_SECONDS, the room for ROOM_TTL_SECONDS, dedupe for 60 s', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    // Act
    await say(ann, 'x', 'ttl-1');
    // Assess
    const now = Math.floor(Date.now() / 1000);
    const items = await inspect().items(room);
    const left = (prefix: string) =>
      items.filter((i) => (i.sk?.S ?? '').startsWith(prefix)).map((i) => Number(i.expiresAt?.N ?? 0) - now);
    expect(items.every((i) => i.expiresAt?.N !== undefined)).toBe(true);
    for (const ttl of left('conn#')) expect(ttl).toBeGreaterThan(settings.connectionTtlSeconds - 30);
    for (const ttl of [...left('state'), ...left('msg#')])
      expect(ttl).toBeGreaterThan(settings.roomTtlSeconds - 30);
    expect(left('dd#')).toHaveLength(1);
    for (const ttl of left('dd#')) expect(ttl).toBeGreaterThan(30);
    for (const ttl of left('dd#')) expect(ttl).toBeLessThanOrEqual(60);
  });
});

describe('DynamoDB store: calls per operation', () => {
  it('makes as many calls for a send whatever the room size (recipients in one Query)', async () => {
    const calls: Record<number, CapacityUsage[]> = {};
    for (const size of [1, 10, 100]) {
      // Prepare
      const room = h.room();
      const members = [];
      for (let i = 0; i < size; i++) members.push(await h.join(h.caller(room, `u${i}`)));
      const sender = members[0] as (typeof members)[0];
      await say(sender, 'warm-up');
      const seen: CapacityUsage[] = [];
      const stop = onConsumedCapacity((usage) => seen.push(usage));
      // Act
      await say(sender, { text: 'hi' }, `m-${size}`);
      stop();
      calls[size] = seen;
    }
    // Assess: the send (member, claim; state; message, previous, dedupe done, members Query) and no more
    const appends = (size: number) => (calls[size] ?? []).filter((u) => u.operation === 'append');
    for (const size of [1, 10, 100]) {
      expect(appends(size)).toHaveLength(1);
      expect(appends(size)[0]?.calls).toBe(7);
    }
  }, 120_000);
});
