/**
 * SPEC §4 server-side publish: a message put on the publish queue with the real @aws-sdk/client-sqs
 * (moto locally, LocalStack in containers, the stack's queue on AWS) reaches the room as a `message` from
 * `system`; with `userId` it reaches that user's connections only, as a `direct` frame.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { sleep } from './support/client';
import { anEpoch, messageFrame, SYSTEM } from './support/frames';
import { connector, describeTarget, member, uniqueRoom } from './support/target';

const DELIVERY_MS = 8000;

describeTarget('server publish through SQS', { requires: { sqs: true }, options: { sqs: true } }, (ctx) => {
  const alice = member('alice');
  const bob = member('bob');
  const connect = connector(ctx, 'all');
  const publish = async (body: unknown) => {
    const { sqs, publishQueueUrl } = ctx.target;
    if (!sqs || !publishQueueUrl) throw new Error('the target has no publish queue');
    await sqs.send(new SendMessageCommand({ QueueUrl: publishQueueUrl, MessageBody: JSON.stringify(body) }));
  };

  it('a queued room message reaches every member as a message from system, stored with its seq', async () => {
    const room = uniqueRoom('publish');
    const a = await connect(alice, room);
    const b = await connect(bob, room);
    await publish({ classRoomId: room, kind: 'announcement', data: { text: 'quiz in 5 minutes' } });
    const [toAlice, toBob] = await Promise.all([
      a.nextOfType('message', {}, DELIVERY_MS),
      b.nextOfType('message', {}, DELIVERY_MS),
    ]);
    const expected = messageFrame(room, SYSTEM, {
      seq: 1,
      id: expect.any(String),
      kind: 'announcement',
      data: { text: 'quiz in 5 minutes' },
    });
    expect(toAlice).toEqual(expected);
    expect(toBob).toEqual(toAlice);
    expect(await b.request({ action: 'resume', afterSeq: 0 }, 'history')).toEqual({
      type: 'history',
      classRoomId: room,
      epoch: anEpoch,
      messages: [toAlice],
      lastSeq: 1,
      done: true,
      complete: true,
    });
  });

  it('a queued message with userId reaches only that user, as a direct frame', async () => {
    const room = uniqueRoom('direct');
    const a = await connect(alice, room);
    const b1 = await connect(bob, room);
    const b2 = await connect(bob, room, 'bob-2');
    await publish({ classRoomId: room, kind: 'grade', data: { score: 17 }, userId: 'bob' });
    const expected = {
      type: 'direct',
      classRoomId: room,
      id: expect.any(String),
      kind: 'grade',
      data: { score: 17 },
      sentAt: expect.any(Number),
    };
    const [one, two] = await Promise.all([
      b1.nextOfType('direct', {}, DELIVERY_MS),
      b2.nextOfType('direct', {}, DELIVERY_MS),
    ]);
    expect(one).toEqual(expected);
    expect(two).toEqual(one);
    await sleep(300);
    expect(a.framesWhere((f) => f.type === 'direct' || f.type === 'message')).toEqual([]);
    // Not stored: no seq was used.
    expect(await a.request({ action: 'resume', afterSeq: 0 }, 'history')).toMatchObject({
      lastSeq: 0,
      messages: [],
    });
  });
});
