/**
 * Server-side publish from SQS. A body `{classRoomId, kind, data}` becomes a room message from `system`
 * (stored, sequenced, deduplicated by SQS message id for redeliveries); with `userId` it is a `direct`
 * frame to that user's connections in the room. Failed records are reported back (partial batch response)
 * so SQS retries them and, in the end, moves them to the dead-letter queue.
 */
import {
  BatchProcessor,
  broadcasterFor,
  count,
  EventType,
  fanout,
  fitsInFrame,
  flushMetrics,
  getString,
  logger,
  MAX_DATA_DEPTH,
  MAX_KIND_LENGTH,
  Metric,
  messageParts,
  nestedDeeperThan,
  processPartialResponse,
  roomStore,
  type ServerFrame,
  SYSTEM_SENDER,
} from '@classroom/shared';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

const processor = new BatchProcessor(EventType.SQS);
// The publish path has no WebSocket request: the management endpoint must come from configuration.
const endpoint = getString('MANAGEMENT_ENDPOINT');
const endpointStage = { requestContext: { domainName: '', stage: '' } };

export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

interface PublishRequest {
  classRoomId: string;
  kind: string;
  data: unknown;
  userId?: string;
}

export function parsePublish(body: string): PublishRequest {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PublishError('body is not JSON');
  }
  const v = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PublishError('body must be an object');
  if (typeof v.classRoomId !== 'string' || v.classRoomId.length === 0)
    throw new PublishError('classRoomId is required');
  if (typeof v.kind !== 'string' || v.kind.length < 1 || v.kind.length > MAX_KIND_LENGTH) {
    throw new PublishError(`kind must be a string of 1 to ${MAX_KIND_LENGTH} characters`);
  }
  if (v.data === undefined) throw new PublishError('data is required');
  if (nestedDeeperThan(v.data, MAX_DATA_DEPTH))
    throw new PublishError(`data must not nest more than ${MAX_DATA_DEPTH} levels deep`);
  if (v.userId !== undefined && (typeof v.userId !== 'string' || v.userId.length === 0)) {
    throw new PublishError('userId must be a non-empty string');
  }
  return { classRoomId: v.classRoomId, kind: v.kind, data: v.data, userId: v.userId as string | undefined };
}

let context: Context | undefined;

async function publish(record: SQSRecord): Promise<void> {
  const request = parsePublish(record.body);
  const store = await roomStore();
  const broadcaster = broadcasterFor(endpointStage, context, endpoint);
  if (request.userId !== undefined) {
    const targets = [...(await store.listMembers(request.classRoomId)).entries()]
      .filter(([, member]) => member.userId === request.userId)
      .map(([connectionId]) => connectionId);
    const frame: ServerFrame = {
      type: 'direct',
      classRoomId: request.classRoomId,
      id: record.messageId,
      kind: request.kind,
      data: request.data,
      sentAt: Date.now(),
    };
    const result = await fanout(store, broadcaster, request.classRoomId, targets, JSON.stringify(frame));
    if (result.failed.length > 0) throw new PublishError('direct delivery failed');
    return;
  }
  const parts = messageParts({
    classRoomId: request.classRoomId,
    from: SYSTEM_SENDER,
    kind: request.kind,
    data: request.data,
  });
  if (!fitsInFrame(parts)) throw new PublishError('message too large to deliver (too_large)');
  const result = await store.append({
    roomId: request.classRoomId,
    id: parts.id,
    head: parts.head,
    tail: parts.tail,
    transient: false,
    dedupe: { scope: 'system', key: record.messageId },
    rateLimited: false,
  });
  if (result.status === 'duplicate') {
    count(Metric.MessagesDuplicate);
    return;
  }
  count(Metric.MessagesAccepted);
  // Stored with its seq: a member whose delivery fails sees the gap and resumes, so no retry of the record.
  await fanout(store, broadcaster, request.classRoomId, result.recipients, parts.withSeq(result.seq));
}

async function recordHandler(record: SQSRecord): Promise<void> {
  try {
    await publish(record);
  } catch (error) {
    count(Metric.PublishFailures);
    logger.error('publish failed', { messageId: record.messageId, error: error as Error });
    throw error;
  }
}

export async function handler(event: SQSEvent, lambdaContext: Context): Promise<SQSBatchResponse> {
  context = lambdaContext;
  logger.addContext(lambdaContext);
  try {
    return await processPartialResponse(event, recordHandler, processor, { context: lambdaContext });
  } finally {
    flushMetrics();
  }
}
