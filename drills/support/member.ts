/**
 * One classroom member for the drills: a real `ws` socket and the client-side bookkeeping SPEC §5 asks of
 * a client. It keeps, per `seq`, how the message reached it (live `message` frame, `resume` history, or
 * its own `ack`), drops duplicates by `seq`, and resumes from its last contiguous `seq` when it sees a
 * gap that does not fill by itself. Requests (sendMessage, resume) go one at a time, so an answer without
 * a correlation id (an `internal` error frame, API Gateway's "Internal server error") belongs to the one
 * in flight. Lean on purpose: a soak runs a thousand of these in one process.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export type Source = 'live' | 'resume' | 'own';

export interface Identity {
  userId: string;
  name: string;
  role: 'teacher' | 'student';
}

/** A ready-to-open URL (`…?classRoomId=ROOM&token=JWT`) for a member of a room. */
export type UrlFor = (identity: Identity, room: string) => Promise<string>;

export type Outcome =
  | { ok: true; seq: number; id: string; latencyMs: number }
  | { ok: false; reason: string; latencyMs: number };

interface InFlight {
  action: 'sendMessage' | 'resume';
  clientMsgId?: string;
  started: number;
  settle: (outcome: Outcome) => void;
}

export interface MemberOptions {
  /** How long a gap may stay open before the member resumes (out-of-order delivery fills most). */
  gapWaitMs?: number;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
}

export class DrillMember {
  /** seq -> how it arrived first. */
  readonly have = new Map<number, Source>();
  /** seq -> message id, as first seen. */
  readonly ids = new Map<number, string>();
  /** seq -> the drill's clientMsgId carried in `data.c` (to spot one message stored twice). */
  readonly tags = new Map<number, string>();
  lastContiguous = 0;
  maxSeen = 0;
  /** Frames dropped because their seq was already there (client dedupe by seq). */
  rawDuplicates = 0;
  /** A seq seen with two different message ids. */
  conflicts = 0;
  reconnects = 0;
  resumes = 0;
  /** History answers with `complete: false` (history no longer reached back). */
  incompleteHistory = 0;
  /** Frames nobody asked for: error frames without a request in flight, gateway errors… */
  readonly stray: string[] = [];
  framesIn = 0;

  private ws?: WebSocket;
  private current?: InFlight;
  private chain: Promise<unknown> = Promise.resolve();
  private gapTimer?: NodeJS.Timeout;
  private closing = false;
  private resumeQueued = false;
  private readonly gapWaitMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    readonly identity: Identity,
    readonly room: string,
    private readonly urlFor: UrlFor,
    options: MemberOptions = {},
  ) {
    this.gapWaitMs = options.gapWaitMs ?? 400;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 8000;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket; rejects with the handshake status (`HTTP 500`…) or the socket error. */
  async connect(timeoutMs = 10_000): Promise<void> {
    const url = await this.urlFor(this.identity, this.room);
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      let opened = false;
      ws.once('open', () => {
        opened = true;
        this.ws = ws;
        resolve();
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.on('error', (error) => {
        if (!opened) reject(error);
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) this.onFrame(data.toString('utf8'));
      });
      ws.on('close', () => {
        if (this.ws === ws) {
          this.ws = undefined;
          this.fail('closed');
        }
      });
    });
  }

  /** Replaces the socket (after a drop, or when the server says this connection left the room). */
  async reconnect(deadline = Date.now() + 20_000): Promise<void> {
    const old = this.ws;
    this.ws = undefined;
    if (old && old.readyState !== WebSocket.CLOSED) old.terminate();
    this.fail('closed');
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect();
        this.reconnects++;
        this.queueResume();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(Math.min(1000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  /** One sendMessage attempt: the ack, or why not. */
  sendOnce(clientMsgId: string, data: Record<string, unknown> = {}): Promise<Outcome> {
    const frame = JSON.stringify({
      action: 'sendMessage',
      kind: 'chat',
      data: { c: clientMsgId, ...data },
      clientMsgId,
    });
    return this.exclusive(() => this.request('sendMessage', frame, clientMsgId));
  }

  /** Resumes from the last contiguous seq until a `done` history frame; retried a few times. */
  async resumeUntilDone(attempts = 5): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      const outcome = await this.exclusive(() =>
        this.request('resume', JSON.stringify({ action: 'resume', afterSeq: this.lastContiguous })),
      );
      if (outcome.ok) {
        this.resumes++;
        return true;
      }
      if (!this.isOpen && !this.closing) await this.reconnect().catch(() => undefined);
      await sleep(100 * 2 ** i);
    }
    return false;
  }

  /** Sends a raw frame outside the request queue (fuzzing, attacks). */
  sendRaw(frame: string | Buffer): void {
    this.ws?.send(frame);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.gapTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close(1000);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    ws.terminate();
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.closing = true;
    clearTimeout(this.gapTimer);
    this.ws?.terminate();
  }

  // ---- internals -------------------------------------------------------------------------------------

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private request(action: InFlight['action'], frame: string, clientMsgId?: string): Promise<Outcome> {
    const started = Date.now();
    if (!this.isOpen) return Promise.resolve({ ok: false, reason: 'closed', latencyMs: 0 });
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => this.fail('timeout'), this.requestTimeoutMs);
      this.current = {
        action,
        clientMsgId,
        started,
        settle: (outcome) => {
          clearTimeout(timer);
          this.current = undefined;
          resolve(outcome);
        },
      };
      this.ws?.send(frame, (error) => {
        if (error) this.fail('closed');
      });
    });
  }

  private fail(reason: string): void {
    const current = this.current;
    current?.settle({ ok: false, reason, latencyMs: Date.now() - current.started });
  }

  private onFrame(text: string): void {
    this.framesIn++;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.stray.push(text.slice(0, 200));
      return;
    }
    const current = this.current;
    switch (frame.type) {
      case 'message':
        if (typeof frame.seq === 'number') this.record(frame.seq, 'live', frame);
        return;
      case 'history': {
        for (const message of (frame.messages as Record<string, unknown>[]) ?? []) {
          this.record(message.seq as number, 'resume', message);
        }
        if (frame.done === true) {
          if (frame.complete === false) this.incompleteHistory++;
          if (current?.action === 'resume') {
            current.settle({
              ok: true,
              seq: frame.lastSeq as number,
              id: '',
              latencyMs: Date.now() - current.started,
            });
          }
        }
        return;
      }
      case 'ack':
        if (current?.action === 'sendMessage' && frame.clientMsgId === current.clientMsgId) {
          const seq = frame.seq as number;
          this.record(seq, 'own', { id: frame.id, data: { c: current.clientMsgId } });
          current.settle({ ok: true, seq, id: frame.id as string, latencyMs: Date.now() - current.started });
        }
        return;
      case 'error':
        if (
          current &&
          (frame.clientMsgId === undefined || frame.clientMsgId === current.clientMsgId) &&
          (frame.action === undefined || frame.action === current.action)
        ) {
          this.fail(String(frame.code));
        } else this.stray.push(text.slice(0, 200));
        return;
      case 'presence':
      case 'pong':
      case 'direct':
      case 'classEnded':
        return;
      default:
        // API Gateway's own frames: {"message": "Internal server error", "connectionId", "requestId"}.
        if (typeof frame.message === 'string' && current) this.fail(`gateway: ${frame.message}`);
        else this.stray.push(text.slice(0, 200));
    }
  }

  private record(seq: number, source: Source, message: Record<string, unknown>): void {
    if (!Number.isSafeInteger(seq) || seq < 1) return;
    const id = String(message.id);
    const known = this.have.get(seq);
    if (known !== undefined) {
      if (this.ids.get(seq) !== id) this.conflicts++;
      if (source !== 'own') this.rawDuplicates++;
      return;
    }
    this.have.set(seq, source);
    this.ids.set(seq, id);
    const tag = (message.data as { c?: unknown } | undefined)?.c;
    if (typeof tag === 'string') this.tags.set(seq, tag);
    while (this.have.has(this.lastContiguous + 1)) this.lastContiguous++;
    if (seq > this.maxSeen) this.maxSeen = seq;
    if (this.maxSeen > this.lastContiguous) this.watchGap();
  }

  private watchGap(): void {
    if (this.gapTimer || this.closing) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.maxSeen > this.lastContiguous) this.queueResume();
    }, this.gapWaitMs);
  }

  private queueResume(): void {
    if (this.resumeQueued || this.closing) return;
    this.resumeQueued = true;
    void this.resumeUntilDone().finally(() => {
      this.resumeQueued = false;
    });
  }
}
