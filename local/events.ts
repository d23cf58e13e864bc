/**
 * API Gateway WebSocket events as AWS shapes them (see the captures described in the README): the
 * REQUEST authorizer input, `$connect`, message routes and `$disconnect`, plus AWS-looking ids and times.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An opaque id like API Gateway's (`BFaT_fALIAMCKug=`): 11 random bytes, base64url, padded. */
export function awsId(): string {
  return `${randomBytes(11).toString('base64url')}=`;
}

/** A random 10-character lowercase id, like an API id (`c5jwxq709g`). */
export function randomApiId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Common Log Format time in UTC: `11/Nov/2024:13:45:46 +0000`. */
export function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} +0000`;
}

/** What every event of one connection shares. */
export interface ConnectionInfo {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent: string;
  apiId: string;
  stage: string;
  domainName: string;
  /** `principalId` + the authorizer's context, values stringified; absent without an authorizer. */
  authorizer?: Record<string, unknown>;
}

/** The handshake as API Gateway reports it: headers in the client's case, the query string parsed. */
export interface HandshakeInfo {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  /** Undefined when the URL has no query string (then the event has no such key). */
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
}

export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export function requestContext(
  connection: ConnectionInfo,
  routeKey: string,
  eventType: EventType,
  requestId: string,
  now: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    routeKey,
    ...extra,
    eventType,
    extendedRequestId: requestId,
    requestTime: clfTime(now),
    messageDirection: 'IN',
    stage: connection.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: connection.sourceIp },
    requestId,
    domainName: connection.domainName,
    connectionId: connection.connectionId,
    apiId: connection.apiId,
    ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
  };
}

/** Headers API Gateway adds in front of the client's. */
export function handshakeInfo(req: IncomingMessage, sourceIp: string, port: number): HandshakeInfo {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const add = (name: string, value: string) => {
    const existing = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    headers[existing] = value;
    multiValueHeaders[existing] = [...(multiValueHeaders[existing] ?? []), value];
  };
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    add(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  const lower = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  if (!lower.has('x-amzn-trace-id')) {
    add(
      'X-Amzn-Trace-Id',
      `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`,
    );
  }
  if (!lower.has('x-forwarded-for')) add('X-Forwarded-For', sourceIp);
  if (!lower.has('x-forwarded-port')) add('X-Forwarded-Port', String(port));
  if (!lower.has('x-forwarded-proto')) add('X-Forwarded-Proto', 'http');

  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!(req.url ?? '').includes('?')) return { headers, multiValueHeaders };
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    queryStringParameters[key] = value;
    multiValueQueryStringParameters[key] = [...(multiValueQueryStringParameters[key] ?? []), value];
  }
  return { headers, multiValueHeaders, queryStringParameters, multiValueQueryStringParameters };
}

/** The REQUEST authorizer's input on `$connect`. */
export function authorizerEvent(
  connection: ConnectionInfo,
  handshake: HandshakeInfo,
  stageVariables: Record<string, string>,
  region: string,
  accountId: string,
  requestId: string,
  now: number,
): Record<string, unknown> {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${region}:${accountId}:${connection.apiId}/${connection.stage}/$connect`,
    headers: handshake.headers,
    multiValueHeaders: handshake.multiValueHeaders,
    queryStringParameters: handshake.queryStringParameters ?? {},
    multiValueQueryStringParameters: handshake.multiValueQueryStringParameters ?? {},
    stageVariables,
    requestContext: requestContext(
      { ...connection, authorizer: undefined },
      '$connect',
      'CONNECT',
      requestId,
      now,
    ),
  };
}

/** Hop-by-hop headers the `$connect` event does not carry (the authorizer's input does). */
const NOT_IN_CONNECT_EVENT = new Set(['connection', 'upgrade', 'content-length']);

export function connectEvent(
  connection: ConnectionInfo,
  handshake: HandshakeInfo,
  stageVariables: Record<string, string>,
  requestId: string,
  now: number,
): Record<string, unknown> {
  const keep = (name: string) => !NOT_IN_CONNECT_EVENT.has(name.toLowerCase());
  return {
    headers: Object.fromEntries(Object.entries(handshake.headers).filter(([k]) => keep(k))),
    multiValueHeaders: Object.fromEntries(
      Object.entries(handshake.multiValueHeaders).filter(([k]) => keep(k)),
    ),
    ...(handshake.queryStringParameters
      ? {
          queryStringParameters: handshake.queryStringParameters,
          multiValueQueryStringParameters: handshake.multiValueQueryStringParameters,
        }
      : {}),
    ...stageVariablesKey(stageVariables),
    requestContext: requestContext(connection, '$connect', 'CONNECT', requestId, now),
    isBase64Encoded: false,
  };
}

export function messageEvent(
  connection: ConnectionInfo,
  routeKey: string,
  body: string,
  stageVariables: Record<string, string>,
  requestId: string,
  now: number,
): Record<string, unknown> {
  return {
    requestContext: requestContext(connection, routeKey, 'MESSAGE', requestId, now, { messageId: awsId() }),
    body,
    ...stageVariablesKey(stageVariables),
    isBase64Encoded: false,
  };
}

export function disconnectEvent(
  connection: ConnectionInfo,
  statusCode: number,
  reason: string,
  stageVariables: Record<string, string>,
  requestId: string,
  now: number,
): Record<string, unknown> {
  // The fixed headers API Gateway sends with $disconnect.
  const headers = { Host: connection.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    ...stageVariablesKey(stageVariables),
    requestContext: requestContext(connection, '$disconnect', 'DISCONNECT', requestId, now, {
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
    }),
    isBase64Encoded: false,
  };
}

function stageVariablesKey(stageVariables: Record<string, string>): Record<string, unknown> {
  return Object.keys(stageVariables).length > 0 ? { stageVariables } : {};
}

/** The error frame API Gateway sends on a WebSocket (`Internal server error`, `Forbidden`…), byte for byte. */
export function errorFrame(message: string, connectionId: string, requestId: string): string {
  return `{"message": "${message}", "connectionId":"${connectionId}", "requestId":"${requestId}"}`;
}
