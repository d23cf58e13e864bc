/** SPEC §4 `endClass`: a teacher ends the class (every connection gets `classEnded`, then is closed, the room's state is gone); a student is refused with `forbidden`. */
import { FRAME_TIMEOUT_MS, sleep, withTimeout } from './support/client';
import { anEpoch, chat, errorFrame } from './support/frames';
import { connector, describeTarget, member, uniqueRoom } from './support/target';

describeTarget('endClass', {}, (ctx) => {
  const tina = member('tina', 'teacher');
  const bob = member('bob');
  const carol = member('carol');
  const dave = member('dave');
  const connect = connector(ctx);

  it('is refused to a student with forbidden; the socket stays open and the class goes on', async () => {
    const room = uniqueRoom('end');
    const t = await connect(tina, room);
    const b = await connect(bob, room);
    expect(await b.request({ action: 'endClass' }, 'error')).toEqual(
      errorFrame('forbidden', { action: 'endClass' }),
    );
    expect(b.isOpen).toBe(true);
    expect(await b.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
    await sleep(200);
    expect(t.framesWhere((f) => f.type === 'classEnded')).toEqual([]);
    expect(t.isOpen).toBe(true);
  });

  it('by a teacher: every connection of the room gets classEnded, then is closed; other rooms are untouched', async () => {
    const room = uniqueRoom('end');
    const t = await connect(tina, room);
    const b = await connect(bob, room);
    const b2 = await connect(bob, room, 'bob-2');
    const c = await connect(carol, room);
    const d = await connect(dave, uniqueRoom('elsewhere'));
    const last = await t.request(chat('last words', 'e-1'), 'ack');
    t.send({ action: 'endClass' });
    const expected = { type: 'classEnded', classRoomId: room, by: tina };
    for (const client of [t, b, b2, c]) {
      expect(await client.nextOfType('classEnded')).toEqual(expected);
      const closed = await withTimeout(
        client.closed,
        FRAME_TIMEOUT_MS,
        `${client.label} closed after classEnded`,
      );
      // The emulator closes as DeleteConnection does on AWS (1000); AWS does not document the code.
      if (ctx.target.gateway) expect(closed.code).toBe(1000);
      expect(client.frames.at(-1)).toEqual(expected);
    }
    expect(d.isOpen).toBe(true);
    expect(d.frames).toEqual([]);
    // The room's state is gone: a new member finds no history, a new epoch, and only itself present.
    const again = await connect(carol, room, 'carol-again');
    const history = await again.request({ action: 'resume', afterSeq: 0 }, 'history');
    expect(history).toEqual({
      type: 'history',
      classRoomId: room,
      epoch: anEpoch,
      messages: [],
      lastSeq: 0,
      done: true,
      complete: true,
    });
    expect(history.epoch).not.toBe(last.epoch);
    expect(await again.request({ action: 'presence' }, 'presence')).toEqual({
      type: 'presence',
      event: 'snapshot',
      members: [carol],
    });
  });
});
