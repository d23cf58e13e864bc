import { join } from 'node:path';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { loadTemplate } from '../../local/template';
import { lambdaContext, sqsRecord } from '../support/events';
import { Harness } from '../support/harness';

// The publish function's environment and its queue, as template.yaml defines them.
const template = loadTemplate(join(__dirname, '../../template.yaml'));
const publishEnv = template.functions.get('PublishFunction')?.environment ?? {};
const queue = template.queues.get('PublishQueue')?.properties ?? {};

const h = new Harness();
type Publish = (
  event: SQSEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
let publish: Publish;
beforeAll(async () => {
  await h.start({
    PUBLISH_VISIBILITY_TIMEOUT_SECONDS: publishEnv.PUBLISH_VISIBILITY_TIMEOUT_SECONDS ?? '',
    PUBLISH_MAX_RECEIVES: publishEnv.PUBLISH_MAX_RECEIVES ?? '',
  });
  publish = (await import('../../functions/publish/index')).handler as unknown as Publish;
});
afterAll(() => h.stop());
beforeEach(() => h.api.reset());

describe('Function: publish (SQS)', () => {
  it('delivers a room message from system (stored with a seq) and a direct message to one user', async () => {
    // Prepare
    const room = h.room();
    const teacher = await h.join(h.caller(room, 'teacher', 'teacher'));
    const annPhone = await h.join(h.caller(room, 'ann'));
    const annLaptop = await h.join(h.caller(room, 'ann'));
    h.api.reset();
    const roomRecord = sqsRecord({ classRoomId: room, kind: 'quiz', data: { q: 1 } });
    const directRecord = sqsRecord({ classRoomId: room, kind: 'grade', data: { score: 9 }, userId: 'ann' });
    // Act
    const result = await publish({ Records: [roomRecord, directRecord] }, lambdaContext('publish'));
    // Assess
    expect(result.batchItemFailures).toEqual([]);
    // The batch's records run at once (standard queue, no order between them): frames found by type.
    const ofType = (c: { connectionId: string }, type: string) =>
      h.api.framesTo(c.connectionId).filter((f) => f.type === type);
    for (const c of [teacher, annPhone, annLaptop]) {
      expect(ofType(c, 'message')).toHaveLength(1);
      expect(ofType(c, 'message')[0]).toMatchObject({
        type: 'message',
        seq: 1,
        from: { userId: 'system', role: 'system' },
        kind: 'quiz',
        data: { q: 1 },
      });
    }
    const direct = {
      type: 'direct',
      classRoomId: room,
      id: directRecord.messageId,
      kind: 'grade',
      data: { score: 9 },
    };
    for (const c of [annPhone, annLaptop]) {
      expect(h.api.framesTo(c.connectionId)).toHaveLength(2);
      expect(ofType(c, 'direct')[0]).toMatchObject(direct);
    }
    expect(h.api.framesTo(teacher.connectionId)).toHaveLength(1);
  });

  it('does not publish a redelivered SQS message twice', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const once = sqsRecord({ classRoomId: room, kind: 'notice', data: 'once' });
    // Act
    await publish({ Records: [once] }, lambdaContext('publish'));
    await publish({ Records: [once] }, lambdaContext('publish'));
    // Assess
    expect(h.api.framesTo(ann.connectionId)).toHaveLength(1);
    expect(await h.inspect.seq(room)).toBe(1);
  });

  it("remembers a publish for the queue's whole redelivery window, from the template's queue settings", async () => {
    // Prepare
    const room = h.room();
    await h.join(h.caller(room, 'ann'));
    const once = sqsRecord({ classRoomId: room, kind: 'notice', data: 'once' });
    const visibility = Number(queue.VisibilityTimeout);
    const receives = Number(
      (queue.RedrivePolicy as { maxReceiveCount?: unknown } | undefined)?.maxReceiveCount,
    );
    // Act
    await publish({ Records: [once] }, lambdaContext('publish'));
    // Assess
    expect(visibility * receives).toBeGreaterThanOrEqual(180 * 5);
    const ttl = await h.inspect.dedupeTtlSeconds(room, 'system', once.messageId);
    expect(ttl).toBeGreaterThanOrEqual(visibility * receives);
    expect(ttl).toBeLessThanOrEqual(visibility * receives + 60);
  });

  it('reports only the bad records as batch item failures', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const good = sqsRecord({ classRoomId: room, kind: 'notice', data: 1 });
    const bad = [
      sqsRecord('not json'),
      sqsRecord({ kind: 'notice', data: 1 }),
      sqsRecord({ classRoomId: room, kind: '', data: 1 }),
      sqsRecord({ classRoomId: room, kind: 'notice' }),
      sqsRecord({ classRoomId: room, kind: 'notice', data: 'x'.repeat(140_000) }),
      sqsRecord({ classRoomId: `}${room}`, kind: 'notice', data: 1 }),
      sqsRecord({ classRoomId: 'room with spaces', kind: 'notice', data: 1 }),
    ];
    // Act
    const result = await publish(
      { Records: [bad[0] as SQSRecord, good, ...bad.slice(1)] },
      lambdaContext('publish'),
    );
    // Assess
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      bad.map((r) => r.messageId).sort(),
    );
    expect(h.api.framesTo(ann.connectionId)).toHaveLength(1);
  });
});
