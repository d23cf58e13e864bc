import { Harness } from '../support/harness';

const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

describe('Broadcast: sendMessage to 100 members', () => {
  it('delivers 99 when one member answers 410 and one 429 then 200; removes only the stale member', async () => {
    // Prepare
    const room = h.room();
    const sender = await h.join(h.caller(room, 'teacher', 'teacher'));
    const members = [];
    for (let i = 0; i < 100; i++) members.push(await h.join(h.caller(room, `s${i}`)));
    const stale = members[10];
    const throttled = members[20];
    if (!stale || !throttled) throw new Error('members missing');
    h.api.reset();
    h.api.markGone(stale.connectionId);
    h.api.script(throttled.connectionId, 429, 200);
    // Act
    const ack = await h.send('sendMessage', sender, {
      action: 'sendMessage',
      kind: 'chat',
      data: 'hi',
      clientMsgId: 'a',
    });
    // Assess
    expect(ack).toMatchObject({ type: 'ack', seq: 1 });
    const messages = h.api.posts.filter((p) => JSON.parse(p.body).type === 'message');
    expect(messages).toHaveLength(99);
    expect(new Set(messages.map((p) => p.connectionId)).has(stale.connectionId)).toBe(false);
    expect(h.api.framesTo(throttled.connectionId).filter((f) => f.type === 'message')).toHaveLength(1);
    const stored = await h.inspect.memberIds(room);
    expect(stored).not.toContain(stale.connectionId);
    expect(stored).toContain(sender.connectionId);
    expect(stored).toHaveLength(100);
    // The stale user had no other connection: the others hear that it left.
    const leaves = h.api.posts.filter((p) => JSON.parse(p.body).event === 'leave');
    expect(leaves).toHaveLength(100);
    expect(JSON.parse(leaves[0]?.body ?? '{}').member).toEqual({
      userId: 's10',
      name: 'S10',
      role: 'student',
    });
  });

  it('gives up on a member that keeps answering 500, and the message stays recoverable by resume', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    h.api.script(bob.connectionId, 500, 500, 500, 500, 500, 500, 500, 500);
    // Act
    const ack = await h.send('sendMessage', ann, {
      action: 'sendMessage',
      kind: 'chat',
      data: 'x',
      clientMsgId: 'b',
    });
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess
    expect(ack).toMatchObject({ type: 'ack', seq: 1 });
    expect(h.api.framesTo(bob.connectionId)).toEqual([]);
    expect(history).toMatchObject({ type: 'history', lastSeq: 1, done: true, complete: true });
    expect(((history?.messages ?? []) as { seq: number }[]).map((m) => m.seq)).toEqual([1]);
    expect(await h.inspect.memberIds(room)).toContain(bob.connectionId);
  });
});
