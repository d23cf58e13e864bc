/**
 * The `@connections` management API (PostToConnection, GetConnection, DeleteConnection) as API Gateway
 * answers it, so the real `ApiGatewayManagementApiClient` works against `http://127.0.0.1:PORT/STAGE`.
 * Requests are not signature-checked. Test-only fault injection lives here too.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A connection the management API can act on (open: its `$connect` succeeded and it is not closing). */
export interface ManagedConnection {
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
}

export interface ManagementBackend {
  /** The open connection with this id, or undefined (unknown, still connecting, closing, closed). */
  find(connectionId: string): ManagedConnection | undefined;
  /** Sends `data` as a text frame; resolves once written to the socket. */
  send(connectionId: string, data: Buffer): Promise<void>;
  /** Closes the connection as DeleteConnection does (its `$disconnect` follows). */
  remove(connectionId: string): void;
  maxPostBytes: number;
  faults?: FaultInjection;
}

/** Test-only fault kinds: an error status instead of the real action, or a delay before it. */
export type FaultKind = '410' | '429' | '500' | 'slow';

export interface FaultRequest {
  method: 'POST' | 'GET' | 'DELETE';
  connectionId: string;
}

/**
 * TEST ONLY. Either a share of requests to fail at random with one of `kinds`, or a hook that decides
 * per request. `methods` defaults to POST only; `slowMs` (default 1500) is the delay of `slow`.
 */
export type FaultInjection =
  | {
      share: number;
      kinds: FaultKind[];
      methods?: FaultRequest['method'][];
      slowMs?: number;
      random?: () => number;
    }
  | ((request: FaultRequest) => FaultKind | { kind: 'slow'; ms: number } | undefined);

const ERRORS = {
  gone: [410, 'GoneException', 'Gone'],
  tooLarge: [413, 'PayloadTooLargeException', 'Request entity too large'],
  throttled: [429, 'LimitExceededException', 'Rate exceeded'],
  internal: [500, 'InternalServerErrorException', 'Internal server error'],
  forbidden: [403, 'ForbiddenException', 'Forbidden'],
} as const;

function sendError(res: ServerResponse, [status, type, message]: readonly [number, string, string]): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(body);
}

function pickFault(
  faults: FaultInjection | undefined,
  request: FaultRequest,
): { kind: FaultKind; ms: number } | undefined {
  if (!faults) return undefined;
  if (typeof faults === 'function') {
    const decided = faults(request);
    if (decided === undefined) return undefined;
    return typeof decided === 'string' ? { kind: decided, ms: 1500 } : decided;
  }
  if (!(faults.methods ?? ['POST']).includes(request.method) || faults.kinds.length === 0) return undefined;
  const random = faults.random ?? Math.random;
  if (random() >= faults.share) return undefined;
  const kind = faults.kinds[Math.floor(random() * faults.kinds.length)] as FaultKind;
  return { kind, ms: faults.slowMs ?? 1500 };
}

/** Reads the body; resolves with undefined (after draining) when it exceeds `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function handleManagementRequest(
  req: IncomingMessage,
  res: ServerResponse,
  connectionId: string,
  backend: ManagementBackend,
): Promise<void> {
  const method = req.method as FaultRequest['method'];
  if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
    req.resume();
    sendError(res, ERRORS.forbidden);
    return;
  }
  if (method !== 'POST') req.resume();
  const body = method === 'POST' ? await readBody(req, backend.maxPostBytes) : Buffer.alloc(0);
  const fault = pickFault(backend.faults, { method, connectionId });
  if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
  else if (fault) {
    sendError(
      res,
      fault.kind === '410' ? ERRORS.gone : fault.kind === '429' ? ERRORS.throttled : ERRORS.internal,
    );
    return;
  }
  if (body === undefined) {
    sendError(res, ERRORS.tooLarge);
    return;
  }
  const connection = backend.find(connectionId);
  if (!connection) {
    sendError(res, ERRORS.gone);
    return;
  }
  if (method === 'GET') {
    const payload = JSON.stringify({
      connectedAt: new Date(connection.connectedAt).toISOString(),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
    return;
  }
  if (method === 'DELETE') {
    backend.remove(connectionId);
    res.writeHead(204).end();
    return;
  }
  try {
    await backend.send(connectionId, body);
  } catch {
    sendError(res, ERRORS.gone); // the socket went away while we were writing
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 0 }).end();
}
