/**
 * Epochs (SPEC §4-§5): every room's sequence lives with an epoch created in the same script step; when
 * the sequence restarts for any reason (end of class and reuse, expiry, eviction of the counter or of
 * the log), the epoch changes, so no restart is silent. Also the log's byte bound and paged history.
 */
import { type CapacityUsage, getRedis, onConsumedCapacity } from '@classroom/shared';
import { Harness } from '../support/harness';
import { watchClient } from '../support/monitor';

const h = new Harness();
beforeAll(() =>
  h.start({
    ROOM_HISTORY_LIMIT: '1000',
    ROOM_HISTORY_BYTES: '300000',
    RATE_LIMIT_PER_SECOND: '10000',
    RATE_LIMIT_BURST: '10000',
  }),
);
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

type Frame = Record<string, unknown>;

async function say(sender: Parameters<Harness['send']>[1], data: unknown, clientMsgId?: string) {
  const body = { action: 'sendMessage', kind: 'chat', data, ...(clientMsgId ? { clientMsgId } : {}) };
  return (await h.send('sendMessage', sender, body)) as Frame;
}

describe('Epochs', () => {
  it('carries one epoch in every message, ack and history frame of a room', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    // Act
    const first = await say(ann, 1, 'a1');
    const second = await say(ann, 2, 'a2');
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess
    const epoch = first.epoch as number;
    expect(Number.isSafeInteger(epoch) && epoch > 0).toBe(true);
    expect(second).toMatchObject({ type: 'ack', epoch, seq: 2 });
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.epoch, f.seq])).toEqual([
      [epoch, 1],
      [epoch, 2],
    ]);
    expect(history).toMatchObject({ type: 'history', epoch, lastSeq: 2 });
    expect(((history?.messages ?? []) as Frame[]).map((m) => m.epoch)).toEqual([epoch, epoch]);
  });

  it('gives a room reused after endClass a new epoch and a sequence from 1', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const before = await say(teacher, 'lesson 1', 'l1');
    await h.send('endClass', teacher, { action: 'endClass' });
    const again = await h.join(h.caller(room, 'teacher', 'teacher'));
    // Act
    const after = await say(again, 'lesson 2', 'l2');
    // Assess
    expect(after).toMatchObject({ type: 'ack', seq: 1 });
    expect(after.epoch).not.toBe(before.epoch);
  });

  it.each([
    ['its counter expired or was evicted', 'state'],
    ['its log was evicted while the counter stayed', 'log'],
  ])('starts a new epoch when %s, and drops what remains of the old one', async (name, key) => {
    if (key === 'log' && h.store === 'dynamodb') {
      // DynamoDB evicts nothing: a log never goes while its counter stays (messages expire by TTL one by one).
      console.warn(`[dynamodb target] ${name}: skipped: no eviction in DynamoDB`);
      return;
    }
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const old = await say(ann, 'before', 'b1');
    await say(ann, 'before again', 'b2');
    if (key === 'state') await h.inspect.expireCounter(room);
    else await h.redis.del(`room:{${room}}:log`);
    // Act
    const ack = await say(ann, 'after', 'c1');
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess
    expect(ack).toMatchObject({ type: 'ack', seq: 1 });
    expect(ack.epoch).not.toBe(old.epoch);
    expect(history).toMatchObject({ epoch: ack.epoch, lastSeq: 1, complete: true });
    expect(((history?.messages ?? []) as Frame[]).map((m) => m.data)).toEqual(['after']);
  });

  it('does not take a clientMsgId of the old epoch as a duplicate', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const old = await say(ann, 'first life', 'same-id');
    await h.inspect.expireRoom(room);
    h.api.reset();
    // Act
    const again = await say(ann, 'second life', 'same-id');
    // Assess
    expect(again).toMatchObject({ type: 'ack', clientMsgId: 'same-id', seq: 1 });
    expect(again.epoch).not.toBe(old.epoch);
    expect(h.api.framesTo(bob.connectionId).map((f) => f.data)).toEqual(['second life']);
  });

  it('answers a resume from another epoch from the start of the current one', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    for (let i = 1; i <= 4; i++) await say(ann, i);
    const current = (await h.send('resume', ann, { action: 'resume', afterSeq: 4 }))?.epoch as number;
    // Act
    const sameEpoch = await h.send('resume', ann, { action: 'resume', afterSeq: 2, epoch: current });
    const otherEpoch = await h.send('resume', ann, { action: 'resume', afterSeq: 3, epoch: current - 1 });
    const noEpoch = await h.send('resume', ann, { action: 'resume', afterSeq: 3 });
    // Assess
    const seqs = (f: Frame | undefined) => ((f?.messages ?? []) as Frame[]).map((m) => m.seq);
    expect(seqs(sameEpoch)).toEqual([3, 4]);
    expect(otherEpoch).toMatchObject({ epoch: current, lastSeq: 4, complete: true, done: true });
    expect(seqs(otherEpoch)).toEqual([1, 2, 3, 4]);
    expect(seqs(noEpoch)).toEqual([4]);
  });

  it('gives an empty room an epoch on resume that its first message keeps', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    // Act
    const empty = await h.send('resume', ann, { action: 'resume', afterSeq: 0 });
    const ack = await say(ann, 'first', 'f1');
    // Assess
    expect(empty).toMatchObject({ lastSeq: 0, messages: [], done: true, complete: true });
    expect(ack.epoch).toBe(empty?.epoch);
  });
});

describe('Room log bounds', () => {
  it('keeps the log within ROOM_HISTORY_BYTES, oldest first out, and counts its bytes exactly', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const big = 'x'.repeat(50_000);
    // Act
    for (let i = 1; i <= 12; i++) await say(ann, { i, big });
    // Assess
    const { frames: stored, bytes, recount } = await h.inspect.logAccount(room);
    expect(recount).toBeLessThanOrEqual(300_000);
    expect(stored.length).toBeGreaterThanOrEqual(5);
    expect(stored.map((m) => (JSON.parse(m) as Frame).seq)).toEqual(
      Array.from({ length: stored.length }, (_, i) => 12 - stored.length + 1 + i),
    );
    expect(bytes).toBe(recount);
  });

  it('pages a room at its limits: every frame under 128 KB, in order, each page one bounded read', async () => {
    // Prepare: ~290 KB of near-limit messages (the byte bound), then many small ones
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    for (let i = 1; i <= 3; i++) await say(ann, { i, big: 'é'.repeat(45_000) });
    for (let i = 4; i <= 300; i++) await say(ann, { i });
    const first = (await h.inspect.storedSeqs(room))[0] as number;
    h.api.reset();
    // Only this file's handler client (every node of a cluster): other test files share the Redis. On
    // DynamoDB, the store's calls per page (its capacity listener).
    const monitor = h.store === 'redis' ? await watchClient(await getRedis()) : undefined;
    const pages: CapacityUsage[] = [];
    const stopListening = onConsumedCapacity((usage) => {
      if (usage.operation === 'historyPage') pages.push(usage);
    });
    // Act
    const answer = await h.send('resume', ann, { action: 'resume', afterSeq: 0 });
    // Assess
    stopListening();
    // A script read: an EVALSHA, or an EVAL right after an EVALSHA from the same client (the script was not
    // loaded on that node yet: NOSCRIPT, which reads nothing, then the script itself). One read either way.
    const scripts = monitor
      ? (await monitor.stop()).filter((l) => l.command === 'evalsha' || l.command === 'eval')
      : [];
    const reads = monitor
      ? scripts.filter((l, i) => {
          const next = scripts[i + 1];
          return !(l.command === 'evalsha' && next?.command === 'eval' && next.source === l.source);
        })
      : pages;
    expect(answer).toBeUndefined();
    const frames = h.api.framesTo(ann.connectionId);
    expect(reads).toHaveLength(frames.length);
    // A DynamoDB page: the state's GetItem and a Query sized for the page (another when the sizes misled it).
    for (const page of pages) expect(page.calls).toBeLessThanOrEqual(3);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const post of h.api.posts) expect(Buffer.byteLength(post.body)).toBeLessThanOrEqual(128 * 1024);
    expect(frames.map((f) => f.done)).toEqual([...Array(frames.length - 1).fill(false), true]);
    expect(new Set(frames.map((f) => f.epoch)).size).toBe(1);
    expect(frames.flatMap((f) => (f.messages as Frame[]).map((m) => m.seq))).toEqual(
      Array.from({ length: 300 - first + 1 }, (_, i) => first + i),
    );
    expect(frames.every((f) => f.complete === false)).toBe(true);
  }, 180_000);
});
