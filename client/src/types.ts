/**
 * Types of the Client SDK: the wire frames of SPEC §4 as the client sees them, the connection states,
 * the typed event map and the options. No runtime dependencies: this file is shared by browser and Node.
 */

/** Connection states, as string values (`client.state`). */
export const ConnectionState = {
  /** Created; `connect()` not called yet. */
  Idle: 'idle',
  /** Opening the first socket. */
  Connecting: 'connecting',
  /** The socket is open (history and presence are requested at once). */
  Open: 'open',
  /** The socket dropped; a new one is being opened after a backoff delay. */
  Reconnecting: 'reconnecting',
  /** Final: `close()` was called, the class ended, or the handshake was refused. No reconnect follows. */
  Closed: 'closed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export type Role = 'teacher' | 'student' | 'system';

/** A classroom member as the server names it. */
export interface Member {
  userId: string;
  name: string;
  role: Role;
}

/**
 * The room's history epoch: a positive integer the server creates with the room's `seq` counter. Opaque:
 * compare it by equality only. A new epoch means the room's `seq` restarted at 1.
 */
export type Epoch = number;

/** A room message (`type: "message"`). `seq` is absent only on transient messages. */
export interface RoomMessage<T = unknown> {
  type: 'message';
  classRoomId: string;
  /** The epoch `seq` belongs to (absent from servers without epochs). */
  epoch?: Epoch;
  seq?: number;
  id: string;
  from: Member;
  kind: string;
  data: T;
  sentAt: number;
}

/** A stored room message: one with a `seq`. */
export type SequencedMessage<T = unknown> = RoomMessage<T> & { seq: number };

export interface AckFrame {
  type: 'ack';
  clientMsgId: string;
  /** The epoch `seq` belongs to (absent from servers without epochs). */
  epoch?: Epoch;
  seq?: number;
  id: string;
}

export interface HistoryFrame {
  type: 'history';
  classRoomId: string;
  /**
   * The epoch of the messages and `lastSeq` (absent from servers without epochs). When it is not the
   * epoch `resume` asked for, the server answered from the start of this epoch.
   */
  epoch?: Epoch;
  messages: RoomMessage[];
  lastSeq: number;
  done: boolean;
  complete: boolean;
}

export type PresenceFrame =
  | { type: 'presence'; event: 'join' | 'leave'; member: Member }
  | { type: 'presence'; event: 'snapshot'; members: Member[] };

/** A server-published message for this user only (SQS publish with `userId`). */
export interface DirectMessage<T = unknown> {
  type: 'direct';
  classRoomId: string;
  id: string;
  kind: string;
  data: T;
  sentAt: number;
}

export interface ClassEndedFrame {
  type: 'classEnded';
  classRoomId: string;
  by: Member;
}

export interface PongFrame {
  type: 'pong';
}

/** The server's error codes (SPEC §4). */
export const ServerErrorCode = {
  BadRequest: 'bad_request',
  UnknownAction: 'unknown_action',
  Forbidden: 'forbidden',
  TooLarge: 'too_large',
  RateLimited: 'rate_limited',
  /** The message was not acknowledged (not made durable in time): resend it with the same `clientMsgId`. */
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

export interface ErrorFrame {
  type: 'error';
  code: ServerErrorCode;
  message: string;
  action?: string;
  clientMsgId?: string;
}

export type ServerFrame =
  | RoomMessage
  | AckFrame
  | HistoryFrame
  | PresenceFrame
  | DirectMessage
  | ClassEndedFrame
  | PongFrame
  | ErrorFrame;

/** How a `message` event reached the client. */
export type MessageSource =
  /** pushed by the server as it was sent */
  | 'live'
  /** recovered by `resume` (after a reconnect, a gap, or on joining) */
  | 'history'
  /** this client's own message, confirmed by its `ack` (the server does not echo it back) */
  | 'self';

export interface MessageInfo {
  source: MessageSource;
}

/** A presence change: a snapshot (after every connect) or one member joining or leaving. */
export interface PresenceEvent {
  event: 'join' | 'leave' | 'snapshot';
  /** The member who joined or left (`join`/`leave`). */
  member?: Member;
  /** Everyone connected now, one entry per user, kept up to date by the client. */
  members: Member[];
}

export interface StateChangeEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** Close code and reason of the socket that dropped (`reconnecting`, `closed`). */
  code?: number;
  reason?: string;
  /** `reconnecting`: the attempt about to be made (from 1) and the delay before it. */
  attempt?: number;
  delayMs?: number;
}

export interface SyncedEvent {
  /** The highest `seq` delivered so far. */
  lastSeq: number;
  /** False when the room's history no longer reached back to what this client missed. */
  complete: boolean;
}

export interface ResetEvent {
  /** The `seq` this client had seen. */
  previousSeq: number;
  /** The room's last `seq` now (lower: the room's state was deleted by endClass or its TTL). */
  lastSeq: number;
}

export interface HistoryResetEvent {
  /** The epoch this client's cursor belonged to. */
  previousEpoch: Epoch;
  /** The room's epoch now: delivery restarts from its `seq` 1. */
  epoch: Epoch;
  /** The last `seq` this client had delivered in `previousEpoch`. */
  previousSeq: number;
}

/**
 * The events of a {@link ClassroomClient}, with their listener signatures.
 */
export interface ClassroomEvents {
  /** A room message: stored ones once each and in `seq` order (live, recovered or your own); transient ones at once. */
  message: (message: RoomMessage, info: MessageInfo) => void;
  /** Presence: a snapshot after each connect, then joins and leaves; `members` is the current list. */
  presence: (event: PresenceEvent) => void;
  /** A server-published message addressed to this user only. */
  direct: (message: DirectMessage) => void;
  /** The teacher ended the class: the client is closed and will not reconnect. */
  classEnded: (event: ClassEndedFrame) => void;
  /** An error not tied to a `send()` (a refused handshake, an error frame for resume or presence, ...). */
  error: (error: Error) => void;
  /** The connection state changed (see {@link ConnectionState}). */
  state: (change: StateChangeEvent) => void;
  /** Caught up after a (re)connect or a gap: every stored message up to `lastSeq` has been delivered. */
  synced: (event: SyncedEvent) => void;
  /** The room's sequence restarted below this client's, seen without epochs (old server, or a cursor without one); delivery restarts from seq 1. */
  reset: (event: ResetEvent) => void;
  /** The class history was reset (the room has a new epoch): drop what you show; delivery restarts from seq 1. */
  historyReset: (event: HistoryResetEvent) => void;
}

export type ClassroomEventName = keyof ClassroomEvents;

/**
 * The part of the WebSocket interface the client uses (the browser's, or `ws` in Node). Handlers take
 * `never` so that both implementations' own event types fit; the client reads `data`, `code`, `reason`
 * and, with `ws`, the `message` of an error event.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Timer functions (injectable for tests). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ClassroomClientOptions {
  /** The WebSocket API URL: `wss://{api}.execute-api.{region}.amazonaws.com/{stage}` or `ws://127.0.0.1:3001/local`. */
  url: string;
  /** The classroom to join (`classRoomId`). */
  classRoomId: string;
  /** A JWT. Used for the first connect when given; `getToken` is asked before every other attempt. */
  token?: string;
  /** Returns a fresh JWT; called before each (re)connect attempt (and the first when `token` is absent). */
  getToken?: () => string | Promise<string>;
  /** The WebSocket implementation: default `globalThis.WebSocket`; in Node pass `ws`'s `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Resume after this `seq` on the first connect (e.g. kept across a page reload). Default 0: whole history. */
  lastSeq?: number;
  /**
   * The epoch `lastSeq` belongs to (keep `client.epoch` with `client.lastSeq`). When the room has another
   * epoch now, the client emits `historyReset` and delivers the room's history from its start.
   */
  epoch?: Epoch;
  /** Ask for a presence snapshot after every connect. Default true. */
  presence?: boolean;
  /** Reconnect backoff (full jitter): base and cap of the delay. Defaults 500 ms and 30 s. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /**
   * Consecutive attempts that fail before the socket opens after which the client gives up (state
   * `closed`, an `error` event with a {@link HandshakeRefusedError}). A browser cannot see the HTTP
   * status of a refused handshake (401/403 look like a network failure), so repeated failure is treated
   * as refusal. With `ws` in Node a 401 or 403 is seen and is fatal at once. A `getToken` that fails
   * (e.g. offline) is retried with backoff and does not count. Default 8.
   */
  maxFailedAttempts?: number;
  /** Keepalive `ping` interval, well inside API Gateway's 10-minute idle timeout. Default 5 min. */
  pingIntervalMs?: number;
  /** Drop and reopen the socket when nothing arrives this long after a ping. Default 30 s. */
  pongTimeoutMs?: number;
  /** Default timeout of `send()` (keep it under the server's 60 s dedupe window). Default 10 s. */
  sendTimeoutMs?: number;
  /**
   * Resends of one message after `unavailable` answers (the server could not make it durable in time,
   * e.g. during a failover), after which `send()` rejects with an {@link UnavailableError}; also how many
   * times a `resume` refused as `unavailable` is asked again before an `error` event. Default 5.
   */
  unavailableRetries?: number;
  /** Full-jitter backoff between those resends: base and cap of the delay. Defaults 250 ms and 4 s. */
  unavailableRetryBaseMs?: number;
  unavailableRetryMaxMs?: number;
  /** How long a gap in `seq` may stay open (e.g. waiting for an `ack`) before `resume` fills it. Default 250 ms. */
  gapResumeDelayMs?: number;
  /** Injected timers and random source (tests). */
  timers?: Timers;
  random?: () => number;
}

export interface SendOptions {
  /** Not stored and without `seq` (cursor moves); not retried over a reconnect. */
  transient?: boolean;
  /** Your own id for the message (≤ 64 chars); generated when absent. Resends reuse it, so the server dedupes. */
  clientMsgId?: string;
  /** Reject after this long without an `ack` (default: the client's `sendTimeoutMs`). */
  timeoutMs?: number;
}

/** What `send()` resolves with: the server's `ack`. */
export interface SendResult {
  clientMsgId: string;
  id: string;
  /** The message's `seq` (absent for transient messages). */
  seq?: number;
}
