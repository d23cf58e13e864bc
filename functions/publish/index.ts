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
  getString,
  isValidRoomId,
  lambdaHandler,
  logger,
  MAX_DATA_DEPTH,
  MAX_KIND_LENGTH,
  Metric,
  messageParts,
  nestedDeeperThan,
  processPartialResponse,
  publishDedupeSeconds,
  roomStore,
  type ServerFrame,
  StoreUnavailableError,
  SYSTEM_SENDER,
} from '@classroom/shared';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

const processor = new BatchProcessor(EventType.SQS);
// The publish path has no WebSocket request: the management endpoint must come from configuration.
const endpoint = getString('MANAGEMENT_ENDPOINT');
const endpointStage = { requestContext: { domainName: '', stage: '' } };
// A record is remembered for the queue's whole redelivery window, from the queue's own settings.
const dedupeTtlSeconds = publishDedupeSeconds();

/** Why a record failed, in the SPEC's error codes (logged; the record goes back to SQS, then the DLQ). */
export type PublishErrorCode = 'bad_request' | 'too_large' | 'unavailable' | 'internal';

export class PublishError extends Error {
  constructor(
    message: string,
    readonly code: PublishErrorCode = 'bad_request',
  ) {
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
  if (!isValidRoomId(v.classRoomId))
    throw new PublishError('classRoomId must be 1 to 128 characters of A-Z a-z 0-9 _ - . :');
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
    if (result.failed.length > 0) throw new PublishError('direct delivery failed', 'internal');
    return;
  }
  const parts = messageParts({
    classRoomId: request.classRoomId,
    from: SYSTEM_SENDER,
    kind: request.kind,
    data: request.data,
  });
  if (!fitsInFrame(parts)) throw new PublishError('message too large to deliver', 'too_large');
  const result = await store.append(
    {
      roomId: request.classRoomId,
      id: parts.id,
      head: parts.head,
      tail: parts.tail,
      transient: false,
      dedupe: { scope: 'system', key: record.messageId },
      rateLimited: false,
    },
    { dedupeTtlSeconds },
  );
  if (result.status === 'duplicate') return;
  if (result.status === 'unavailable') {
    // Not confirmed by the replicas: a batch item failure, so SQS redelivers and the retry completes it.
    count(Metric.MessagesUnavailable);
    throw new PublishError('not confirmed by the replicas in time', 'unavailable');
  }
  count(Metric.MessagesAccepted);
  // Stored with its seq: a member whose delivery fails sees the gap and resumes, so no retry of the record.
  if (result.frame) await fanout(store, broadcaster, request.classRoomId, result.recipients, result.frame);
}

async function recordHandler(record: SQSRecord): Promise<void> {
  try {
    await publish(record);
  } catch (error) {
    const code =
      error instanceof PublishError
        ? error.code
        : error instanceof StoreUnavailableError
          ? 'unavailable'
          : 'internal';
    logger.error('publish failed', { messageId: record.messageId, code, error: error as Error });
    throw error;
  }
}

export const handler = lambdaHandler(
  'publish',
  async (event: SQSEvent, lambdaContext: Context): Promise<SQSBatchResponse> => {
    context = lambdaContext;
    // A batch whose every record failed is answered like any other (each record listed), not thrown:
    // SQS retries exactly the same records either way, and the response says which.
    return processPartialResponse(event, recordHandler, processor, {
      context: lambdaContext,
      throwOnFullBatchFailure: false,
    });
  },
  {
    // Failed records are answered in the batch response; an error here is the batch's own: SQS retries it.
    onError: (error) => {
      throw error;
    },
  },
);
