/**
 * Key sets of the API Gateway WebSocket events as AWS sends them, taken from the real captures kept
 * outside the project (shared/aws-events: authorizer-request, connect, message, disconnect). The
 * emulator's events must have exactly these keys (plus the documented conditional ones).
 */
export const REQUEST_CONTEXT_KEYS = [
  'routeKey',
  'eventType',
  'extendedRequestId',
  'requestTime',
  'messageDirection',
  'stage',
  'connectedAt',
  'requestTimeEpoch',
  'identity',
  'requestId',
  'domainName',
  'connectionId',
  'apiId',
];

/** authorizer-request.json */
export const AUTHORIZER_EVENT_KEYS = [
  'type',
  'methodArn',
  'headers',
  'multiValueHeaders',
  'queryStringParameters',
  'multiValueQueryStringParameters',
  'stageVariables',
  'requestContext',
];

/** connect.json (no query string); with one, queryStringParameters + multiValueQueryStringParameters too. */
export const CONNECT_EVENT_KEYS = ['headers', 'multiValueHeaders', 'requestContext', 'isBase64Encoded'];

/** message.json */
export const MESSAGE_EVENT_KEYS = ['requestContext', 'body', 'isBase64Encoded'];
export const MESSAGE_CONTEXT_EXTRA = ['messageId'];

/** disconnect.json */
export const DISCONNECT_EVENT_KEYS = ['headers', 'multiValueHeaders', 'requestContext', 'isBase64Encoded'];
export const DISCONNECT_CONTEXT_EXTRA = ['disconnectStatusCode', 'disconnectReason'];
export const DISCONNECT_HEADER_KEYS = ['Host', 'x-api-key', 'X-Forwarded-For', 'x-restapi'];

/** `BFaT_fALIAMCKug=`: 15 base64url characters and a pad. */
export const AWS_ID = /^[A-Za-z0-9_-]{15}=$/;
/** `11/Nov/2024:13:45:46 +0000` */
export const CLF_TIME = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;

export const sorted = (keys: string[]) => [...keys].sort();
