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
import type { DrillStack } from './stack';

export type Source = 'live' | 'resume' | 'own';

export interface Identity {
  userId: string;
  name: string;
  role: 'teacher' | 'student';
}

/** A ready-to-open URL (`…?classRoomId=ROOM&token=JWT`) for a member of a room. */
export type UrlFor = (identity: Identity, room: string) => Promise<string>;

export type Outcome =
  | { ok: true; seq: number; id: string; latencyMs: number; epoch?: number }
  | { ok: false; reason: string; latencyMs: number };

/** What a member holds of one epoch of its room. */
export interface EpochLog {
  /** undefined: a server that sends no epochs. */
  readonly epoch: number | undefined;
  /** seq -> how it arrived first. */
  readonly have: Map<number, Source>;
  /** seq -> message id, as first seen. */
  readonly ids: Map<number, string>;
  /** seq -> the drill's clientMsgId carried in `data.c`. */
  readonly tags: Map<number, string>;
  lastContiguous: number;
  maxSeen: number;
}

/** One stored message as a `history` answer gave it. */
export interface HistoryEntry {
  seq: number;
  id: string;
  /** The drill's clientMsgId (`data.c`), when the message carries one. */
  tag?: string;
}

/** A room's stored history as the server answered one `resume` (all frames of the answer). */
export interface HistorySnapshot {
  epoch: number | undefined;
  lastSeq: number;
  complete: boolean;
  frames: number;
  messages: HistoryEntry[];
}

function newLog(epoch: number | undefined): EpochLog {
  return { epoch, have: new Map(), ids: new Map(), tags: new Map(), lastContiguous: 0, maxSeen: 0 };
}

function epochOf(frame: Record<string, unknown>): number | undefined {
  return typeof frame.epoch === 'number' ? frame.epoch : undefined;
}

interface InFlight {
  action: 'sendMessage' | 'resume';
  clientMsgId?: string;
  started: number;
  settle: (outcome: Outcome) => void;
}

export interface MemberOptions {
  /** How long a gap may stay open before the member resumes (out-of-order delivery fills most). */
  gapWaitMs?: number;
  /**
   * How long a request waits for its answer (default 20 s). An answer must come: the function's
   * (template Timeout: 10 s), or the gateway's error when the function times out. Twice that, so a
   * slow answer on a busy machine is a slow answer, and only a missing one is a `timeout`.
   */
  requestTimeoutMs?: number;
  /** Called when the cursor moves to another epoch ("the class history was reset"). */
  onEpochChange?: (member: DrillMember, from: number | undefined, to: number | undefined) => void;
}

export class DrillMember {
  /** Per epoch (key: the epoch, or undefined without epochs), what arrived. */
  readonly logs = new Map<number | undefined, EpochLog>();
  /** The cursor's epoch log. */
  private cursor: EpochLog = newLog(undefined);
  /** Times the cursor moved to another epoch than the one it was on. */
  epochResets = 0;
  /** When the last `resume` of this member's own cursor got its answer, and which (`history` or an error code). */
  lastResumeAnswer?: { at: number; answer: string };
  /** When the current socket opened (epoch ms). */
  openedAt = 0;
  /** The last refused (re)connect: when, and the handshake status or socket error. */
  lastConnectFailure?: { at: number; reason: string };
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
  /** Set while `history()` reads the store's view: its frames go there, not into the logs. */
  private capture?: HistorySnapshot;

  constructor(
    readonly identity: Identity,
    readonly room: string,
    private readonly urlFor: UrlFor,
    private readonly options: MemberOptions = {},
  ) {
    this.gapWaitMs = options.gapWaitMs ?? 400;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.logs.set(undefined, this.cursor);
  }

  /** seq -> how it arrived first (the cursor's epoch). */
  get have(): Map<number, Source> {
    return this.cursor.have;
  }

  /** seq -> message id, as first seen (the cursor's epoch). */
  get ids(): Map<number, string> {
    return this.cursor.ids;
  }

  /** seq -> the drill's clientMsgId carried in `data.c` (to spot one message stored twice). */
  get tags(): Map<number, string> {
    return this.cursor.tags;
  }

  get lastContiguous(): number {
    return this.cursor.lastContiguous;
  }

  get maxSeen(): number {
    return this.cursor.maxSeen;
  }

  /** The cursor's epoch (undefined until a frame carried one, or with a server without epochs). */
  get epoch(): number | undefined {
    return this.cursor.epoch;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Opens the socket; rejects with the handshake status (`HTTP 500`…) or the socket error. The handshake
   * must be answered (the authorizer and $connect each have a 10 s Lambda timeout): the default wait of
   * 30 s lets a busy machine be slow, and only a handshake nobody answers times out.
   */
  async connect(timeoutMs = 30_000): Promise<void> {
    const url = await this.urlFor(this.identity, this.room);
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      let opened = false;
      ws.once('open', () => {
        opened = true;
        this.ws = ws;
        this.openedAt = Date.now();
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
        this.lastConnectFailure = { at: Date.now(), reason: (error as Error).message };
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

  /**
   * Resumes from the cursor, (epoch, last contiguous seq), until a `done` history frame; retried a few
   * times. The epoch goes along when known, so the server answers from the start of a newer one.
   */
  async resumeUntilDone(attempts = 5): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      const outcome = await this.exclusive(() => this.request('resume', this.resumeFrame()));
      this.lastResumeAnswer = { at: Date.now(), answer: outcome.ok ? 'history' : outcome.reason };
      if (outcome.ok) {
        this.resumes++;
        return true;
      }
      if (!this.isOpen && !this.closing) await this.reconnect().catch(() => undefined);
      await sleep(100 * 2 ** i);
    }
    return false;
  }

  /**
   * The store's view: one `resume` from `afterSeq` (default 0, no epoch: the room's current epoch), its
   * frames collected apart (not recorded as this member's deliveries). Undefined when it got no answer.
   */
  async history(afterSeq = 0): Promise<HistorySnapshot | undefined> {
    return this.exclusive(async () => {
      const snapshot: HistorySnapshot = {
        epoch: undefined,
        lastSeq: 0,
        complete: true,
        frames: 0,
        messages: [],
      };
      this.capture = snapshot;
      try {
        const outcome = await this.request('resume', JSON.stringify({ action: 'resume', afterSeq }));
        return outcome.ok ? snapshot : undefined;
      } finally {
        this.capture = undefined;
      }
    });
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
        if (typeof frame.seq === 'number') this.record(epochOf(frame), frame.seq, 'live', frame);
        return;
      case 'history': {
        const epoch = epochOf(frame);
        const capture = current?.action === 'resume' ? this.capture : undefined;
        if (capture) {
          capture.epoch = epoch;
          capture.frames++;
          for (const message of (frame.messages as Record<string, unknown>[]) ?? []) {
            const tag = (message.data as { c?: unknown } | undefined)?.c;
            capture.messages.push({
              seq: message.seq as number,
              id: String(message.id),
              ...(typeof tag === 'string' ? { tag } : {}),
            });
          }
        } else {
          // The answer to a resume is the room's current epoch: the cursor follows it.
          this.follow(epoch);
          for (const message of (frame.messages as Record<string, unknown>[]) ?? []) {
            this.record(epoch, message.seq as number, 'resume', message);
          }
        }
        if (frame.done === true) {
          if (frame.complete === false) {
            if (capture) capture.complete = false;
            else this.incompleteHistory++;
          }
          if (capture) capture.lastSeq = frame.lastSeq as number;
          if (current?.action === 'resume') {
            current.settle({
              ok: true,
              seq: frame.lastSeq as number,
              id: '',
              latencyMs: Date.now() - current.started,
              epoch,
            });
          }
        }
        return;
      }
      case 'ack':
        if (current?.action === 'sendMessage' && frame.clientMsgId === current.clientMsgId) {
          const epoch = epochOf(frame);
          if (typeof frame.seq === 'number') {
            this.record(epoch, frame.seq, 'own', { id: frame.id, data: { c: current.clientMsgId } });
          }
          current.settle({
            ok: true,
            seq: frame.seq as number,
            id: frame.id as string,
            latencyMs: Date.now() - current.started,
            epoch,
          });
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

  private resumeFrame(): string {
    const epoch = this.cursor.epoch;
    return JSON.stringify({
      action: 'resume',
      afterSeq: this.cursor.lastContiguous,
      ...(epoch === undefined ? {} : { epoch }),
    });
  }

  /**
   * Moves the cursor to `epoch` when it is another one than the cursor's. The first epoch a member sees
   * on a fresh cursor (nothing received yet) is taken without a reset.
   */
  private follow(epoch: number | undefined): void {
    const from = this.cursor;
    if (epoch === from.epoch) return;
    const fresh = from.epoch === undefined && from.have.size === 0;
    let log = this.logs.get(epoch);
    if (!log) {
      log = newLog(epoch);
      this.logs.set(epoch, log);
    }
    this.cursor = log;
    if (fresh) {
      this.logs.delete(undefined);
      return;
    }
    this.epochResets++;
    this.options.onEpochChange?.(this, from.epoch, epoch);
    // A new epoch: resume from its start (this epoch's log is empty, so the cursor is 0).
    this.queueResume();
  }

  private record(
    epoch: number | undefined,
    seq: number,
    source: Source,
    message: Record<string, unknown>,
  ): void {
    if (!Number.isSafeInteger(seq) || seq < 1) return;
    this.follow(epoch);
    const log = this.cursor;
    const id = String(message.id);
    const known = log.have.get(seq);
    if (known !== undefined) {
      if (log.ids.get(seq) !== id) this.conflicts++;
      if (source !== 'own') this.rawDuplicates++;
      return;
    }
    log.have.set(seq, source);
    log.ids.set(seq, id);
    const tag = (message.data as { c?: unknown } | undefined)?.c;
    if (typeof tag === 'string') log.tags.set(seq, tag);
    while (log.have.has(log.lastContiguous + 1)) log.lastContiguous++;
    if (seq > log.maxSeen) log.maxSeen = seq;
    if (log.maxSeen > log.lastContiguous) this.watchGap();
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

/**
 * One handshake of a latecomer to `room`: `101` when it opened (then closed), else the refusal's status (e.g.
 * `500`), with how long the answer took.
 */
export async function tryHandshake(
  stack: Pick<DrillStack, 'memberUrl'>,
  room: string,
  timeoutMs?: number,
): Promise<{ status: string; ms: number }> {
  const member = new DrillMember({ userId: 'latecomer', name: 'Late', role: 'student' }, room, (id, r) =>
    stack.memberUrl(id, r),
  );
  const started = Date.now();
  try {
    await member.connect(timeoutMs);
    await member.close();
    return { status: '101', ms: Date.now() - started };
  } catch (error) {
    return { status: (error as Error).message.replace('HTTP ', ''), ms: Date.now() - started };
  }
}
