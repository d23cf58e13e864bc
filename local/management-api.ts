/**
 * The `@connections` management API (PostToConnection, GetConnection, DeleteConnection) as API Gateway
 * answers it, so the real `ApiGatewayManagementApiClient` works against `http://127.0.0.1:PORT/STAGE`. One
 * implementation serves the gateway emulator, the handler tests and the benchmarks:
 *
 * - `answerManagementRequest`: what API Gateway answers a request, given the connections (a backend).
 * - `handleManagementRequest`: that on a node:http request: the gateway, whose port it shares with the
 *   WebSocket API, its connections as the backend.
 * - `FakeManagementApi`: that on a port of its own with no sockets behind it (handler tests, benchmarks):
 *   every connection id is open unless marked gone; it records posts and deletes (or only counts them),
 *   answers scripted statuses per connection, injects faults and adds a fixed latency.
 * - `RemoteManagementApi`: a `FakeManagementApi` in a child process, driven over IPC (benchmarks).
 *
 * Requests are not signature-checked. Fault injection, scripts and latency are test-only.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

/** What API Gateway accepts in one PostToConnection (128 KB). */
export const MAX_POST_BYTES = 128 * 1024;

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

/** A hook's verdict on one request: a fault (`slow`: 1500 ms, or the delay given), or none. */
export type FaultDecision = FaultKind | { kind: 'slow'; ms: number } | undefined;

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
  | ((request: FaultRequest) => FaultDecision);

/** A request as the transports hand it over; `body` is undefined when it exceeded `maxPostBytes`. */
export interface ManagementRequest {
  method: string;
  connectionId: string;
  body: Buffer | undefined;
}

/** An answer; an error carries its `x-amzn-ErrorType`. */
export interface ManagementAnswer {
  status: number;
  errorType?: string;
  body?: string;
}

const error = (status: number, errorType: string, message: string): ManagementAnswer => ({
  status,
  errorType,
  body: JSON.stringify({ message }),
});
const ERRORS = {
  gone: error(410, 'GoneException', 'Gone'),
  tooLarge: error(413, 'PayloadTooLargeException', 'Request entity too large'),
  throttled: error(429, 'LimitExceededException', 'Rate exceeded'),
  internal: error(500, 'InternalServerErrorException', 'Internal server error'),
  forbidden: error(403, 'ForbiddenException', 'Forbidden'),
} as const;
const POSTED: ManagementAnswer = { status: 200, body: '' };
const DELETED: ManagementAnswer = { status: 204 };
const EMPTY = Buffer.alloc(0);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * What API Gateway answers: 403 for another method; an injected fault; 413 for a post above the limit;
 * 410 for a connection that is not open; else the connection's details (GET), its close (DELETE, 204) or
 * the data sent on it (POST, 200; 410 when the socket went away while writing).
 */
export async function answerManagementRequest(
  request: ManagementRequest,
  backend: ManagementBackend,
): Promise<ManagementAnswer> {
  const { method, connectionId, body } = request;
  if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') return ERRORS.forbidden;
  const fault = pickFault(backend.faults, { method, connectionId });
  if (fault?.kind === 'slow') await sleep(fault.ms);
  else if (fault)
    return fault.kind === '410' ? ERRORS.gone : fault.kind === '429' ? ERRORS.throttled : ERRORS.internal;
  if (body === undefined) return ERRORS.tooLarge;
  const connection = backend.find(connectionId);
  if (!connection) return ERRORS.gone;
  if (method === 'GET') {
    return {
      status: 200,
      body: JSON.stringify({
        connectedAt: new Date(connection.connectedAt).toISOString(),
        identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      }),
    };
  }
  if (method === 'DELETE') {
    backend.remove(connectionId);
    return DELETED;
  }
  try {
    await backend.send(connectionId, body);
  } catch {
    return ERRORS.gone; // the socket went away while we were writing
  }
  return POSTED;
}

/** The answer's headers: none for 204; JSON with its length otherwise; an error's type and a request id. */
function answerHeaders(answer: ManagementAnswer): Record<string, string | number> {
  if (answer.status === 204) return {};
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(answer.body ?? ''),
  };
  if (answer.errorType) {
    headers['x-amzn-ErrorType'] = answer.errorType;
    headers['x-amzn-RequestId'] = randomUUID();
  }
  return headers;
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

/** Answers a node:http request for `/{stage}/@connections/{connectionId}` (the gateway's port). */
export async function handleManagementRequest(
  req: IncomingMessage,
  res: ServerResponse,
  connectionId: string,
  backend: ManagementBackend,
): Promise<void> {
  const method = req.method ?? '';
  if (method !== 'POST') req.resume();
  const body = method === 'POST' ? await readBody(req, backend.maxPostBytes) : EMPTY;
  const answer = await answerManagementRequest({ method, connectionId, body }, backend);
  res.writeHead(answer.status, answerHeaders(answer)).end(answer.body);
}

// ---- On a port of its own: FakeManagementApi ------------------------------------------------------------

/** A post the fake delivered. */
export interface RecordedPost {
  connectionId: string;
  body: string;
}

/** A scripted answer to the next post to a connection: a status, or a delay before answering as usual. */
export type ScriptedAnswer = 200 | 410 | 429 | 500 | { delayMs: number };

export interface FakeManagementApiOptions {
  /** Keep every delivered post (connection id and body) and deleted id (default); false: count only. */
  record?: boolean;
  /** Milliseconds before every request is answered (a simulated AWS round trip; default 0). */
  latencyMs?: number;
  /** Largest post accepted (default: API Gateway's 128 KB); above it, 413. */
  maxPostBytes?: number;
  /** Faults injected where no script decides (see `script`). */
  faults?: FaultInjection;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const NOT_FOUND: ManagementAnswer = { status: 404, body: JSON.stringify({ message: 'Not Found' }) };

function rawAnswer(answer: ManagementAnswer): Buffer {
  const headers = Object.entries(answerHeaders(answer))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.from(
    `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? ''}\r\n${headers}Connection: keep-alive\r\n\r\n${answer.body ?? ''}`,
  );
}
/** The answers of the hot path, serialized once. */
const RAW_POSTED = rawAnswer(POSTED);
const RAW_DELETED = rawAnswer(DELETED);

/**
 * The management API on its own loopback port, with no sockets behind it: every connection id is open
 * until `markGone`; a post is delivered to the record; a delete is recorded and closes nothing.
 *
 * AWS answers many posts in parallel; so that the fake adds as little as it can beyond `latencyMs` (the
 * benchmarks measure the handler, not the fake), it is a minimal HTTP/1.1 responder on a raw TCP server
 * (request line, headers, Content-Length body, keep-alive), not node:http, whose parsing and response
 * objects cost several times more CPU per request.
 */
export class FakeManagementApi {
  /** The posts delivered (answered 200), in order; empty with `record: false`. */
  readonly posts: RecordedPost[] = [];
  /** The ids deleted (answered 204), in order; empty with `record: false`. */
  readonly deletes: string[] = [];
  postCount = 0;
  deleteCount = 0;
  latencyMs: number;
  endpoint = '';
  private stage = '';
  private readonly record: boolean;
  private readonly scripted = new Map<string, ScriptedAnswer[]>();
  private readonly gone = new Set<string>();
  private readonly open: ManagedConnection;
  private readonly backend: ManagementBackend;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: FakeManagementApiOptions = {}) {
    this.record = options.record ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    const now = Date.now();
    this.open = {
      connectedAt: now,
      lastActiveAt: now,
      sourceIp: '127.0.0.1',
      userAgent: 'FakeManagementApi',
    };
    this.backend = {
      find: (id) => (this.gone.has(id) ? undefined : this.open),
      send: async (id, data) => {
        this.postCount++;
        if (this.record) this.posts.push({ connectionId: id, body: data.toString('utf8') });
      },
      remove: (id) => {
        this.deleteCount++;
        if (this.record) this.deletes.push(id);
      },
      maxPostBytes: options.maxPostBytes ?? MAX_POST_BYTES,
      faults: (request) => this.decide(request),
    };
  }

  /** Answers for the next posts to a connection, in order; afterwards the usual answer (faults, else 200). */
  script(connectionId: string, ...answers: ScriptedAnswer[]): void {
    this.scripted.set(connectionId, answers);
  }

  /** The connection answers 410 to every request from now on. */
  markGone(connectionId: string): void {
    this.gone.add(connectionId);
  }

  /** The frames delivered to a connection, parsed. */
  framesTo(connectionId: string): Record<string, unknown>[] {
    return this.posts.filter((p) => p.connectionId === connectionId).map((p) => JSON.parse(p.body));
  }

  /** Forgets the record, the counts, the scripts and the gone ids. */
  reset(): void {
    this.posts.length = 0;
    this.deletes.length = 0;
    this.postCount = 0;
    this.deleteCount = 0;
    this.scripted.clear();
    this.gone.clear();
  }

  async start(stage = 'test'): Promise<string> {
    this.stage = stage;
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.endpoint = `http://127.0.0.1:${port}/${stage}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A scripted answer for a post to an open connection, else the injected faults. */
  private decide(request: FaultRequest): FaultDecision {
    const script = request.method === 'POST' && !this.gone.has(request.connectionId);
    const answer = script ? this.scripted.get(request.connectionId)?.shift() : undefined;
    if (answer === undefined) {
      const fault = pickFault(this.options.faults, request);
      return fault?.kind === 'slow' ? { kind: 'slow', ms: fault.ms } : fault?.kind;
    }
    if (answer === 200) return undefined;
    return typeof answer === 'object' ? { kind: 'slow', ms: answer.delayMs } : (String(answer) as FaultKind);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = EMPTY;
    // One request at a time per socket (the clients do not pipeline, and the answers must stay in order).
    let previous: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf(HEADER_END);
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        if (/\r\ntransfer-encoding:/i.test(head)) {
          socket.end(BAD_REQUEST); // Content-Length bodies only (what the SDK sends)
          return;
        }
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        const total = end + HEADER_END.length + length;
        if (buffered.length < total) return;
        const body = buffered.subarray(end + HEADER_END.length, total);
        buffered = buffered.subarray(total);
        const lineEnd = head.indexOf('\r\n');
        const [method = '', target = ''] = (lineEnd < 0 ? head : head.slice(0, lineEnd)).split(' ');
        previous = previous.then(() => this.respond(socket, method, target, body));
      }
    });
  }

  private async respond(socket: Socket, method: string, target: string, body: Buffer): Promise<void> {
    const path = target.split('?')[0] ?? '';
    const match = /^\/([^/]+)\/(?:@|%40)connections\/([^/]+)\/?$/.exec(path);
    let answer = NOT_FOUND;
    try {
      if (match && decodeURIComponent(match[1] as string) === this.stage) {
        if (this.latencyMs > 0) await sleep(this.latencyMs);
        const connectionId = decodeURIComponent(match[2] as string);
        const tooLarge = method === 'POST' && body.length > this.backend.maxPostBytes;
        answer = await answerManagementRequest(
          { method, connectionId, body: tooLarge ? undefined : method === 'POST' ? body : EMPTY },
          this.backend,
        );
      }
    } catch {
      answer = ERRORS.internal;
    }
    if (socket.destroyed) return;
    socket.write(answer === POSTED ? RAW_POSTED : answer === DELETED ? RAW_DELETED : rawAnswer(answer));
  }
}

// ---- In a child process: RemoteManagementApi ----------------------------------------------------------------

const CHILD_FLAG = '--fake-management-api';
type Op = { op: 'latency'; ms: number } | { op: 'postCount' };
type Request = Op & { id: number };
type Reply = { id: number; value: number } | { ready: string };

/**
 * A `FakeManagementApi` (counting only, stage `bench`) in a child process, as API Gateway is not in the
 * Lambda's process: its work takes no CPU from the handler a benchmark measures in this one.
 */
export class RemoteManagementApi {
  endpoint = '';
  private child?: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, (value: number) => void>();

  async start(): Promise<string> {
    const child = fork(__filename, [CHILD_FLAG], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child = child;
    this.endpoint = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`fake management API process exited (${code})`)));
      child.on('message', (reply: Reply) => {
        if ('ready' in reply) resolve(reply.ready);
        else this.waiting.get(reply.id)?.(reply.value);
      });
    });
    return this.endpoint;
  }

  private ask(request: Op): Promise<number> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, (value) => {
        this.waiting.delete(id);
        resolve(value);
      });
      this.child?.send({ ...request, id });
    });
  }

  /** Answer every request `ms` milliseconds after it arrives, from now on. */
  async setLatency(ms: number): Promise<void> {
    await this.ask({ op: 'latency', ms });
  }

  /** Posts delivered so far. */
  postCount(): Promise<number> {
    return this.ask({ op: 'postCount' });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

if (require.main === module && process.argv.includes(CHILD_FLAG) && process.send) {
  const api = new FakeManagementApi({ record: false });
  void api.start('bench').then((endpoint) => {
    process.on('message', (request: Request) => {
      if (request.op === 'latency') api.latencyMs = request.ms;
      process.send?.({ id: request.id, value: request.op === 'postCount' ? api.postCount : 0 });
    });
    process.on('disconnect', () => process.exit(0));
    process.send?.({ ready: endpoint });
  });
}
