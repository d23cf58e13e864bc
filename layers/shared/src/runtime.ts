/**
 * What every WebSocket route handler shares: identity from the authorizer context, the store and
 * broadcaster for the invocation, replies, and one wrapper that logs, counts and never leaks internals.
 */
import type { APIGatewayProxyResult, APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { Broadcaster } from './broadcaster';
import type { ClassroomStore } from './classroom-store';
import {
  durabilitySettings,
  managementEndpoint,
  roomSettings,
  type StoreSettings,
  storeSettings,
} from './config';
import { DynamoRoomStore, getDynamo, operationBudgetMs } from './dynamo-store';
import { lambdaHandler } from './handler';
import { endpointFor, managementApi } from './management-api';
import { count, Metric } from './observability';
import {
  ErrorCode,
  errorFrame,
  MAX_CLIENT_MSG_ID_LENGTH,
  type Member,
  type Role,
  type ServerFrame,
} from './protocol';
import { getRedis } from './redis';
import { RoomStore, StoreUnavailableError } from './room-store';

/** The WebSocket event with the authorizer context API Gateway adds once a Lambda authorizer is attached. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    authorizer?: Record<string, unknown> | null;
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
};

export interface Caller {
  connectionId: string;
  classRoomId: string;
  member: Member;
}

export class MissingIdentityError extends Error {
  constructor() {
    super('requestContext.authorizer lacks userId/classRoomId: is the authorizer attached to $connect?');
    this.name = 'MissingIdentityError';
  }
}

/** Identity from `requestContext.authorizer` only (never from the body). */
export function callerOf(event: WebSocketEvent): Caller {
  const auth = event.requestContext.authorizer ?? {};
  const userId = auth.userId;
  const classRoomId = auth.classRoomId;
  if (typeof userId !== 'string' || typeof classRoomId !== 'string' || !userId || !classRoomId) {
    throw new MissingIdentityError();
  }
  const name = typeof auth.name === 'string' && auth.name ? auth.name : userId;
  const role = (auth.role === 'teacher' ? 'teacher' : 'student') as Role;
  return { connectionId: event.requestContext.connectionId, classRoomId, member: { userId, name, role } };
}

export function reply(frame: ServerFrame): APIGatewayProxyResult {
  return { statusCode: 200, body: JSON.stringify(frame) };
}

export const noReply: APIGatewayProxyResult = { statusCode: 200, body: '' };

let settings: ReturnType<typeof roomSettings> | undefined;
let durability: ReturnType<typeof durabilitySettings> | undefined;
let store: StoreSettings | undefined;
let configuredEndpoint: string | null | undefined;

/**
 * The classroom store for `STORE`: DynamoDB (`TABLE_NAME`, the container's DynamoDB client; no Redis
 * connection is made) or, by default, Redis on the container's Redis client.
 */
export async function roomStore(): Promise<ClassroomStore> {
  settings ??= roomSettings();
  store ??= storeSettings();
  if (store.kind === 'dynamodb')
    return new DynamoRoomStore(getDynamo(), store.tableName, settings, { budgetMs: operationBudgetMs() });
  durability ??= durabilitySettings();
  return new RoomStore(await getRedis(), settings, durability);
}

/** A broadcaster for this invocation: endpoint from configuration or the request, deadline from the context. */
export function broadcasterFor(
  event: { requestContext: { domainName: string; stage: string } },
  context?: Context,
  configured?: string,
) {
  if (configuredEndpoint === undefined) configuredEndpoint = managementEndpoint() ?? null;
  configured ??= configuredEndpoint ?? undefined;
  const endpoint = endpointFor(event.requestContext.domainName, event.requestContext.stage, configured);
  return new Broadcaster(managementApi(endpoint), {
    remainingMs: () => context?.getRemainingTimeInMillis?.() ?? 30_000,
  });
}

export type RouteHandler = (event: WebSocketEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Logger keys of a WebSocket invocation. */
export function webSocketKeys(event: WebSocketEvent): Record<string, unknown> {
  return { route: event.requestContext.routeKey, connectionId: event.requestContext.connectionId };
}

const storeUnavailable = (error: unknown) => (error instanceof StoreUnavailableError ? 'warn' : undefined);

/**
 * A route handler in the one wrapper (`lambdaHandler`): a store that cannot answer in time is answered
 * `unavailable` (nothing was acknowledged: resend), any other error `internal` (the detail is logged,
 * never sent).
 */
export function route(action: string, handler: RouteHandler): RouteHandler {
  return lambdaHandler(action, handler, {
    keys: webSocketKeys,
    expected: storeUnavailable,
    onError: (error, event) => {
      if (!(error instanceof StoreUnavailableError)) {
        return reply(errorFrame(ErrorCode.Internal, 'Internal error, please retry', { action }));
      }
      count(Metric.MessagesUnavailable);
      const clientMsgId = looseBody(event.body).clientMsgId;
      return reply(
        errorFrame(ErrorCode.Unavailable, 'Not accepted: the classroom store is unavailable, please resend', {
          action,
          ...(typeof clientMsgId === 'string' && clientMsgId.length <= MAX_CLIENT_MSG_ID_LENGTH
            ? { clientMsgId }
            : {}),
        }),
      );
    },
  });
}

/**
 * `$connect` and `$disconnect` in the one wrapper: an error is answered 500 (a handshake refused, which the
 * client retries; a `$disconnect` left to the connection TTL and the next 410).
 */
export function connectionHandler(name: string, handler: RouteHandler): RouteHandler {
  return lambdaHandler(name, handler, {
    keys: webSocketKeys,
    expected: storeUnavailable,
    onError: () => ({ statusCode: 500, body: '' }),
  });
}

/** Parsed JSON of a body, or undefined: used only to echo `clientMsgId` and `action` into error frames. */
export function looseBody(body: string | undefined | null): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body ?? '');
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
