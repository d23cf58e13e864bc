/**
 * A real `ws` client for the integration suite: connect (rejecting with the HTTP status when the
 * handshake is refused), every received frame kept in order, `next()` to wait for a frame matching a
 * predicate (with the frames seen listed on timeout), and the close code/reason as a promise.
 */
import WebSocket from 'ws';

export type Frame = Record<string, unknown>;

export interface Closed {
  code: number;
  reason: string;
}

/** The handshake was answered with an HTTP status instead of 101 (401, 403, 500…). */
export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`handshake refused with HTTP ${status}${body ? `: ${body}` : ''}`);
    this.name = 'HandshakeRefused';
  }
}

interface Waiter {
  predicate: (frame: Frame) => boolean;
  resolve: (frame: Frame) => void;
}

/**
 * How long a test waits for a handshake or a frame that must come. Generous on purpose: these bound a
 * failure, never a pass, so a busy machine only makes a failing test slower, not a passing one fail.
 */
export const CONNECT_TIMEOUT_MS = 15_000;
export const FRAME_TIMEOUT_MS = 15_000;

export class TestClient {
  /** Every frame received, parsed (a non-JSON text frame is kept as `{ raw }`). */
  readonly frames: Frame[] = [];
  /** Resolves when the socket closes (never rejects). */
  readonly closed: Promise<Closed>;
  private readonly taken = new Set<Frame>();
  private readonly waiters = new Set<Waiter>();
  private closeResult?: Closed;

  private constructor(
    readonly ws: WebSocket,
    readonly label: string,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeResult = { code, reason: reason.toString('utf8') };
        resolve(this.closeResult);
      });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = isBinary ? data.toString('base64') : data.toString('utf8');
      let frame: Frame;
      try {
        const value: unknown = JSON.parse(text);
        frame = typeof value === 'object' && value !== null ? (value as Frame) : { raw: text };
      } catch {
        frame = { raw: text };
      }
      this.frames.push(frame);
      for (const waiter of this.waiters) {
        if (!this.taken.has(frame) && waiter.predicate(frame)) {
          this.taken.add(frame);
          this.waiters.delete(waiter);
          waiter.resolve(frame);
        }
      }
    });
  }

  /** Opens a socket; resolves on open, rejects with `HandshakeRefused` (the HTTP status) on refusal. */
  static connect(url: string, label = 'client', timeoutMs = CONNECT_TIMEOUT_MS): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false });
      const client = new TestClient(ws, label);
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() => reject(new Error(`${label}: no handshake answer within ${timeoutMs} ms`)));
        ws.terminate();
      }, timeoutMs);
      ws.once('open', () => settle(() => resolve(client)));
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        const done = () => {
          settle(() => reject(new HandshakeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString())));
          ws.terminate();
        };
        res.once('end', done);
        res.once('error', done);
        res.once('close', done);
      });
      ws.once('error', (error) => settle(() => reject(error)));
      ws.on('error', () => {}); // later errors surface through `closed`
    });
  }

  /**
   * The first frame not yet returned by `next` that matches, waiting up to `timeoutMs`. Frames already
   * received count, so a frame that arrived before the call is not missed.
   */
  next(predicate: (frame: Frame) => boolean, timeoutMs = FRAME_TIMEOUT_MS, what = 'a frame'): Promise<Frame> {
    const found = this.frames.find((f) => !this.taken.has(f) && predicate(f));
    if (found) {
      this.taken.add(found);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const state = this.closeResult
          ? `closed ${this.closeResult.code} ${JSON.stringify(this.closeResult.reason)}`
          : 'open';
        reject(
          new Error(
            `${this.label}: no ${what} within ${timeoutMs} ms (socket ${state}); frames seen (${this.frames.length}):\n` +
              this.frames.map((f) => `  ${JSON.stringify(f).slice(0, 300)}`).join('\n'),
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** `next` for a frame of one `type` (and optionally more fields equal to the given ones). */
  nextOfType(type: string, fields: Frame = {}, timeoutMs = FRAME_TIMEOUT_MS): Promise<Frame> {
    const what = `"${type}" frame${Object.keys(fields).length ? ` with ${JSON.stringify(fields)}` : ''}`;
    return this.next(
      (f) => f.type === type && Object.entries(fields).every(([k, v]) => f[k] === v),
      timeoutMs,
      what,
    );
  }

  /** Frames received so far that match. */
  framesWhere(predicate: (frame: Frame) => boolean): Frame[] {
    return this.frames.filter(predicate);
  }

  /** Sends a JSON frame (objects are serialised; strings go as they are). */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a frame and waits for the next frame of `type` (e.g. the `ack`, `pong`, `error`). */
  async request(
    frame: unknown,
    type: string,
    fields: Frame = {},
    timeoutMs = FRAME_TIMEOUT_MS,
  ): Promise<Frame> {
    const reply = this.nextOfType(type, fields, timeoutMs);
    this.send(frame);
    return reply;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Closes with a close frame and waits (bounded) for the socket to close. */
  async close(code = 1000, reason = ''): Promise<Closed | undefined> {
    if (this.ws.readyState === WebSocket.CLOSED) return this.closeResult;
    if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close(code, reason);
    return withTimeout(this.closed, 3000, `${this.label} close`).catch(() => {
      this.ws.terminate();
      return this.closeResult;
    });
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check()` is true, polling; throws with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = FRAME_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}
