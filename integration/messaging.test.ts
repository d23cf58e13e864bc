/**
 * SPEC §4/§5 over real sockets: room messages and acks, dedupe of a resent clientMsgId, resume across a
 * gap, presence, ping, errors that keep the socket open, and the 32 KB frame limit (1009).
 */
import { FRAME_TIMEOUT_MS, type Frame, sleep, withTimeout } from './support/client';
import { ackFrame, anEpoch, chat, errorFrame, messageFrame, presenceFrame } from './support/frames';
import { connector, describeTarget, itRequires, member, uniqueRoom } from './support/target';

/** How long "gets nothing" is watched after the frames that should arrive have arrived. */
const QUIET_MS = 300;

describeTarget('messaging', {}, (ctx) => {
  const alice = member('alice');
  const bob = member('bob');
  const carol = member('carol');
  const dave = member('dave');
  const tina = member('tina', 'teacher');
  const connect = connector(ctx);

  it('sendMessage: every other member gets the message, the sender its ack, another room nothing', async () => {
    const room = uniqueRoom('send');
    const a = await connect(alice, room);
    const b = await connect(bob, room);
    const c = await connect(carol, room);
    const d = await connect(dave, uniqueRoom('elsewhere'));
    const before = Date.now();
    const ack = await a.request(chat('hello', 'm-1'), 'ack');
    expect(ack).toEqual(ackFrame('m-1', 1));
    const expected = messageFrame(room, alice, { seq: 1, id: ack.id, kind: 'chat', data: { text: 'hello' } });
    const [toBob, toCarol] = await Promise.all([b.nextOfType('message'), c.nextOfType('message')]);
    expect(toBob).toEqual(expected);
    expect(toCarol).toEqual(expected);
    expect(toBob.sentAt as number).toBeGreaterThanOrEqual(before - 1000);
    await sleep(QUIET_MS);
    expect(a.framesWhere((f) => f.type === 'message')).toEqual([]);
    expect(d.frames).toEqual([]);
    expect(b.framesWhere((f) => f.type === 'message')).toHaveLength(1);
  });

  it('a resent clientMsgId is acked with the original seq and reaches the others once', async () => {
    const room = uniqueRoom('dedupe');
    const a = await connect(alice, room);
    const b = await connect(bob, room);
    const first = await a.request(chat('once', 'dup-1'), 'ack');
    const second = await a.request(chat('once', 'dup-1'), 'ack');
    expect(first).toEqual(ackFrame('dup-1', 1));
    expect(second).toEqual(first);
    const third = await a.request(chat('next', 'dup-2'), 'ack');
    expect(third).toEqual(ackFrame('dup-2', 2));
    await b.nextOfType('message', { seq: 2 });
    await sleep(QUIET_MS);
    expect(b.framesWhere((f) => f.type === 'message')).toEqual([
      messageFrame(room, alice, { seq: 1, id: first.id, kind: 'chat', data: { text: 'once' } }),
      messageFrame(room, alice, { seq: 2, id: third.id, kind: 'chat', data: { text: 'next' } }),
    ]);
  });

  it('resume after a gap returns exactly the missed messages, in order', async () => {
    const room = uniqueRoom('resume');
    const a = await connect(alice, room);
    const b = await connect(bob, room);
    const ack1 = await a.request(chat('before the gap', 'r-1'), 'ack');
    const seen = await b.nextOfType('message');
    const lastSeq = seen.seq as number;
    expect(lastSeq).toBe(ack1.seq);
    await b.close();
    await a.nextOfType('presence', { event: 'leave' });
    const missed: Frame[] = [];
    for (const n of [2, 3, 4]) {
      const ack = await a.request(chat(`missed ${n}`, `r-${n}`), 'ack');
      expect(ack).toEqual(ackFrame(`r-${n}`, n, expect.any(String), seen.epoch));
      missed.push(
        messageFrame(room, alice, {
          seq: n,
          id: ack.id,
          kind: 'chat',
          data: { text: `missed ${n}` },
          epoch: seen.epoch,
        }),
      );
    }
    const back = await connect(bob, room);
    const history = await back.request({ action: 'resume', afterSeq: lastSeq, epoch: seen.epoch }, 'history');
    expect(history).toEqual({
      type: 'history',
      classRoomId: room,
      epoch: seen.epoch,
      messages: missed,
      lastSeq: 4,
      done: true,
      complete: true,
    });
    expect(back.framesWhere((f) => f.type === 'message')).toEqual([]);
    // A cursor of another epoch (the room was reset since) gets the current epoch from its start.
    const fromOtherEpoch = await back.request(
      { action: 'resume', afterSeq: 3, epoch: (seen.epoch as number) - 1 },
      'history',
    );
    expect(fromOtherEpoch).toMatchObject({ epoch: seen.epoch, lastSeq: 4, done: true, complete: true });
    expect((fromOtherEpoch.messages as Frame[]).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    // Nothing missed: an empty, complete history.
    expect(await back.request({ action: 'resume', afterSeq: 4 }, 'history')).toEqual({
      type: 'history',
      classRoomId: room,
      epoch: anEpoch,
      messages: [],
      lastSeq: 4,
      done: true,
      complete: true,
    });
  });

  it('presence: a snapshot with one entry per user; join and leave seen by the others', async () => {
    const room = uniqueRoom('presence');
    const t = await connect(tina, room);
    const b1 = await connect(bob, room);
    await t.nextOfType('presence', { event: 'join' });
    const b2 = await connect(bob, room, 'bob-2'); // the same user again: no second join
    const c = await connect(carol, room);
    const carolJoined = presenceFrame('join', carol);
    expect(await t.nextOfType('presence', { event: 'join' })).toEqual(carolJoined);
    expect(await b1.nextOfType('presence', { event: 'join' })).toEqual(carolJoined);
    expect(await b2.nextOfType('presence', { event: 'join' })).toEqual(carolJoined);
    expect(await b1.request({ action: 'presence' }, 'presence', { event: 'snapshot' })).toEqual({
      type: 'presence',
      event: 'snapshot',
      members: [bob, carol, tina],
    });
    await c.close();
    const carolLeft = presenceFrame('leave', carol);
    expect(await t.nextOfType('presence', { event: 'leave' })).toEqual(carolLeft);
    expect(await b1.nextOfType('presence', { event: 'leave' })).toEqual(carolLeft);
    expect(await b2.nextOfType('presence', { event: 'leave' })).toEqual(carolLeft);
    // Bob's second socket left: Bob is still connected, so no leave.
    await b2.close();
    await sleep(QUIET_MS);
    expect(t.framesWhere((f) => f.type === 'presence')).toEqual([
      presenceFrame('join', bob),
      carolJoined,
      carolLeft,
    ]);
    expect(await t.request({ action: 'presence' }, 'presence', { event: 'snapshot' })).toEqual({
      type: 'presence',
      event: 'snapshot',
      members: [bob, tina],
    });
  });

  it('ping → pong', async () => {
    const a = await connect(alice, uniqueRoom('ping'));
    expect(await a.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  it('an unknown action → unknown_action, a non-JSON frame → bad_request; the socket stays open', async () => {
    const a = await connect(alice, uniqueRoom('errors'));
    expect(await a.request({ action: 'dance' }, 'error')).toEqual(
      errorFrame('unknown_action', { action: 'dance' }),
    );
    expect(await a.request('this is not json', 'error')).toEqual(errorFrame('bad_request'));
    expect(await a.request({ no: 'action' }, 'error')).toEqual(errorFrame('bad_request'));
    expect(a.isOpen).toBe(true);
    expect(await a.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
  });

  itRequires(
    { behaviour: 'frame-limit' },
    'a 40 KB frame closes the socket with 1009 and is not delivered',
    async () => {
      const room = uniqueRoom('big');
      const a = await connect(alice, room);
      const b = await connect(bob, room);
      a.send({ action: 'sendMessage', kind: 'chat', data: 'x'.repeat(40 * 1024), clientMsgId: 'big-1' });
      const closed = await withTimeout(a.closed, FRAME_TIMEOUT_MS, 'the close after a 40 KB frame');
      expect(closed.code).toBe(1009);
      await b.nextOfType('presence', { event: 'leave' });
      expect(b.framesWhere((f) => f.type === 'message')).toEqual([]);
      expect(a.framesWhere((f) => f.type === 'ack')).toEqual([]);
    },
  );
});
