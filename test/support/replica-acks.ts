/**
 * What the replica-ack handler tests share on both targets (test/handlers/replica-acks.test.ts: a
 * standalone primary and its replica; replica-acks.cluster.test.ts: a cluster's masters and their
 * replicas): the environment, the publish function, a chat send, and the scenarios whose steps and
 * assertions are the same whatever cuts the replica off (`cut`) and brings it back (`rejoin`).
 */
import type { SQSEvent } from 'aws-lambda';
import { lambdaContext, sqsRecord, type TestCaller } from './events';
import type { Harness } from './harness';

/** MIN_REPLICA_ACKS=1 with the largest ack timeout allowed: the confirmed paths must hold on a busy machine too. */
export const REPLICA_ACK_ENV = {
  MIN_REPLICA_ACKS: '1',
  REPLICA_ACK_TIMEOUT_MS: '500',
  PUBLISH_VISIBILITY_TIMEOUT_SECONDS: '30',
  PUBLISH_MAX_RECEIVES: '3',
};

export type Publish = (
  event: SQSEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

/** The publish function's handler (load it once the harness has set the environment). */
export async function loadPublish(): Promise<Publish> {
  return (await import('../../functions/publish/index')).handler as unknown as Publish;
}

/** A chat message from `caller` (with `clientMsgId` when given); the route's answer. */
export function sendChat(h: Harness, caller: TestCaller, data: unknown, clientMsgId?: string) {
  return h.send('sendMessage', caller, {
    action: 'sendMessage',
    kind: 'chat',
    data,
    ...(clientMsgId ? { clientMsgId } : {}),
  });
}

/** A transient message is acked and delivered while `ann`'s room has no replica (`cut` before). */
export async function expectTransientNotWaiting(h: Harness, ann: TestCaller, bob: TestCaller): Promise<void> {
  // Act (a transient send that waited would find no replica and be refused)
  const ack = await h.send('sendMessage', ann, {
    action: 'sendMessage',
    kind: 'cursor',
    data: { x: 1 },
    transient: true,
    clientMsgId: 't1',
  });
  // Assess
  expect(ack).toMatchObject({ type: 'ack', clientMsgId: 't1' });
  expect(h.api.framesTo(bob.connectionId)).toHaveLength(1);
}

/**
 * A server publish to `ann`'s room while no replica confirms is a batch item failure and delivers
 * nothing; its redelivery once the replica is back publishes it, and a second one does not again.
 */
export async function expectUnconfirmedPublishRetried(
  h: Harness,
  publish: Publish,
  ann: TestCaller,
  messageId: string,
  replica: { cut: () => unknown; rejoin: () => Promise<void> },
): Promise<void> {
  // Prepare
  const record = sqsRecord({ classRoomId: ann.classRoomId, kind: 'notice', data: 'quiz at 10' }, messageId);
  await replica.cut();
  // Act
  const failed = await publish({ Records: [record] }, lambdaContext('publish'));
  const framesWhileCut = h.api.framesTo(ann.connectionId);
  await replica.rejoin();
  const redelivered = await publish({ Records: [record] }, lambdaContext('publish'));
  const again = await publish({ Records: [record] }, lambdaContext('publish'));
  // Assess
  expect(failed.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  expect(framesWhileCut).toEqual([]);
  expect(redelivered.batchItemFailures).toEqual([]);
  expect(again.batchItemFailures).toEqual([]);
  expect(h.api.framesTo(ann.connectionId).map((f) => [f.seq, f.data])).toEqual([[1, 'quiz at 10']]);
}
