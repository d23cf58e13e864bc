/**
 * What the handlers need from a classroom store, whichever runs underneath: `RoomStore` on Redis
 * (room-store.ts) or `DynamoRoomStore` on DynamoDB (dynamo-store.ts). `roomStore()` in runtime.ts picks one
 * by `STORE`; the handlers, the fan-out and the broadcaster depend on this interface only.
 */
import type { Member } from './protocol';

/**
 * The store could not do its part in time: unreachable or timing out, in a failover, throttled after its
 * client's retries, or full. Nothing was acknowledged: the client may resend (SPEC `unavailable`).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * How long a connection counts as still connecting when its $connect never reports the end (it crashed):
 * above the $connect function's timeout.
 */
export const JOIN_WINDOW_MS = 15_000;

/** Messages per history page at most (the byte bound usually ends a page first). */
export const HISTORY_PAGE_MAX_COUNT = 500;

/**
 * ok: stored (or, transient, passed) and durable: deliver `frame`, ack. duplicate: completed earlier,
 * ack again, deliver nothing. unavailable: not made durable in time (or not stored): answer
 * `unavailable`, deliver nothing; a resend completes it. rate_limited, not_member: refused.
 */
export type AppendStatus = 'ok' | 'duplicate' | 'unavailable' | 'rate_limited' | 'not_member';

export interface AppendInput {
  roomId: string;
  id: string;
  /** The message frame up to its epoch's value and after its seq's value (see `messageParts`). */
  head: string;
  tail: string;
  transient: boolean;
  /** Connection of the sender, checked for membership and rate limited; undefined for server publish. */
  senderConnectionId?: string;
  /** Scope and id of the dedupe entry (user id and clientMsgId, or `system` and the SQS message id). */
  dedupe?: { scope: string; key: string };
  rateLimited: boolean;
}

export interface AppendOptions {
  /** How long the dedupe entry lasts (default: the 60 s client window). */
  dedupeTtlSeconds?: number;
}

export interface AppendResult {
  status: AppendStatus;
  epoch: number;
  seq: number;
  id: string;
  recipients: string[];
  /**
   * The frame to deliver when `ok` and stored: the one stored now, or for a resend that completes an
   * unconfirmed write, the one stored then. Undefined for transient messages (the caller builds it).
   */
  frame?: string;
}

export interface HistoryPage {
  epoch: number;
  lastSeq: number;
  /** The seq the page starts after: the one asked for, or 0 when it belonged to another epoch. */
  afterSeq: number;
  messages: string[];
  /** False when the stored history no longer reaches back to `afterSeq + 1`. */
  complete: boolean;
  /** More messages are stored after this page: ask again after `nextAfterSeq`. */
  more: boolean;
  nextAfterSeq: number;
}

export interface HistoryPageRequest {
  afterSeq: number;
  /** The epoch `afterSeq` belongs to, when the client knows it. */
  epoch?: number;
  /** Bytes of stored messages the page may hold (each counted with one separator byte). */
  maxBytes: number;
  maxCount?: number;
}

export interface RemoveMembersResult {
  /** The connections left in the room (not counting those still in their $connect). */
  remaining: string[];
  /** Members whose last connection went. */
  goneMembers: Member[];
  /** How many connections were removed. */
  removed: number;
}

export interface ClassroomStore {
  /**
   * Membership, rate limit, dedupe, epoch, seq, store and trim for one message; with the connections to
   * deliver it to. `ok` means durable: deliver and ack.
   */
  append(input: AppendInput, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Stores a member, marked as still connecting until `joined`; returns the other connections (not those
   * still connecting) and whether this is the user's first connection.
   */
  addMember(
    roomId: string,
    connectionId: string,
    member: Member,
  ): Promise<{ others: string[]; firstForUser: boolean }>;
  /** The end of a connection's $connect: from now on a 410 for it means it is gone. */
  joined(roomId: string, connectionId: string): Promise<void>;
  /**
   * Removes connections. `stale`: they answered 410, so those still in their $connect are kept.
   */
  removeMembers(
    roomId: string,
    connectionIds: string[],
    options?: { stale?: boolean },
  ): Promise<RemoveMembersResult>;
  /** Connections now in the room, each with its member. */
  listMembers(roomId: string): Promise<Map<string, Member>>;
  /**
   * One page of the stored messages after `afterSeq` (of `epoch`, when given), oldest first, bounded by
   * count and bytes. Creates the room's epoch when the room has none yet.
   */
  historyPage(roomId: string, request: HistoryPageRequest): Promise<HistoryPage>;
  /** Deletes the room's state; returns the connections that were in it. */
  endRoom(roomId: string): Promise<string[]>;
}
