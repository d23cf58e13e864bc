import { Harness } from '../support/harness';

const h = new Harness();
beforeAll(() => h.start({ ROOM_HISTORY_LIMIT: '5' }));
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

/** Keys (items) of a room other than the rate-limit and dedupe entries, which expire within 60 s. */
const lastingKeys = (room: string) => h.inspect.lastingKeys(room);

describe('Route: $connect and $disconnect', () => {
  it('announces join to the others, and leave only when the user has no connection left', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    // Act
    const annPhone = await h.join(h.caller(room, 'ann'));
    const annLaptop = await h.join({ ...h.caller(room, 'ann') });
    await h.leave(annPhone);
    const afterFirstLeave = h.api.framesTo(teacher.connectionId).length;
    await h.leave(annLaptop, 1001);
    // Assess
    const frames = h.api.framesTo(teacher.connectionId);
    expect(frames[0]).toEqual({
      type: 'presence',
      event: 'join',
      member: { userId: 'ann', name: 'ANN', role: 'student' },
    });
    expect(afterFirstLeave).toBe(1);
    expect(frames).toHaveLength(2);
    expect(frames[1]).toEqual({
      type: 'presence',
      event: 'leave',
      member: { userId: 'ann', name: 'ANN', role: 'student' },
    });
    expect(await h.inspect.memberIds(room)).toEqual([teacher.connectionId]);
  });

  it('leaves no room keys once everyone has left', async () => {
    // Prepare
    const room = h.room();
    const a = await h.join(h.caller(room, 'a'));
    const b = await h.join(h.caller(room, 'b'));
    // Act
    await h.leave(a);
    await h.leave(b);
    // Assess
    expect(await h.inspect.lastingKeys(room)).toEqual([]);
  });

  it('is a no-op for a connection already removed (a second $disconnect)', async () => {
    // Prepare
    const room = h.room();
    const a = await h.join(h.caller(room, 'a'));
    const b = await h.join(h.caller(room, 'b'));
    await h.leave(a);
    h.api.reset();
    // Act
    const result = await h.leave(a);
    // Assess
    expect(result.statusCode).toBe(200);
    expect(h.api.framesTo(b.connectionId)).toEqual([]);
  });

  it('answers $connect with 500 when the authorizer context is missing', async () => {
    // Prepare
    const { wsEvent, lambdaContext } = await import('../support/events');
    const event = wsEvent(h.caller(h.room(), 'x'), '$connect', undefined, { authorizer: null });
    // Act
    const result = await h.handlers.connect(event, lambdaContext());
    // Assess
    expect(result.statusCode).toBe(500);
  });
});

describe('Route: resume', () => {
  it('returns the messages after afterSeq in order, and complete: false once history no longer reaches back', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    for (let i = 1; i <= 8; i++)
      await h.send('sendMessage', ann, { action: 'sendMessage', kind: 'chat', data: i });
    // Act
    const fromStart = await h.send('resume', ann, { action: 'resume', afterSeq: 0 });
    const fromThree = await h.send('resume', ann, { action: 'resume', afterSeq: 3 });
    const fromSix = await h.send('resume', ann, { action: 'resume', afterSeq: 6 });
    const upToDate = await h.send('resume', ann, { action: 'resume', afterSeq: 8 });
    // Assess
    const seqs = (frame: Record<string, unknown> | undefined) =>
      ((frame?.messages ?? []) as { seq: number }[]).map((m) => m.seq);
    expect(fromStart).toMatchObject({
      type: 'history',
      classRoomId: room,
      epoch: expect.any(Number),
      lastSeq: 8,
      done: true,
      complete: false,
    });
    expect(seqs(fromStart)).toEqual([4, 5, 6, 7, 8]);
    expect(fromThree).toMatchObject({ complete: true });
    expect(seqs(fromThree)).toEqual([4, 5, 6, 7, 8]);
    expect(seqs(fromSix)).toEqual([7, 8]);
    expect(fromSix).toMatchObject({ complete: true, done: true });
    expect(upToDate).toEqual({
      type: 'history',
      classRoomId: room,
      epoch: fromStart?.epoch,
      lastSeq: 8,
      done: true,
      complete: true,
      messages: [],
    });
  });

  it('splits a large history into frames under 128 KB, posted in order, the last with done: true', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const big = 'x'.repeat(60_000);
    for (let i = 1; i <= 5; i++)
      await h.send('sendMessage', ann, { action: 'sendMessage', kind: 'board', data: { i, big } });
    h.api.reset();
    // Act
    const answer = await h.send('resume', ann, { action: 'resume', afterSeq: 0 });
    // Assess
    expect(answer).toBeUndefined();
    const frames = h.api.framesTo(ann.connectionId);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const post of h.api.posts) expect(Buffer.byteLength(post.body)).toBeLessThanOrEqual(128 * 1024);
    expect(frames.map((f) => f.done)).toEqual([...Array(frames.length - 1).fill(false), true]);
    expect(frames.flatMap((f) => (f.messages as { seq: number }[]).map((m) => m.seq))).toEqual([
      1, 2, 3, 4, 5,
    ]);
  });

  it.each([
    { name: 'afterSeq missing', body: { action: 'resume' } },
    { name: 'afterSeq negative', body: { action: 'resume', afterSeq: -1 } },
    { name: 'afterSeq a string', body: { action: 'resume', afterSeq: '3' } },
    { name: 'afterSeq fractional', body: { action: 'resume', afterSeq: 1.5 } },
  ])('answers $name with bad_request', async ({ body }) => {
    // Prepare
    const ann = await h.join(h.caller(h.room(), 'ann'));
    // Act
    const answer = await h.send('resume', ann, body);
    // Assess
    expect(answer).toEqual({
      type: 'error',
      code: 'bad_request',
      message: expect.any(String),
      action: 'resume',
    });
  });
});

describe('Route: presence', () => {
  it('lists the members now connected, one entry per user', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    await h.join(h.caller(room, 'ann'));
    await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await h.leave(bob);
    // Act
    const snapshot = await h.send('presence', teacher, { action: 'presence' });
    // Assess
    expect(snapshot).toEqual({
      type: 'presence',
      event: 'snapshot',
      members: [
        { userId: 'ann', name: 'ANN', role: 'student' },
        { userId: 'teacher', name: 'TEACHER', role: 'teacher' },
      ],
    });
  });
});

describe('Route: endClass', () => {
  it('sends classEnded to every connection, closes them all and deletes the room state', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await h.send('sendMessage', ann, { action: 'sendMessage', kind: 'chat', data: 'bye' });
    h.api.reset();
    // Act
    await h.send('endClass', teacher, { action: 'endClass' });
    // Assess
    const ended = {
      type: 'classEnded',
      classRoomId: room,
      by: { userId: 'teacher', name: 'TEACHER', role: 'teacher' },
    };
    for (const c of [teacher, ann, bob]) expect(h.api.framesTo(c.connectionId)).toEqual([ended]);
    expect(h.api.deletes.sort()).toEqual([teacher, ann, bob].map((c) => c.connectionId).sort());
    expect(await lastingKeys(room)).toEqual([]);
    // Their $disconnect afterwards announces nothing and recreates nothing.
    h.api.reset();
    for (const c of [teacher, ann, bob]) await h.leave(c);
    expect(h.api.posts).toEqual([]);
    expect(await lastingKeys(room)).toEqual([]);
  });

  it('refuses a student with forbidden and changes nothing', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const ann = await h.join(h.caller(room, 'ann'));
    h.api.reset();
    // Act
    const answer = await h.send('endClass', ann, { action: 'endClass' });
    // Assess
    expect(answer).toEqual({
      type: 'error',
      code: 'forbidden',
      message: expect.any(String),
      action: 'endClass',
    });
    expect(h.api.posts).toEqual([]);
    expect(await h.inspect.memberIds(room)).toHaveLength(2);
    expect(h.api.framesTo(teacher.connectionId)).toEqual([]);
  });
});

describe('Routes: ping and $default', () => {
  it('answers ping with pong', async () => {
    const ann = await h.join(h.caller(h.room(), 'ann'));
    expect(await h.send('ping', ann, { action: 'ping' })).toEqual({ type: 'pong' });
  });

  it.each([
    {
      name: 'an unknown action',
      body: { action: 'dance' },
      expected: { code: 'unknown_action', action: 'dance' },
    },
    { name: 'no action', body: { kind: 'chat' }, expected: { code: 'bad_request' } },
    { name: 'not JSON', body: '{oops', expected: { code: 'bad_request' } },
    { name: 'a JSON array', body: '[1,2]', expected: { code: 'bad_request' } },
    { name: 'an empty frame', body: '', expected: { code: 'bad_request' } },
  ])('answers $name on $default with an error frame', async ({ body, expected }) => {
    // Prepare
    const ann = await h.join(h.caller(h.room(), 'ann'));
    // Act
    const answer = await h.send('fallback', ann, body);
    // Assess
    expect(answer).toEqual({ type: 'error', message: expect.any(String), ...expected });
  });
});
