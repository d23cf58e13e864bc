/** AWS-shaped WebSocket events and Lambda contexts for handler tests (shapes as API Gateway sends them). */
import { randomBytes } from 'node:crypto';
import type { WebSocketEvent } from '@classroom/shared';
import type { Context, SQSRecord } from 'aws-lambda';

export interface TestCaller {
  connectionId: string;
  userId: string;
  name?: string;
  role?: 'teacher' | 'student';
  classRoomId: string;
}

export function connectionId(): string {
  return `${randomBytes(9).toString('base64url').slice(0, 11)}=`;
}

export function clf(date = new Date()): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(
    date.getUTCMinutes(),
  )}:${p(date.getUTCSeconds())} +0000`;
}

export function wsEvent(
  caller: TestCaller,
  routeKey: string,
  body?: string,
  extra: Partial<WebSocketEvent['requestContext']> = {},
): WebSocketEvent {
  const now = Date.now();
  const eventType =
    routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE';
  const requestId = randomBytes(12).toString('base64url');
  return {
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
    requestContext: {
      routeKey,
      eventType,
      extendedRequestId: requestId,
      requestTime: clf(),
      messageDirection: 'IN',
      stage: 'test',
      connectedAt: now - 1000,
      requestTimeEpoch: now,
      identity: { sourceIp: '127.0.0.1' },
      requestId,
      domainName: '127.0.0.1',
      connectionId: caller.connectionId,
      apiId: 'localapi01',
      ...(eventType === 'MESSAGE' ? { messageId: randomBytes(12).toString('base64url') } : {}),
      authorizer: {
        principalId: caller.userId,
        userId: caller.userId,
        name: caller.name ?? caller.userId,
        role: caller.role ?? 'student',
        classRoomId: caller.classRoomId,
      },
      ...extra,
    } as WebSocketEvent['requestContext'],
  } as WebSocketEvent;
}

export function lambdaContext(functionName = 'test', timeoutMs = 10_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomBytes(16).toString('hex'),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

let sqsRecords = 0;

/**
 * One record of the SQS event Lambda sends to the publish function: `body` is sent as is when a string,
 * else as JSON; the message id is fresh unless given (a redelivery reuses its record).
 */
export function sqsRecord(body: unknown, messageId?: string): SQSRecord {
  sqsRecords++;
  return {
    messageId: messageId ?? `00000000-0000-4000-8000-${String(sqsRecords).padStart(12, '0')}`,
    receiptHandle: `handle-${sqsRecords}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:publish',
    awsRegion: 'us-east-1',
  };
}
