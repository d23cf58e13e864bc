import { getRedis } from '@classroom/shared';
import { Harness } from '../support/harness';
import { watchClient } from '../support/monitor';
import { itOnRedis } from '../support/skip';

const h = new Harness();
beforeAll(() => h.start({ ROOM_HISTORY_LIMIT: '5', RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '10' }));
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

/**
 * Counts the commands the handlers' own Redis client sends (round trips) while `act` runs: to the one
 * Redis, or on a cluster to every node (a command sent to the wrong master and redirected counts twice).
 */
async function roundTrips(act: () => Promise<unknown>): Promise<{ trips: number; commands: string[] }> {
  const monitor = await watchClient(await getRedis());
  await act();
  const commands = (await monitor.stop()).map((l) => l.command);
  return { trips: commands.length, commands };
}

describe('Route: sendMessage', () => {
  itOnRedis(
    'costs exactly one Redis round trip whatever the room size',
    async () => {
      for (const size of [1, 10, 100]) {
        // Prepare
        const room = h.room();
        const members = [];
        for (let i = 0; i < size; i++) members.push(await h.join(h.caller(room, `u${i}`)));
        const sender = members[0];
        if (!sender) throw new Error('no sender');
        await h.send('sendMessage', sender, { action: 'sendMessage', kind: 'chat', data: 'warm-up' });
        // Act
        const { trips, commands } = await roundTrips(() =>
          h.send('sendMessage', sender, {
            action: 'sendMessage',
            kind: 'chat',
            data: { text: 'hi' },
            clientMsgId: `m-${size}`,
          }),
        );
        // Assess
        expect({ size, trips, commands }).toEqual({ size, trips: 1, commands: ['evalsha'] });
      }
    },
    'counts Redis commands (MONITOR); the DynamoDB calls per send: dynamo-store.dynamodb.test.ts',
    60_000,
  );

  it('delivers to every other member, acks the sender, and leaves other rooms alone', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const outsider = await h.join(h.caller(h.room(), 'eve'));
    h.api.reset();
    // Act
    const ack = await h.send('sendMessage', teacher, {
      action: 'sendMessage',
      kind: 'chat',
      data: { text: 'Open page 12' },
      clientMsgId: 'c1',
    });
    // Assess
    expect(ack).toEqual({
      type: 'ack',
      clientMsgId: 'c1',
      epoch: expect.any(Number),
      seq: 1,
      id: expect.any(String),
    });
    expect(Number.isSafeInteger(ack?.epoch)).toBe(true);
    for (const member of [ann, bob]) {
      expect(h.api.framesTo(member.connectionId)).toEqual([
        {
          type: 'message',
          classRoomId: room,
          epoch: ack?.epoch,
          seq: 1,
          id: ack?.id,
          from: { userId: 'teacher', name: 'TEACHER', role: 'teacher' },
          kind: 'chat',
          data: { text: 'Open page 12' },
          sentAt: expect.any(Number),
        },
      ]);
    }
    expect(h.api.framesTo(teacher.connectionId)).toEqual([]);
    expect(h.api.framesTo(outsider.connectionId)).toEqual([]);
  });

  it('takes the sender from the authorizer context, never from the body', async () => {
    // Prepare
    const room = h.room();
    const mallory = await h.join(h.caller(room, 'mallory'));
    const ann = await h.join(h.caller(room, 'ann'));
    // Act
    await h.send('sendMessage', mallory, {
      action: 'sendMessage',
      kind: 'chat',
      data: 'I am the teacher',
      from: { userId: 'teacher', role: 'teacher' },
      userId: 'teacher',
    });
    // Assess
    expect(h.api.framesTo(ann.connectionId)[0]?.from).toEqual({
      userId: 'mallory',
      name: 'MALLORY',
      role: 'student',
    });
  });

  it('does not broadcast a resent clientMsgId twice and acks it with the original seq', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    const frame = { action: 'sendMessage', kind: 'chat', data: 'once', clientMsgId: 'dup-1' };
    const first = await h.send('sendMessage', ann, frame);
    // Act
    const second = await h.send('sendMessage', ann, frame);
    // Assess
    expect(second).toEqual(first);
    expect(h.api.framesTo(bob.connectionId)).toHaveLength(1);
  });

  it('does not store transient messages nor give them a seq', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    // Act
    const ack = await h.send('sendMessage', ann, {
      action: 'sendMessage',
      kind: 'cursor',
      data: { x: 1, y: 2 },
      transient: true,
      clientMsgId: 't1',
    });
    // Assess
    expect(ack).toEqual({
      type: 'ack',
      clientMsgId: 't1',
      epoch: expect.any(Number),
      id: expect.any(String),
    });
    const [frame] = h.api.framesTo(bob.connectionId);
    expect(frame).toMatchObject({ type: 'message', kind: 'cursor', data: { x: 1, y: 2 }, epoch: ack?.epoch });
    expect(frame).not.toHaveProperty('seq');
    expect(await h.inspect.hasStoredMessages(room)).toBe(false);
  });

  it('trims the history to ROOM_HISTORY_LIMIT and sets the room TTL', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    // Act
    for (let i = 1; i <= 8; i++)
      await h.send('sendMessage', ann, { action: 'sendMessage', kind: 'chat', data: i });
    // Assess
    expect(await h.inspect.storedSeqs(room)).toEqual([4, 5, 6, 7, 8]);
    expect(await h.inspect.roomTtlSeconds(room)).toBeGreaterThan(86_000);
  });

  it('refuses a flood past the rate limit with rate_limited and stores nothing of it', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    // Act: 40 at once (a flood arrives at once; sequential sends against a slow local DynamoDB would take
    // long enough for the bucket to refill between them)
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        h.send('sendMessage', ann, { action: 'sendMessage', kind: 'chat', data: i, clientMsgId: `f${i}` }),
      ),
    );
    // Assess
    const limited = answers.filter((a) => a?.code === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(4);
    expect(limited[0]).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: expect.any(String),
      action: 'sendMessage',
      clientMsgId: expect.stringMatching(/^f\d+$/),
    });
    const acked = answers.filter((a) => a?.type === 'ack').length;
    expect(await h.inspect.seq(room)).toBe(acked);
  });

  it.each([
    { name: 'not JSON', body: 'hello', code: 'bad_request' },
    { name: 'kind missing', body: { action: 'sendMessage', data: 1 }, code: 'bad_request' },
    {
      name: 'kind too long',
      body: { action: 'sendMessage', kind: 'k'.repeat(33), data: 1 },
      code: 'bad_request',
    },
    { name: 'data missing', body: { action: 'sendMessage', kind: 'chat' }, code: 'bad_request' },
    {
      name: 'clientMsgId too long',
      body: { action: 'sendMessage', kind: 'chat', data: 1, clientMsgId: 'x'.repeat(65) },
      code: 'bad_request',
    },
    {
      name: 'transient not a boolean',
      body: { action: 'sendMessage', kind: 'chat', data: 1, transient: 'yes' },
      code: 'bad_request',
    },
    {
      name: 'another room',
      body: { action: 'sendMessage', kind: 'chat', data: 1, classRoomId: 'other-room' },
      code: 'forbidden',
    },
    {
      name: 'over 128 KB to deliver',
      body: { action: 'sendMessage', kind: 'chat', data: 'x'.repeat(130_000) },
      code: 'too_large',
    },
  ])('answers $name with $code, delivering and storing nothing', async ({ body, code }) => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    // Act
    const answer = await h.send('sendMessage', ann, body);
    // Assess
    expect(answer).toMatchObject({ type: 'error', code, message: expect.any(String) });
    expect(JSON.stringify(answer)).not.toMatch(/at .*\.ts|Error:/);
    expect(h.api.framesTo(bob.connectionId)).toEqual([]);
    expect(await h.inspect.roomExists(room)).toBe(false);
  });

  it('refuses a connection that is no longer in the room (class ended)', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const ann = await h.join(h.caller(room, 'ann'));
    await h.send('endClass', teacher, { action: 'endClass' });
    // Act
    const answer = await h.send('sendMessage', ann, { action: 'sendMessage', kind: 'chat', data: 'late' });
    // Assess
    expect(answer).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await h.inspect.roomExists(room)).toBe(false);
  });
});
