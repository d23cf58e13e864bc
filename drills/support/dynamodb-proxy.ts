/**
 * An HTTP proxy on 127.0.0.1 in front of a local DynamoDB (moto): the functions reach DynamoDB through it
 * (AWS_ENDPOINT_URL_DYNAMODB), and a drill makes it misbehave the ways DynamoDB and the network do:
 *
 * - throttle: a share of the write (and read) requests is answered as DynamoDB answers a throttled request,
 *   HTTP 400 with the JSON 1.0 error body `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",
 *   "message":…}` (or ProvisionedThroughputExceededException, alternately), without reaching the table: a
 *   throttled write is not applied. The SDK parses it as the real error and retries it as throttling.
 * - refuse: the listener is closed and every open connection reset (connection refused), until `restore`.
 * - hang: connections are accepted and requests read, but nothing is forwarded or answered, until `restore`
 *   (then the held requests' sockets are reset).
 *
 * The operation of a request is its `X-Amz-Target` header (`DynamoDB_20120810.PutItem`).
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

export const WRITE_OPERATIONS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);

/** The two throttling errors DynamoDB answers a data-plane request with, as its JSON 1.0 protocol sends them. */
export const THROTTLING_ERRORS = [
  {
    type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
    message:
      'Throughput exceeds the current capacity for one or more global secondary indexes or your table.',
  },
  {
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
] as const;

export interface ThrottleShares {
  /** Share (0..1) of write requests (PutItem, UpdateItem, DeleteItem, BatchWriteItem…) answered throttled. */
  writes: number;
  /** Share of the other requests (GetItem, Query…). Default 0. */
  reads?: number;
}

export interface DynamoProxyStats {
  /** Requests received (whatever became of them). */
  requests: number;
  forwarded: number;
  /** Requests answered throttled, in all and by operation. */
  throttled: number;
  throttledWrites: number;
  throttledReads: number;
  throttledByOperation: Record<string, number>;
  requestsByOperation: Record<string, number>;
  /** Requests received while hanging (held, never answered). */
  held: number;
  /** Connections reset by `refuse` and by `restore` after a hang. */
  reset: number;
  /** Forwarding failures (the upstream refused or reset): answered 502. */
  upstreamErrors: number;
  /** Time the upstream took to answer each forwarded request (ms), in arrival order. */
  upstreamMs: number[];
  /** Single-item writes by item key (`pk sk`): how many were throttled, forwarded, or held (hang, refuse). */
  itemWrites: Map<string, ItemWrites>;
}

type Mode = 'pass' | 'refuse' | 'hang';

export interface ItemWrites {
  throttled: number;
  forwarded: number;
  held: number;
}

/** A small deterministic generator (mulberry32), so a drill's throttling pattern can be replayed by seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class DynamoProxy {
  readonly stats: DynamoProxyStats = {
    requests: 0,
    forwarded: 0,
    throttled: 0,
    throttledWrites: 0,
    throttledReads: 0,
    throttledByOperation: {},
    requestsByOperation: {},
    held: 0,
    reset: 0,
    upstreamErrors: 0,
    upstreamMs: [],
    itemWrites: new Map(),
  };
  private mode: Mode = 'pass';
  private shares: Required<ThrottleShares> = { writes: 0, reads: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly heldSockets = new Set<Socket>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  private readonly upstream: URL;
  private next: () => number;
  private errorTurn = 0;

  private constructor(
    private server: Server,
    readonly port: number,
    upstream: string,
    seed: number,
  ) {
    this.upstream = new URL(upstream);
    this.next = random(seed);
  }

  /** Starts the proxy for `upstream` (`http://127.0.0.1:PORT` of the local DynamoDB). */
  static async start(upstream: string, { seed = 17 }: { seed?: number } = {}): Promise<DynamoProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const proxy = new DynamoProxy(server, port, upstream, seed);
    proxy.attach(server);
    return proxy;
  }

  /** `http://127.0.0.1:PORT`: what the functions get as AWS_ENDPOINT_URL_DYNAMODB. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get currentMode(): Mode {
    return this.mode;
  }

  /** Answers these shares of the requests throttled from now on (`{ writes: 0 }` to stop). */
  throttle(shares: ThrottleShares): void {
    this.shares = { writes: shares.writes, reads: shares.reads ?? 0 };
  }

  /** Connection refused: closes the listener and resets every open connection. */
  async refuse(): Promise<void> {
    this.mode = 'refuse';
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.resetAll();
    await closed;
  }

  /** Accepts connections and reads requests, forwards and answers nothing. */
  hang(): void {
    this.mode = 'hang';
  }

  /** Back to forwarding: listens again on the same port after `refuse`, resets the requests held by `hang`. */
  async restore(): Promise<void> {
    if (this.mode === 'refuse') {
      const server = createServer();
      for (let attempt = 0; ; attempt++) {
        try {
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(this.port, '127.0.0.1', () => resolve());
          });
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      this.server = server;
      this.attach(server);
    }
    for (const socket of this.heldSockets) {
      socket.destroy();
      this.stats.reset++;
    }
    this.heldSockets.clear();
    this.mode = 'pass';
  }

  async close(): Promise<void> {
    this.resetAll();
    this.agent.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- internals -------------------------------------------------------------------------------------

  private attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.heldSockets.delete(socket);
      });
      socket.on('error', () => socket.destroy());
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  private resetAll(): void {
    for (const socket of this.sockets) {
      socket.destroy();
      this.stats.reset++;
    }
    this.sockets.clear();
    this.heldSockets.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.stats.requests++;
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.indexOf('.') + 1) || 'unknown';
      this.stats.requestsByOperation[operation] = (this.stats.requestsByOperation[operation] ?? 0) + 1;
      const write = WRITE_OPERATIONS.has(operation);
      const body = Buffer.concat(chunks);
      if (this.mode !== 'pass') {
        // Hang: held until `restore` resets the socket (refuse: a request raced the close; same end).
        this.stats.held++;
        this.heldSockets.add(req.socket);
        if (write) this.noteItemWrite(body, 'held');
        return;
      }
      const share = write ? this.shares.writes : this.shares.reads;
      const throttle = share > 0 && this.next() < share;
      if (write) this.noteItemWrite(body, throttle ? 'throttled' : 'forwarded');
      if (throttle) {
        this.stats.throttled++;
        if (write) this.stats.throttledWrites++;
        else this.stats.throttledReads++;
        this.stats.throttledByOperation[operation] = (this.stats.throttledByOperation[operation] ?? 0) + 1;
        const error = THROTTLING_ERRORS[
          this.errorTurn++ % THROTTLING_ERRORS.length
        ] as (typeof THROTTLING_ERRORS)[number];
        const answer = JSON.stringify({ __type: error.type, message: error.message });
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(answer),
          'x-amzn-requestid': randomUUID(),
        });
        res.end(answer);
        return;
      }
      this.forward(req, res, body);
    });
  }

  /** Counts a PutItem/UpdateItem/DeleteItem by its item's key (for the drill's diagnosis of a missing item). */
  private noteItemWrite(body: Buffer, fate: keyof ItemWrites): void {
    let key: string;
    try {
      const input = JSON.parse(body.toString('utf8')) as {
        Item?: Record<string, { S?: string }>;
        Key?: Record<string, { S?: string }>;
      };
      const item = input.Item ?? input.Key;
      if (!item?.pk?.S || !item.sk?.S) return;
      key = `${item.pk.S} ${item.sk.S}`;
    } catch {
      return;
    }
    const entry = this.stats.itemWrites.get(key) ?? { throttled: 0, forwarded: 0, held: 0 };
    entry[fate]++;
    this.stats.itemWrites.set(key, entry);
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    this.stats.forwarded++;
    const started = Date.now();
    const upstream = httpRequest(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent: this.agent,
      },
      (answer) => {
        this.stats.upstreamMs.push(Date.now() - started);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      this.stats.upstreamErrors++;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    upstream.end(body);
  }
}
