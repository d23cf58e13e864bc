/**
 * The classroom client: one WebSocket to the API, reopened with full-jitter backoff when it drops, with
 * `resume` after every (re)connect and on a gap, so that stored messages reach the application once each
 * and in `seq` order. The cursor is `(epoch, seq)`: a frame from another epoch means the room's `seq`
 * restarted, and the client starts over from its `seq` 1 (`historyReset`). Runs in the browser and in Node
 * (pass `ws`'s `WebSocket`).
 */
import { Backoff } from './backoff';
import { Coalescer } from './coalescer';
import { Emitter } from './emitter';
import {
  ClientClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  HandshakeRefusedError,
  SendTimeoutError,
  ServerError,
  UnavailableError,
} from './errors';
import { Sequencer } from './sequencer';
import {
  type AckFrame,
  type ClassEndedFrame,
  type ClassroomClientOptions,
  type ClassroomEvents,
  ConnectionState,
  type Epoch,
  type ErrorFrame,
  type HistoryFrame,
  type Member,
  type MessageSource,
  type PresenceFrame,
  type RoomMessage,
  type SendOptions,
  type SendResult,
  type SequencedMessage,
  type ServerErrorCode,
  type StateChangeEvent,
  type Timers,
  type WebSocketConstructor,
  type WebSocketLike,
} from './types';

/** API Gateway's limit for one frame from a client. */
export const MAX_FRAME_BYTES = 32 * 1024;
const OPEN = 1;

interface PendingSend {
  clientMsgId: string;
  frame: string;
  kind: string;
  data: unknown;
  transient: boolean;
  timer: unknown;
  /** `unavailable` answers so far (each attempt that was refused). */
  unavailable: number;
  /** The resend scheduled after an `unavailable` answer, and its backoff. */
  retryTimer?: unknown;
  retryBackoff?: Backoff;
  resolve: (result: SendResult) => void;
  reject: (error: Error) => void;
}

interface Entry {
  seq: number;
  message: SequencedMessage;
  source: MessageSource;
}

export interface CoalesceOptions<T> {
  /** Gathering window. Default 50 ms. */
  windowMs?: number;
  /** Combines gathered items (e.g. `mergeStrokes`). */
  merge?: (items: T[]) => T[];
  /** Send the batches as transient messages (not stored). Default false. */
  transient?: boolean;
}

/** A sender that gathers items and sends them as one `{ items: T[] }` message per window. */
export interface CoalescedSender<T> {
  /** Adds an item to the current window. */
  push(item: T): void;
  /** Sends what has gathered now; resolves when everything pushed so far is acknowledged or dropped. */
  flush(): Promise<void>;
  /** Items not yet acknowledged. */
  readonly pending: number;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A connection to one classroom.
 *
 * @example
 * ```ts
 * import { ClassroomClient } from './client/src';
 *
 * const client = new ClassroomClient({
 *   url: 'wss://abc123.execute-api.eu-west-1.amazonaws.com/prod',
 *   classRoomId: 'r1',
 *   getToken: () => fetch('/api/classroom-token').then((r) => r.text()), // asked before every (re)connect
 *   // WebSocket: require('ws').WebSocket,  // in Node
 * });
 * client.on('message', (message) => console.log(message.seq, message.from.name, message.data));
 * client.on('presence', ({ members }) => console.log(members.map((m) => m.name)));
 * client.on('classEnded', () => console.log('class over'));
 * await client.connect();
 * const { seq } = await client.send('chat', { text: 'Hello' }); // resolves on the server's ack
 * ```
 */
export class ClassroomClient extends Emitter<ClassroomEvents> {
  readonly classRoomId: string;

  private readonly options: ClassroomClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly sequencer: Sequencer<Entry>;
  private readonly pending = new Map<string, PendingSend>();
  private readonly memberMap = new Map<string, Member>();
  private readonly idPrefix: string;
  private idCounter = 0;
  private coalescerCount = 0;

  private currentState: ConnectionState = ConnectionState.Idle;
  private socket?: WebSocketLike;
  private opened = false;
  private refusedStatus?: number;
  private failedAttempts = 0;
  private givenTokenUnused: boolean;
  private self?: Member;
  private ended = false;

  private reconnectTimer?: unknown;
  private pingTimer?: unknown;
  private pongTimer?: unknown;
  private gapTimer?: unknown;
  private resumeTimer?: unknown;
  /** A resume asked again after an `unavailable` answer, and how many times so far. */
  private resumeRetryTimer?: unknown;
  private resumeRetries = 0;
  private readonly resumeBackoff: Backoff;
  private resumeInFlight = false;
  private resumeFirstPage = true;
  private resumeComplete = true;
  private resetting = false;
  /** The epoch of the cursor (undefined until the server names one, or with a server without epochs). */
  private cursorEpoch?: Epoch;
  /** The cursor when the resume in flight was sent. */
  private resumeEpoch?: Epoch;
  private resumeAfterSeq = 0;
  /** The answer in flight is from an epoch the cursor has left since: skipped, then asked again. */
  private resumeStale = false;
  /** The epoch of the answer's last page. */
  private answerEpoch?: Epoch;

  private connectWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private endClassWaiters: Array<{ resolve: () => void; reject: (error: Error) => void; timer: unknown }> =
    [];

  constructor(options: ClassroomClientOptions) {
    super();
    if (!options.token && !options.getToken) throw new TypeError('ClassroomClient needs a token or getToken');
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) throw new TypeError('No WebSocket implementation: pass options.WebSocket (e.g. ws in Node)');
    this.options = options;
    this.classRoomId = options.classRoomId;
    this.WebSocketImpl = impl;
    this.timers = options.timers ?? defaultTimers;
    this.backoff = new Backoff({
      baseMs: options.reconnectBaseMs ?? 500,
      maxMs: options.reconnectMaxMs ?? 30_000,
      random: options.random,
    });
    this.resumeBackoff = new Backoff({
      baseMs: options.unavailableRetryBaseMs ?? 250,
      maxMs: options.unavailableRetryMaxMs ?? 4000,
      random: options.random,
    });
    this.sequencer = new Sequencer<Entry>(options.lastSeq ?? 0);
    this.cursorEpoch = isEpoch(options.epoch) ? options.epoch : undefined;
    this.givenTokenUnused = Boolean(options.token);
    if (options.token) this.self = memberFromToken(options.token);
    this.idPrefix = randomId();
  }

  /** The connection state (see {@link ConnectionState}). */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The highest `seq` delivered; keep it to resume from there after a page reload (`lastSeq` option). */
  get lastSeq(): number {
    return this.sequencer.lastSeq;
  }

  /**
   * The epoch `lastSeq` belongs to (undefined until the server names one); keep it with `lastSeq` across a
   * page reload (`epoch` option).
   */
  get epoch(): Epoch | undefined {
    return this.cursorEpoch;
  }

  /** The members connected now, one per user (kept from presence snapshots, joins and leaves). */
  get members(): Member[] {
    return [...this.memberMap.values()];
  }

  /** This user, as the token's claims name it (undefined until a token is known). */
  get user(): Member | undefined {
    return this.self;
  }

  /** Sends not yet acknowledged. */
  get pendingSends(): number {
    return this.pending.size;
  }

  /**
   * Opens the connection. Resolves once the socket is open (history and presence are then requested);
   * rejects when the client is closed first (by `close()`, a refused handshake or the end of the class).
   */
  connect(): Promise<void> {
    if (this.currentState === ConnectionState.Closed) return Promise.reject(new ClientClosedError());
    if (this.currentState === ConnectionState.Open) return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === ConnectionState.Idle) {
      this.setState(ConnectionState.Connecting);
      this.openSocket();
    }
    return ready;
  }

  /** Closes for good: no reconnect; pending sends reject with {@link ClientClosedError}. */
  close(): void {
    this.finish(new ClientClosedError(), { code: 1000, reason: 'client closed' });
  }

  /**
   * Drops the socket and opens a new one (after a backoff delay), e.g. when the device's network changed.
   * Sends in flight are resent; what arrived meanwhile is recovered with `resume`.
   */
  reconnect(): void {
    if (this.currentState !== ConnectionState.Open) return;
    this.dropSocket(4000, 'reconnect requested');
  }

  /**
   * Sends a room message; resolves with the server's `ack` (the stored message's `seq`). Until then it is
   * resent after every reconnect with the same `clientMsgId`, which the server dedupes for 60 s.
   *
   * An `unavailable` answer (the server could not make the message durable in time, e.g. during a
   * failover, or its cache is full) does not reject: the same frame, with the same `clientMsgId`, is sent
   * again after a full-jitter backoff delay (`unavailableRetryBaseMs`, `unavailableRetryMaxMs`), up to
   * `unavailableRetries` times and within the send's timeout; the server completes it once (one
   * broadcast, the ack with the original `seq`). When every attempt was refused it rejects with an
   * {@link UnavailableError}.
   *
   * Rejects with a {@link ServerError} (e.g. `rate_limited`, `forbidden`), an {@link UnavailableError}, a
   * {@link SendTimeoutError}, a {@link FrameTooLargeError}, or a {@link ClientClosedError}; a transient
   * send (not deduped by the server, so never resent) rejects with a {@link ConnectionLostError} when the
   * socket drops first, and with the {@link ServerError} at once on `unavailable`.
   *
   * Other members get a `message` event; this client gets its own message as a `message` event with
   * `source: "self"` when the ack arrives, in `seq` order with the rest.
   */
  send<T = unknown>(kind: string, data: T, options: SendOptions = {}): Promise<SendResult> {
    if (this.currentState === ConnectionState.Closed) return Promise.reject(new ClientClosedError());
    const clientMsgId = options.clientMsgId ?? this.nextClientMsgId();
    const frame = JSON.stringify({
      action: 'sendMessage',
      kind,
      data,
      clientMsgId,
      ...(options.transient ? { transient: true } : {}),
    });
    const bytes = utf8Length(frame);
    if (bytes > MAX_FRAME_BYTES) return Promise.reject(new FrameTooLargeError(bytes, MAX_FRAME_BYTES));
    if (this.pending.has(clientMsgId)) {
      return Promise.reject(new TypeError(`clientMsgId ${clientMsgId} is already being sent`));
    }
    const timeoutMs = options.timeoutMs ?? this.options.sendTimeoutMs ?? 10_000;
    return new Promise<SendResult>((resolve, reject) => {
      const pending: PendingSend = {
        clientMsgId,
        frame,
        kind,
        data,
        transient: options.transient === true,
        unavailable: 0,
        resolve,
        reject,
        timer: this.timers.setTimeout(() => {
          this.pending.delete(clientMsgId);
          this.clear(pending.retryTimer);
          reject(new SendTimeoutError(clientMsgId, timeoutMs));
        }, timeoutMs),
      };
      this.pending.set(clientMsgId, pending);
      this.write(frame);
    });
  }

  /**
   * A coalescing sender for `kind`: items pushed within `windowMs` (default 50 ms) go out as one
   * message whose `data` is `{ items: T[] }`. Batches are sent one at a time, in order, and resent after
   * a rate limit, a timeout or an `unavailable` rejection with the same `clientMsgId`.
   *
   * @example
   * ```ts
   * const strokes = client.coalesce<StrokeSegment>('whiteboard', { merge: mergeStrokes });
   * canvas.onpointermove = (e) => strokes.push({ strokeId, color, width, points: [last, [x, y]] });
   * ```
   */
  coalesce<T>(kind: string, options: CoalesceOptions<T> = {}): CoalescedSender<T> {
    const index = ++this.coalescerCount;
    const coalescer = new Coalescer<T>({
      windowMs: options.windowMs ?? 50,
      merge: options.merge,
      timers: this.timers,
      send: (items, key) =>
        this.send(
          kind,
          { items },
          { transient: options.transient, clientMsgId: `${this.idPrefix}-c${index}-${key}` },
        ),
      retryable: (error) =>
        error instanceof SendTimeoutError ||
        (error instanceof ServerError &&
          (error.code === 'rate_limited' || error.code === 'internal' || error.code === 'unavailable')),
      onError: (error) => this.emit('error', error instanceof Error ? error : new Error(String(error))),
    });
    return {
      push: (item) => coalescer.push(item),
      flush: () => coalescer.flush(),
      get pending() {
        return coalescer.pending;
      },
    };
  }

  /** Asks for a presence snapshot (also done after every connect). */
  requestPresence(): void {
    this.write(JSON.stringify({ action: 'presence' }));
  }

  /** Asks for what was stored after the last delivered `seq` (also done after every connect and on a gap). */
  resume(): void {
    this.sendResume();
  }

  /**
   * Ends the class (teacher only): everyone gets `classEnded` and is disconnected. Resolves when this
   * client gets its `classEnded`; rejects with a {@link ServerError} `forbidden` for a student.
   */
  endClass(timeoutMs = 10_000): Promise<void> {
    if (this.currentState !== ConnectionState.Open)
      return Promise.reject(new ClientClosedError('Not connected'));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: this.timers.setTimeout(() => {
          this.endClassWaiters = this.endClassWaiters.filter((w) => w !== waiter);
          reject(new SendTimeoutError('endClass', timeoutMs));
        }, timeoutMs),
      };
      this.endClassWaiters.push(waiter);
      this.write(JSON.stringify({ action: 'endClass' }));
    });
  }

  // ---- socket lifecycle -----------------------------------------------------------------------------

  /** One connection attempt: a token (given, or from getToken), then a socket. */
  private openSocket(): void {
    this.reconnectTimer = undefined;
    let token: string | Promise<string>;
    try {
      token = this.nextToken();
    } catch (error) {
      token = Promise.reject(error);
    }
    if (typeof token === 'string') {
      this.openWith(token);
      return;
    }
    token.then(
      (value) => this.openWith(value),
      (error: unknown) => {
        if (this.isClosed()) return;
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
        // Not a refused handshake (no socket was tried): retried with backoff, never fatal.
        this.scheduleReconnect(undefined, 'getToken failed');
      },
    );
  }

  private openWith(token: string): void {
    if (this.isClosed()) return;
    this.self = memberFromToken(token) ?? this.self;
    const url = `${this.options.url}${this.options.url.includes('?') ? '&' : '?'}classRoomId=${encodeURIComponent(
      this.classRoomId,
    )}&token=${encodeURIComponent(token)}`;
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
      this.afterFailedAttempt(undefined, 'WebSocket constructor failed');
      return;
    }
    this.socket = ws;
    this.opened = false;
    this.refusedStatus = undefined;
    ws.onopen = () => {
      if (ws === this.socket) this.onOpen();
    };
    ws.onmessage = (event: { data: unknown }) => {
      if (ws === this.socket) this.onFrame(event.data);
    };
    ws.onerror = (event: { message?: unknown; error?: { message?: unknown } }) => {
      if (ws !== this.socket) return;
      // Only `ws` (Node) tells the refused handshake's status; a browser shows a bare error event.
      const text = `${event?.message ?? ''} ${event?.error?.message ?? ''}`;
      const status = /Unexpected server response: (\d{3})/.exec(text)?.[1];
      if (status) this.refusedStatus = Number(status);
    };
    ws.onclose = (event: { code: number; reason: string }) => {
      if (ws === this.socket) this.onSocketClosed(event.code, event.reason);
    };
  }

  private nextToken(): string | Promise<string> {
    if (this.givenTokenUnused && this.options.token) {
      this.givenTokenUnused = false;
      return this.options.token;
    }
    if (this.options.getToken) return this.options.getToken();
    return this.options.token as string;
  }

  private onOpen(): void {
    this.opened = true;
    this.failedAttempts = 0;
    this.resumeInFlight = false;
    this.setState(ConnectionState.Open);
    this.sendResume();
    if (this.options.presence !== false) this.requestPresence();
    for (const pending of this.pending.values()) {
      // A resend waiting after `unavailable` goes now, on the new socket.
      this.clear(pending.retryTimer);
      pending.retryTimer = undefined;
      this.write(pending.frame);
    }
    this.schedulePing();
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private onSocketClosed(code: number, reason: string): void {
    const wasOpen = this.opened;
    this.detachSocket();
    if (this.isClosed()) return;
    if (this.ended) {
      this.finish(new ClientClosedError('The class has ended'), { code, reason });
      return;
    }
    if (wasOpen) {
      this.scheduleReconnect(code, reason);
      return;
    }
    this.afterFailedAttempt(code, reason);
  }

  /** A socket that never opened: fatal on a known 401/403, or after too many in a row. */
  private afterFailedAttempt(code: number | undefined, reason: string): void {
    this.failedAttempts += 1;
    const status = this.refusedStatus;
    const max = this.options.maxFailedAttempts ?? 8;
    if (status === 401 || status === 403 || this.failedAttempts >= max) {
      const error = new HandshakeRefusedError(this.failedAttempts, status);
      this.emit('error', error);
      this.finish(error, { code, reason: error.message });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number | undefined, reason: string): void {
    // Transient messages are not deduped by the server, so they are not resent.
    for (const pending of [...this.pending.values()]) {
      if (!pending.transient) continue;
      this.pending.delete(pending.clientMsgId);
      this.clear(pending.timer);
      this.clear(pending.retryTimer);
      pending.reject(new ConnectionLostError());
    }
    const delayMs = this.backoff.next();
    this.setState(ConnectionState.Reconnecting, { code, reason, attempt: this.backoff.attempt, delayMs });
    this.reconnectTimer = this.timers.setTimeout(() => this.openSocket(), delayMs);
  }

  /** Closes the socket now, without waiting for its close event, and reconnects. */
  private dropSocket(code: number, reason: string): void {
    const ws = this.socket;
    this.detachSocket();
    try {
      ws?.close(code, reason);
    } catch {
      // already closing
    }
    this.scheduleReconnect(code, reason);
  }

  private detachSocket(): void {
    const ws = this.socket;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onerror = null;
      ws.onclose = null;
    }
    this.socket = undefined;
    this.opened = false;
    this.resumeInFlight = false;
    for (const timer of [
      this.pingTimer,
      this.pongTimer,
      this.gapTimer,
      this.resumeTimer,
      this.resumeRetryTimer,
    ])
      this.clear(timer);
    this.pingTimer = this.pongTimer = this.gapTimer = this.resumeTimer = this.resumeRetryTimer = undefined;
  }

  private finish(error: Error, close: { code?: number; reason?: string }): void {
    if (this.isClosed()) return;
    const ws = this.socket;
    this.detachSocket();
    this.clear(this.reconnectTimer);
    this.reconnectTimer = undefined;
    try {
      ws?.close(1000, 'client closed');
    } catch {
      // already closing
    }
    this.setState(ConnectionState.Closed, close);
    for (const pending of this.pending.values()) {
      this.clear(pending.timer);
      this.clear(pending.retryTimer);
      pending.reject(error);
    }
    this.pending.clear();
    for (const waiter of this.connectWaiters) waiter.reject(error);
    this.connectWaiters = [];
    for (const waiter of this.endClassWaiters) {
      this.clear(waiter.timer);
      waiter.reject(error);
    }
    this.endClassWaiters = [];
  }

  private isClosed(): boolean {
    return this.currentState === ConnectionState.Closed;
  }

  private setState(state: ConnectionState, extra: Partial<StateChangeEvent> = {}): void {
    const previous = this.currentState;
    if (previous === state && state !== ConnectionState.Reconnecting) return;
    this.currentState = state;
    const change: StateChangeEvent = { state, previous };
    for (const key of ['code', 'reason', 'attempt', 'delayMs'] as const) {
      if (extra[key] !== undefined) Object.assign(change, { [key]: extra[key] });
    }
    this.emit('state', change);
  }

  // ---- keepalive ------------------------------------------------------------------------------------

  private schedulePing(): void {
    this.clear(this.pingTimer);
    this.pingTimer = this.timers.setTimeout(
      () => {
        if (!this.write(JSON.stringify({ action: 'ping' }))) return;
        this.clear(this.pongTimer);
        this.pongTimer = this.timers.setTimeout(
          () => this.dropSocket(4000, 'keepalive timeout'),
          this.options.pongTimeoutMs ?? 30_000,
        );
        this.schedulePing();
      },
      this.options.pingIntervalMs ?? 5 * 60_000,
    );
  }

  // ---- frames -------------------------------------------------------------------------------------

  private write(frame: string): boolean {
    const ws = this.socket;
    if (!ws || !this.opened || ws.readyState !== OPEN) return false;
    ws.send(frame);
    return true;
  }

  private onFrame(raw: unknown): void {
    // Anything from the server proves the connection alive.
    this.clear(this.pongTimer);
    this.pongTimer = undefined;
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(typeof raw === 'string' ? raw : String(raw));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      frame = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'message':
        this.onLiveMessage(frame as unknown as RoomMessage);
        return;
      case 'ack':
        this.onAck(frame as unknown as AckFrame);
        return;
      case 'history':
        this.onHistory(frame as unknown as HistoryFrame);
        return;
      case 'presence':
        this.onPresence(frame as unknown as PresenceFrame);
        return;
      case 'direct':
        this.emit('direct', frame as never);
        return;
      case 'classEnded':
        this.onClassEnded(frame as unknown as ClassEndedFrame);
        return;
      case 'pong':
        return;
      case 'error':
        this.onError(frame as unknown as ErrorFrame);
        return;
      default:
        // API Gateway's own frame when an integration fails: {"message": "Internal server error", ...}
        if (frame.type === undefined && typeof frame.message === 'string') {
          this.emit('error', new ServerError('internal', frame.message));
        }
    }
  }

  private onLiveMessage(message: RoomMessage): void {
    const reset = this.observeEpoch(message.epoch);
    this.onMessage(message, 'live');
    if (reset) this.sendResume();
  }

  private onMessage(message: RoomMessage, source: MessageSource): void {
    if (typeof message.seq !== 'number') {
      this.emit('message', message, { source });
      return;
    }
    const { deliver } = this.sequencer.push({
      seq: message.seq,
      message: message as SequencedMessage,
      source,
    });
    this.deliver(deliver);
    this.checkGap();
  }

  private deliver(entries: Entry[]): void {
    for (const entry of entries) this.emit('message', entry.message, { source: entry.source });
  }

  private onAck(ack: AckFrame): void {
    const reset = this.observeEpoch(ack.epoch);
    this.ackPending(ack);
    if (reset) this.sendResume();
  }

  private ackPending(ack: AckFrame): void {
    const pending = this.pending.get(ack.clientMsgId);
    if (!pending) return;
    this.pending.delete(ack.clientMsgId);
    this.clear(pending.timer);
    this.clear(pending.retryTimer);
    const result: SendResult = { clientMsgId: ack.clientMsgId, id: ack.id };
    if (typeof ack.seq === 'number') result.seq = ack.seq;
    pending.resolve(result);
    if (typeof ack.seq === 'number' && !pending.transient) {
      // The server does not echo a message to its sender: the ack stands in for it in the sequence.
      this.onMessage(
        {
          type: 'message',
          classRoomId: this.classRoomId,
          ...(isEpoch(ack.epoch) ? { epoch: ack.epoch } : {}),
          seq: ack.seq,
          id: ack.id,
          from: this.self ?? { userId: '', name: '', role: 'student' },
          kind: pending.kind,
          data: pending.data,
          sentAt: Date.now(),
        },
        'self',
      );
    }
  }

  private onHistory(frame: HistoryFrame): void {
    const first = this.resumeFirstPage;
    this.resumeFirstPage = false;
    const epoch = isEpoch(frame.epoch) ? frame.epoch : undefined;
    // The server's epoch as this answer last showed it: the one asked for, then the previous page's.
    const expected = first ? this.resumeEpoch : this.answerEpoch;
    if (epoch !== undefined) this.answerEpoch = epoch;
    if (!this.resumeStale && epoch !== undefined && epoch !== this.cursorEpoch) {
      if (this.cursorEpoch === undefined || this.cursorEpoch === expected) {
        // The room is in another epoch than asked for (or than the previous page's, when it restarted while
        // the answer was read): the server answers from its start. Delivered below, after the reset.
        if (this.observeEpoch(epoch)) this.resumeComplete = true;
      } else {
        // The cursor has moved to another epoch since (a live frame): this answer is stale.
        this.resumeStale = true;
      }
    }
    if (
      first &&
      !this.resumeStale &&
      (epoch === undefined || this.resumeEpoch === undefined) &&
      frame.lastSeq < this.resumeAfterSeq
    ) {
      // Without an epoch to compare (an old server, or a cursor that had none when it asked), a room whose
      // state was deleted (endClass, TTL) shows as a sequence restarted below what was asked for.
      const previousSeq = this.sequencer.lastSeq;
      this.sequencer.reset(0);
      this.resetting = true;
      this.emit('reset', { previousSeq, lastSeq: frame.lastSeq });
    }
    if (!this.resetting && !this.resumeStale) {
      for (const message of frame.messages) {
        if (typeof message.seq !== 'number') continue;
        const { deliver } = this.sequencer.push({
          seq: message.seq,
          message: message as SequencedMessage,
          source: 'history',
        });
        this.deliver(deliver);
      }
      this.resumeComplete &&= frame.complete;
    }
    if (!frame.done) return;
    this.resumeInFlight = false;
    this.clear(this.resumeTimer);
    this.resumeTimer = undefined;
    if (this.resetting || this.resumeStale) {
      this.resetting = false;
      this.resumeStale = false;
      this.sendResume();
      return;
    }
    // Everything stored up to lastSeq has come; what is still missing below it is no longer stored.
    let complete = this.resumeComplete;
    if (this.sequencer.lastSeq < frame.lastSeq) {
      complete = false;
      this.deliver(this.sequencer.skipTo(frame.lastSeq));
    }
    this.backoff.reset();
    this.resumeBackoff.reset();
    this.resumeRetries = 0;
    this.emit('synced', { lastSeq: this.sequencer.lastSeq, complete });
    this.checkGap();
  }

  private onPresence(frame: PresenceFrame): void {
    if (frame.event === 'snapshot') {
      this.memberMap.clear();
      for (const member of frame.members) this.memberMap.set(member.userId, member);
      this.emit('presence', { event: 'snapshot', members: this.members });
      return;
    }
    if (frame.event === 'join') this.memberMap.set(frame.member.userId, frame.member);
    else this.memberMap.delete(frame.member.userId);
    this.emit('presence', { event: frame.event, member: frame.member, members: this.members });
  }

  private onClassEnded(frame: ClassEndedFrame): void {
    this.ended = true;
    for (const waiter of this.endClassWaiters) {
      this.clear(waiter.timer);
      waiter.resolve();
    }
    this.endClassWaiters = [];
    this.emit('classEnded', frame);
    this.finish(new ClientClosedError('The class has ended'), { code: 1000, reason: 'class ended' });
  }

  private onError(frame: ErrorFrame): void {
    const error = new ServerError(frame.code as ServerErrorCode, frame.message, {
      action: frame.action,
      clientMsgId: frame.clientMsgId,
    });
    const pending = frame.clientMsgId ? this.pending.get(frame.clientMsgId) : undefined;
    if (pending && frame.code === 'unavailable' && !pending.transient) {
      this.resendUnavailable(pending, frame.message);
      return;
    }
    if (pending) {
      this.pending.delete(pending.clientMsgId);
      this.clear(pending.retryTimer);
      this.clear(pending.timer);
      pending.reject(error);
      return;
    }
    // A late answer to an earlier attempt of a send that has since been acknowledged or settled.
    if (frame.code === 'unavailable' && frame.clientMsgId) return;
    if (frame.action === 'endClass' && this.endClassWaiters.length > 0) {
      const waiter = this.endClassWaiters.shift();
      this.clear(waiter?.timer);
      waiter?.reject(error);
      return;
    }
    if (frame.action === 'resume') {
      this.resumeInFlight = false;
      this.clear(this.resumeTimer);
      this.resumeTimer = undefined;
      // A passing refusal (a failover, a full cache): asked again after a jittered delay, a few times,
      // before the application hears of it.
      if (frame.code === 'unavailable' && this.resumeRetries < (this.options.unavailableRetries ?? 5)) {
        this.resumeRetries += 1;
        this.clear(this.resumeRetryTimer);
        this.resumeRetryTimer = this.timers.setTimeout(() => {
          this.resumeRetryTimer = undefined;
          this.sendResume();
        }, this.resumeBackoff.next());
        return;
      }
      this.resumeRetries = 0;
      this.resumeBackoff.reset();
    }
    this.emit('error', error);
  }

  /**
   * `unavailable`: the server did not acknowledge the message (nothing was broadcast). The same frame, with
   * the same `clientMsgId`, goes again after a full-jitter backoff delay, so that the server completes it
   * once; after `unavailableRetries` resends the send rejects with an {@link UnavailableError}. The send's
   * own timeout keeps running meanwhile.
   */
  private resendUnavailable(pending: PendingSend, serverMessage: string): void {
    if (pending.retryTimer !== undefined) return; // a resend is already scheduled
    pending.unavailable += 1;
    if (pending.unavailable > (this.options.unavailableRetries ?? 5)) {
      this.pending.delete(pending.clientMsgId);
      this.clear(pending.timer);
      pending.reject(new UnavailableError(pending.clientMsgId, pending.unavailable, serverMessage));
      return;
    }
    pending.retryBackoff ??= new Backoff({
      baseMs: this.options.unavailableRetryBaseMs ?? 250,
      maxMs: this.options.unavailableRetryMaxMs ?? 4000,
      random: this.options.random,
    });
    pending.retryTimer = this.timers.setTimeout(() => {
      pending.retryTimer = undefined;
      // Not open now: the frame goes with the other pending sends when the socket (re)opens.
      if (this.pending.get(pending.clientMsgId) === pending) this.write(pending.frame);
    }, pending.retryBackoff.next());
  }

  // ---- epochs ----------------------------------------------------------------------------------------

  /**
   * Compares a frame's epoch with the cursor's. The first one seen is adopted silently; another one means
   * the room's `seq` restarted: the cursor starts over from 0 in the new epoch (frames waiting behind a gap
   * are dropped) and `historyReset` tells the application. Returns true on such a reset.
   */
  private observeEpoch(epoch: unknown): boolean {
    if (!isEpoch(epoch) || epoch === this.cursorEpoch) return false;
    const previousEpoch = this.cursorEpoch;
    this.cursorEpoch = epoch;
    if (previousEpoch === undefined) return false;
    const previousSeq = this.sequencer.lastSeq;
    this.sequencer.reset(0);
    this.clear(this.gapTimer);
    this.gapTimer = undefined;
    this.emit('historyReset', { previousEpoch, epoch, previousSeq });
    return true;
  }

  // ---- resume ----------------------------------------------------------------------------------------

  private sendResume(): void {
    if (this.resumeInFlight) return;
    this.clear(this.gapTimer);
    this.clear(this.resumeRetryTimer);
    this.gapTimer = this.resumeRetryTimer = undefined;
    const epoch = this.cursorEpoch;
    const request = {
      action: 'resume',
      afterSeq: this.sequencer.lastSeq,
      ...(epoch === undefined ? {} : { epoch }),
    };
    if (!this.write(JSON.stringify(request))) return;
    this.resumeInFlight = true;
    this.resumeEpoch = epoch;
    this.resumeAfterSeq = this.sequencer.lastSeq;
    this.resumeStale = false;
    this.resumeFirstPage = true;
    this.resumeComplete = true;
    this.clear(this.resumeTimer);
    // A lost answer (failed integration) must not block later resumes.
    this.resumeTimer = this.timers.setTimeout(() => {
      this.resumeInFlight = false;
      this.checkGap();
    }, this.options.sendTimeoutMs ?? 10_000);
  }

  /** A gap stays open a moment (an ack or a late frame may fill it), then `resume` fills it. */
  private checkGap(): void {
    if (!this.sequencer.hasGap) {
      this.clear(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer !== undefined || this.resumeInFlight) return;
    this.gapTimer = this.timers.setTimeout(() => {
      this.gapTimer = undefined;
      if (this.sequencer.hasGap) this.sendResume();
    }, this.options.gapResumeDelayMs ?? 250);
  }

  // ---- helpers ---------------------------------------------------------------------------------------

  private clear(timer: unknown): void {
    if (timer !== undefined) this.timers.clearTimeout(timer);
  }

  private nextClientMsgId(): string {
    this.idCounter += 1;
    return `${this.idPrefix}-${this.idCounter}`;
  }
}

/** A usable epoch: a positive safe integer (anything else is treated as absent). */
function isEpoch(value: unknown): value is Epoch {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '').slice(0, 16);
  return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * The member a token names (its `sub`, `name` and `role` claims), read without verification: the server
 * verifies; the client only needs it to label its own messages.
 */
export function memberFromToken(token: string): Member | undefined {
  try {
    const payload = token.split('.')[1];
    if (!payload) return undefined;
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (typeof claims.sub !== 'string') return undefined;
    return {
      userId: claims.sub,
      name: typeof claims.name === 'string' && claims.name ? claims.name : claims.sub,
      role: claims.role === 'teacher' ? 'teacher' : 'student',
    };
  } catch {
    return undefined;
  }
}
