/**
 * The classroom store on DynamoDB (`STORE=dynamodb`): the same protocol and guarantees as the Redis store
 * (SPEC §4-§5) on one table (`TABLE_NAME`: key `pk` + `sk`, TTL attribute `expiresAt`, epoch seconds).
 * An acknowledged write is durable: DynamoDB answers a write with HTTP 200 only once it is durably
 * persisted, and keeps every item in several Availability Zones of the Region.
 *
 * Items (one partition per room, `pk = room#<roomId>`):
 * - `sk = state`: the room's counter and its newest message. `e` epoch, `seq` last assigned seq, `b` bytes
 *   of every message of the epoch so far (cumulative), `lo` the oldest seq still kept and `lc` the bytes
 *   before it, the newest message's parts `lh`/`lt` (frame = lh + epoch + ',"seq":' + seq + lt), id `li`
 *   and dedupe key `lk`; `expiresAt` = last activity + roomTtlSeconds.
 * - `sk = msg#<epoch>#<seq, 16 digits>`: a message. `f` frame, `c` cumulative bytes up to and including it,
 *   `i` id, `k` dedupe key; `expiresAt` = written + roomTtlSeconds.
 * - `sk = conn#<connectionId>`: a member connection. `m` member JSON, `ju` still in its $connect until
 *   (epoch ms; removed by `joined`), `tat` the rate limiter's theoretical arrival time (GCRA, epoch ms);
 *   `expiresAt` = joined + connectionTtlSeconds.
 * - `sk = dd#<scope length>:<scope>#<key>`: a dedupe entry. `st` p (claimed, in flight), d (done: `e`,
 *   `s`, `i`), u (the claiming attempt ended not knowing whether it stored); `a` the claiming attempt (its
 *   message id), `at` claimed at (ms); `expiresAt` = claimed + the dedupe TTL.
 * TTL deletion is lazy (AWS deletes expired items within days), so every read and every condition treats
 * an item whose `expiresAt` has passed as absent.
 *
 * No gap, no duplicate seq: the seq is assigned by one conditional UpdateItem on the state item that also
 * stores the message in it (ALL_OLD returned), and only while the newest message already has its own
 * item (`sd = seq`). The sender then writes its message's item and records it (`sd`); it acknowledges
 * only once that item is written. A sender that fails there answers `unavailable` (and says so on the
 * state item); one that dies says nothing: either way the message stays readable in the state item, and
 * the next sender writes its item from there (at once, or after HELP_AFTER_MS) before taking the next
 * seq, so no seq is ever left without its message. Senders of one room therefore queue on its state item
 * (three writes per message in a row: about 60 messages/s per room on AWS).
 * The SDK resends the seq's update only after an answer saying it was not applied (throttling); after a
 * timeout, a reset or a 5xx the call is `unavailable` and the client's resend (same clientMsgId) finds
 * what was stored. The update is also conditioned on `li <> id`: a resend that finds its own message as
 * the newest does not count it twice.
 *
 * Dedupe (clientMsgId for 60 s, a publish's SQS message id for the queue's redelivery window): the
 * attempt claims the entry before its seq (one conditional PutItem). A claim held by an attempt still in
 * flight answers `unavailable` (resend); one older than STALE_CLAIM_MS, or marked `u` by an attempt that
 * failed after its seq write, is taken over by the resend, which looks for a message stored with that
 * key in the current epoch (the state item, then the epoch's items) and delivers and acks that one, once.
 * A duplicate checks the entry's epoch against the room's (a room restarted since takes it anew). Checks
 * run in parallel with the rate limit, so a duplicate resend uses one of the sender's rate tokens.
 *
 * Round trips per operation (RT = one DynamoDB round trip; calls in one RT run in parallel):
 * - append, stored message: RT1 member UpdateItem (membership + rate limit, GCRA: one conditional write;
 *   a second one only for a message inside a burst, < 1/rate after the previous) || dedupe claim PutItem
 *   (attribute_not_exists, ReturnValuesOnConditionCheckFailure ALL_OLD) when deduped; RT2 state
 *   UpdateItem (seq, the message, ReturnValues ALL_OLD; a PutItem creates the epoch when the room has
 *   none; retried with a jittered backoff while the newest message's item is being written); RT3
 *   message PutItem || members Query (recipients, read after the seq so that every member connected when
 *   the message was accepted gets it) || trimming (Query of the oldest items, state UpdateItem,
 *   BatchWriteItem deletes: only once the room holds ROOM_HISTORY_LIMIT messages or ROOM_HISTORY_BYTES);
 *   RT4 state UpdateItem `sd` || dedupe UpdateItem (done). 4 RTs.
 *   Duplicate: RT1, then a GetItem of the state (is the entry of the current epoch?): 2 RTs.
 * - append, transient: RT1 member UpdateItem || state UpdateItem (epoch, TTL) || members Query: 1 RT.
 * - addMember: member PutItem || members Query: 1 RT. joined: UpdateItem: 1 RT.
 * - removeMembers: DeleteItem per connection (ALL_OLD; `stale`: conditioned on not joining) || members
 *   Query: 1 RT; a second Query when the user has another connection (it may be leaving at the same
 *   moment). listMembers: Query: 1 RT.
 * - historyPage: GetItem state (PutItem of a new epoch when none), then a Query of the page's range,
 *   sized from a typical message size (the log's average, then the median of what was read): 2 RTs,
 *   a third when the sizes misled the first Query, one more (after 50 ms) when it meets a hole (none is
 *   expected: the newest message without its item is read from the state item).
 * - endRoom: members Query || GetItem state, then DeleteItem state || BatchWriteItem deletes of members
 *   and messages: 2 RTs.
 * Reads are strongly consistent (ConsistentRead). Errors: throttling (after the SDK's retries), 5xx,
 * network errors and timeouts are StoreUnavailableError (`unavailable`: nothing acknowledged).
 *
 * Capacity units of small items (≤ 1 KB written, ≤ 4 KB read; strongly consistent reads cost 1 unit per
 * 4 KB; an UpdateItem costs the larger of the item's sizes before and after): a send with a clientMsgId
 * to a room of 30 writes 6 units (member, claim, state, message, `sd`, claim done) and reads 2 (30
 * member items ≈ 5 KB); 4 writes without clientMsgId; a server publish 5 writes and 2 reads; $connect 2
 * writes (member, joined) and 2 reads; $disconnect 1 write and 2 reads; a resume of 100 small messages
 * 1 + about 8 reads. The state item holds the newest message, so its two writes grow with that message's
 * size. A room at its history bound adds about 2 reads and 2 writes per send (trimming).
 * `onConsumedCapacity` reports what DynamoDB counted.
 *
 * Limits (see the README): one room is one partition key (about 1,000 write units/s, 3,000 read units/s)
 * and one state item, which its senders queue on; items ≤ 400 KB (a frame ≤ 128 KB, so the state item
 * fits); the rate limiter is a GCRA (exactly the token bucket's rate and burst); a message expires roomTtlSeconds
 * after it was written, even in a room still active then; the log's byte bound counts a frame without
 * its seq's digits; times come from the functions' clocks (not one server's, as Redis `TIME`). Unlike
 * the Redis scripts, the member operations are not one atomic step: two connections of one user joining
 * or leaving at the same moment may both announce `join` (or `leave`); one always does, and presence
 * snapshots stay right.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type ConsumedCapacity,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  type AppendInput,
  type AppendOptions,
  type AppendResult,
  type ClassroomStore,
  HISTORY_PAGE_MAX_COUNT,
  type HistoryPage,
  type HistoryPageRequest,
  JOIN_WINDOW_MS,
  type RemoveMembersResult,
  StoreUnavailableError,
} from './classroom-store';
import { type DynamoClientSettings, dynamoClientSettings, type RoomSettings } from './config';
import { DEDUPE_WINDOW_SECONDS, type Member } from './protocol';

type Item = Record<string, AttributeValue>;

/** The commands the store sends. */
type StoreCommand =
  | GetItemCommand
  | PutItemCommand
  | UpdateItemCommand
  | DeleteItemCommand
  | QueryCommand
  | BatchWriteItemCommand;

/** A claim in flight older than this is taken over: its attempt is over (above the function timeouts). */
export const STALE_CLAIM_MS = JOIN_WINDOW_MS;
/**
 * A sender waits this long for the newest message's own item (its sender writes it within a few ms, or
 * says it gave up: then at once), then writes it itself from the state item; it gives up (`unavailable`)
 * after SEQUENCE_WAIT_MS.
 */
export const HELP_AFTER_MS = 2000;
export const SEQUENCE_WAIT_MS = 6000;
/**
 * Client defaults (DYNAMODB_CONNECT_TIMEOUT_MS, DYNAMODB_REQUEST_TIMEOUT_MS, DYNAMODB_MAX_ATTEMPTS override
 * them): a dead endpoint fails a call within about 3 s, well inside the functions' 10 s.
 */
export const DYNAMODB_CONNECT_TIMEOUT_MS = 500;
export const DYNAMODB_REQUEST_TIMEOUT_MS = 1500;
export const DYNAMODB_MAX_ATTEMPTS = 3;
/**
 * One store operation's calls are cut after this (AbortSignal): under the functions' 10 s timeout even
 * when an endpoint accepts requests and never answers, so the client gets `unavailable`, not a timeout.
 */
export const DYNAMODB_OPERATION_BUDGET_MS = 6000;
/** A clean-up call (a claim released or marked) after the budget is spent gets this long. */
const CLEANUP_MS = 500;

// ---- errors --------------------------------------------------------------------------------------------------

const TRANSIENT_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'LimitExceededException',
  'TransactionConflictException',
  'TimeoutError',
]);

/** The error a store call throws for `error`: StoreUnavailableError when transient, else itself. */
export function dynamoError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !(error instanceof Error)) return error;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // No HTTP status: the request got no answer (refused, reset, timed out, DNS).
  if (TRANSIENT_ERRORS.has(error.name) || status === undefined || status >= 500) {
    return new StoreUnavailableError(`DynamoDB unavailable: ${error.name}: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}

const isConditionFailure = (error: unknown): error is Error & { Item?: Item } =>
  error instanceof Error && error.name === 'ConditionalCheckFailedException';

/** Answers that say a request was not applied: throttled, a failed condition, or no connection made. */
const NOT_APPLIED = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ConditionalCheckFailedException',
]);

function notApplied(error: unknown): boolean {
  const e = error as { name?: string; code?: string };
  return NOT_APPLIED.has(e.name ?? '') || e.code === 'ECONNREFUSED';
}

/** A write that may have been applied (its answer lost) and is not idempotent: not resent. */
export class AmbiguousWriteError extends Error {
  constructor(options?: ErrorOptions) {
    super('not resent: the first attempt may have been applied', options);
    this.name = 'AmbiguousWriteError';
  }
}

/**
 * The SDK resends a failed request (timeout, reset, 5xx) within its attempts. The seq's write is not
 * idempotent (a resend after a lost answer would count the message again if another sender wrote in
 * between), so it is resent only after an answer saying it was not applied (throttling); otherwise the
 * call fails `unavailable`, and the client's resend with its clientMsgId finds what was stored.
 */
function resendOnlyIfNotApplied<C extends StoreCommand>(command: C): C {
  let ambiguous: unknown;
  const stack = command.middlewareStack as unknown as {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string },
    ): void;
  };
  stack.add(
    (next) => async (args) => {
      if (ambiguous !== undefined) throw new AmbiguousWriteError({ cause: ambiguous });
      try {
        return await next(args);
      } catch (error) {
        if (!notApplied(error)) ambiguous = error;
        throw error;
      }
    },
    // Below the retry middleware (finalizeRequest, high): runs once per attempt.
    { step: 'finalizeRequest', priority: 'low', name: 'resendOnlyIfNotApplied' },
  );
  return command;
}

// ---- the client ---------------------------------------------------------------------------------------------

/** A client with short timeouts and bounded retries; the endpoint from the SDK's own environment variables. */
export function createDynamoClient(
  options: Partial<DynamoClientSettings> & { endpoint?: string } = {},
): DynamoDBClient {
  return new DynamoDBClient({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: options.maxAttempts ?? DYNAMODB_MAX_ATTEMPTS,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.connectTimeoutMs ?? DYNAMODB_CONNECT_TIMEOUT_MS,
      requestTimeout: options.requestTimeoutMs ?? DYNAMODB_REQUEST_TIMEOUT_MS,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
    }),
  });
}

let shared: DynamoDBClient | undefined;

/** The container's DynamoDB client, created on first use (timeouts and attempts from the environment). */
export function getDynamo(): DynamoDBClient {
  shared ??= createDynamoClient(dynamoClientSettings());
  return shared;
}

/** The operation budget for the handlers' store (DYNAMODB_OPERATION_BUDGET_MS). */
export function operationBudgetMs(): number {
  return dynamoClientSettings().operationBudgetMs;
}

/** Closes the shared client (tests). */
export function closeDynamo(): void {
  shared?.destroy();
  shared = undefined;
}

// ---- consumed capacity ----------------------------------------------------------------------------------------

/** Capacity units one store operation consumed (ReturnConsumedCapacity TOTAL), summed over its calls. */
export interface CapacityUsage {
  operation: string;
  readUnits: number;
  writeUnits: number;
  calls: number;
}

export type CapacityListener = (usage: CapacityUsage) => void;

const capacityListeners = new Set<CapacityListener>();

/** Calls `listener` after every store operation of this process; returns the function that stops it. */
export function onConsumedCapacity(listener: CapacityListener): () => void {
  capacityListeners.add(listener);
  return () => capacityListeners.delete(listener);
}

/** Bookkeeping of one store operation: the capacity its calls consumed and the time it may take. */
class Meter {
  readonly usage: CapacityUsage;
  /** When the operation's calls are cut (epoch ms): a hung endpoint answers `unavailable` in time. */
  readonly deadline: number;
  constructor(operation: string, budgetMs: number) {
    this.usage = { operation, readUnits: 0, writeUnits: 0, calls: 0 };
    this.deadline = Date.now() + budgetMs;
  }
  /** What a call may still take; a clean-up after the deadline gets a short while of its own. */
  remainingMs(): number {
    return Math.max(CLEANUP_MS, this.deadline - Date.now());
  }
  add(kind: 'read' | 'write', consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    this.usage.calls++;
    for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
      const units = c.CapacityUnits ?? (kind === 'read' ? c.ReadCapacityUnits : c.WriteCapacityUnits) ?? 0;
      if (kind === 'read') this.usage.readUnits += units;
      else this.usage.writeUnits += units;
    }
  }
}

// ---- item helpers ---------------------------------------------------------------------------------------------

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const str = (item: Item | undefined, name: string) => item?.[name]?.S;
const num = (item: Item | undefined, name: string) => {
  const raw = item?.[name]?.N;
  return raw === undefined ? undefined : Number(raw);
};

const roomPk = (roomId: string) => `room#${roomId}`;
const STATE = 'state';
const CONN = 'conn#';
const msgPrefix = (epoch: number) => `msg#${epoch}#`;
const msgSk = (epoch: number, seq: number) => `${msgPrefix(epoch)}${String(seq).padStart(16, '0')}`;
const seqOf = (sk: string) => Number(sk.slice(sk.lastIndexOf('#') + 1));
const dedupeSk = (scope: string, key: string) => `dd#${scope.length}:${scope}#${key}`;

const seconds = (ms: number) => Math.floor(ms / 1000);
const live = (item: Item | undefined, now: number) =>
  item !== undefined && (num(item, 'expiresAt') ?? 0) > seconds(now);

/** A new epoch: microseconds since 1970 (16 digits, a safe integer), as the Redis store makes them. */
function newEpoch(): number {
  return Date.now() * 1000 + Math.floor(Math.random() * 1000);
}

const frameOf = (head: string, epoch: number, seq: number, tail: string) =>
  `${head}${epoch},"seq":${seq}${tail}`;

/**
 * A message's bytes as the log bounds count them: its frame without the seq's digits (unknown until the
 * seq is assigned, in the same write that adds the bytes up). The epoch always has 16 digits.
 */
const countedBytes = (frame: string, seq: number) => Buffer.byteLength(frame) - String(seq).length;
const EPOCH_AND_SEQ_KEY_BYTES = 16 + ',"seq":'.length;

function parseMember(json: string | undefined): Member | undefined {
  try {
    const value = JSON.parse(json ?? '') as Member;
    return typeof value.userId === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

interface MemberRow {
  connectionId: string;
  member?: Member;
  joining: boolean;
}

/** The room state as read or returned (ALL_OLD / ALL_NEW). */
interface RoomState {
  epoch: number;
  seq: number;
  /** The newest seq whose message has its own item. */
  stored: number;
  bytes: number;
  lo: number;
  loBytes: number;
  last?: { seq: number; frame: string; id: string; dedupe: string; cum: number };
}

function roomState(item: Item): RoomState {
  const epoch = num(item, 'e') ?? 0;
  const seq = num(item, 'seq') ?? 0;
  const bytes = num(item, 'b') ?? 0;
  const head = str(item, 'lh');
  const tail = str(item, 'lt');
  return {
    epoch,
    seq,
    stored: num(item, 'sd') ?? seq,
    bytes,
    lo: num(item, 'lo') ?? 1,
    loBytes: num(item, 'lc') ?? 0,
    ...(seq > 0 && head !== undefined && tail !== undefined
      ? {
          last: {
            seq,
            frame: frameOf(head, epoch, seq, tail),
            id: str(item, 'li') ?? '',
            dedupe: str(item, 'lk') ?? '',
            cum: bytes,
          },
        }
      : {}),
  };
}

type Gate = 'ok' | 'not_member' | 'rate_limited';

type Claim =
  | { kind: 'none' }
  | { kind: 'claimed' }
  | { kind: 'busy' }
  | { kind: 'done'; epoch: number; seq: number; id: string; attempt: string }
  | { kind: 'abandoned'; attempt: string };

export interface DynamoStoreOptions {
  /** Called after each operation with the capacity it consumed (besides the process-wide listeners). */
  onCapacity?: CapacityListener;
  /** How long one operation's calls may take in all (default DYNAMODB_OPERATION_BUDGET_MS). */
  budgetMs?: number;
}

/** The classroom store on DynamoDB. See the header for the items and the round trips per operation. */
export class DynamoRoomStore implements ClassroomStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly settings: RoomSettings,
    private readonly options: DynamoStoreOptions = {},
  ) {}

  // ---- plumbing -------------------------------------------------------------------------------------------

  private async metered<T>(operation: string, run: (meter: Meter) => Promise<T>): Promise<T> {
    const meter = new Meter(operation, this.options.budgetMs ?? DYNAMODB_OPERATION_BUDGET_MS);
    try {
      return await run(meter);
    } finally {
      this.options.onCapacity?.(meter.usage);
      for (const listener of capacityListeners) listener(meter.usage);
    }
  }

  private async send<T>(meter: Meter, kind: 'read' | 'write', command: StoreCommand): Promise<T> {
    try {
      const send = this.client.send.bind(this.client) as (
        command: StoreCommand,
        options: { abortSignal: AbortSignal },
      ) => Promise<unknown>;
      const abortSignal = AbortSignal.timeout(meter.remainingMs());
      const output = (await send(command, { abortSignal })) as T & {
        ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[];
      };
      meter.add(kind, output.ConsumedCapacity);
      return output;
    } catch (error) {
      // A failed condition consumed write capacity too; the response does not say how much (1 unit at least).
      if (isConditionFailure(error)) meter.add(kind, { CapacityUnits: 1 });
      throw dynamoError(error);
    }
  }

  /** A conditional write: its new/old item, or the failed condition's current item (`failed: true`). */
  private async conditional(meter: Meter, command: StoreCommand): Promise<{ failed: boolean; item?: Item }> {
    try {
      const output = await this.send<{ Attributes?: Item }>(meter, 'write', command);
      return { failed: false, item: output.Attributes };
    } catch (error) {
      if (isConditionFailure(error)) return { failed: true, item: error.Item };
      throw error;
    }
  }

  private key(pk: string, sk: string): Item {
    return { pk: S(pk), sk: S(sk) };
  }

  private async query(meter: Meter, input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const output = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Item }>(
        meter,
        'read',
        new QueryCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
          ...input,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(output.Items ?? []));
      start = output.LastEvaluatedKey;
      if (input.Limit !== undefined && items.length >= input.Limit) break;
    } while (start);
    return items;
  }

  private async members(meter: Meter, pk: string, now: number): Promise<MemberRow[]> {
    const items = await this.query(meter, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :conn)',
      ExpressionAttributeValues: { ':pk': S(pk), ':conn': S(CONN) },
    });
    return items
      .filter((item) => live(item, now))
      .map((item) => ({
        connectionId: (str(item, 'sk') ?? '').slice(CONN.length),
        member: parseMember(str(item, 'm')),
        joining: (num(item, 'ju') ?? 0) > now,
      }));
  }

  private async getState(meter: Meter, pk: string): Promise<Item | undefined> {
    const output = await this.send<{ Item?: Item }>(
      meter,
      'read',
      new GetItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, STATE),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return output.Item;
  }

  /** A new epoch with an empty log (the state item absent or expired); undefined when another call made it. */
  private async createState(
    meter: Meter,
    pk: string,
    now: number,
    first?: { head: string; tail: string; id: string; dedupe: string; bytes: number },
  ): Promise<RoomState | undefined> {
    const epoch = newEpoch();
    const item: Item = {
      ...this.key(pk, STATE),
      e: N(epoch),
      seq: N(first ? 1 : 0),
      sd: N(0),
      ...(first ? { lat: N(now) } : {}),
      b: N(first ? first.bytes : 0),
      lo: N(1),
      lc: N(0),
      expiresAt: N(seconds(now) + this.settings.roomTtlSeconds),
      ...(first ? { lh: S(first.head), lt: S(first.tail), li: S(first.id), lk: S(first.dedupe) } : {}),
    };
    const create = new PutItemCommand({
      TableName: this.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(sk) OR expiresAt <= :now',
      ExpressionAttributeValues: { ':now': N(seconds(now)) },
      ReturnConsumedCapacity: 'TOTAL',
    });
    const { failed } = await this.conditional(meter, first ? resendOnlyIfNotApplied(create) : create);
    return failed ? undefined : roomState(item);
  }

  /** The room's state, created (a new epoch) when it has none; the TTL refreshed when half gone. */
  private async currentState(meter: Meter, pk: string, now: number): Promise<RoomState> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const item = await this.getState(meter, pk);
      if (item && live(item, now)) {
        const state = roomState(item);
        const left = (num(item, 'expiresAt') ?? 0) - seconds(now);
        if (left < this.settings.roomTtlSeconds / 2) await this.touch(meter, pk, now, state.epoch);
        return state;
      }
      const created = await this.createState(meter, pk, now);
      if (created) return created;
    }
    throw new StoreUnavailableError('DynamoDB: the room state kept changing');
  }

  /** Refreshes the room's TTL (its epoch unchanged); ALL_NEW, or undefined when there is no live state. */
  private async touch(meter: Meter, pk: string, now: number, epoch?: number): Promise<Item | undefined> {
    const { failed, item } = await this.conditional(
      meter,
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, STATE),
        UpdateExpression: 'SET expiresAt = :exp',
        ConditionExpression: `attribute_exists(seq) AND expiresAt > :now${epoch !== undefined ? ' AND e = :e' : ''}`,
        ExpressionAttributeValues: {
          ':exp': N(seconds(now) + this.settings.roomTtlSeconds),
          ':now': N(seconds(now)),
          ...(epoch !== undefined ? { ':e': N(epoch) } : {}),
        },
        ReturnValues: 'ALL_NEW',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return failed ? undefined : item;
  }

  // ---- append -----------------------------------------------------------------------------------------------

  /** Membership and the rate limit (GCRA on the member item): one conditional write, two inside a burst. */
  private async admit(meter: Meter, pk: string, connectionId: string, now: number): Promise<Gate> {
    const interval = 1000 / this.settings.ratePerSecond;
    const tolerance = (this.settings.rateBurst - 1) * interval;
    const key = this.key(pk, `${CONN}${connectionId}`);
    const values = { ':nowSec': N(seconds(now)), ':now': N(now) };
    // Idle (the bucket is full): the next arrival is due one interval from now.
    let result = await this.conditional(
      meter,
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET tat = :next',
        ConditionExpression:
          'attribute_exists(sk) AND expiresAt > :nowSec AND (attribute_not_exists(tat) OR tat <= :now)',
        ExpressionAttributeValues: { ...values, ':next': N(now + interval) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!result.failed) return 'ok';
      if (!live(result.item, now)) return 'not_member';
      const tat = num(result.item, 'tat') ?? 0;
      if (tat > now + tolerance) return 'rate_limited';
      // Inside a burst: one interval later than the last one, while within the burst's tolerance.
      result = await this.conditional(
        meter,
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET tat = tat + :interval',
          ConditionExpression:
            'attribute_exists(sk) AND expiresAt > :nowSec AND tat > :now AND tat <= :limit',
          ExpressionAttributeValues: { ...values, ':interval': N(interval), ':limit': N(now + tolerance) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
    }
    return result.failed ? 'rate_limited' : 'ok';
  }

  /** Claims the dedupe entry for this attempt, or tells what holds it. */
  private async claim(
    meter: Meter,
    pk: string,
    sk: string,
    attempt: string,
    ttlSeconds: number,
    now: number,
    takeOverFrom?: string,
  ): Promise<Claim> {
    const { failed, item } = await this.conditional(
      meter,
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          ...this.key(pk, sk),
          st: S('p'),
          a: S(attempt),
          at: N(now),
          expiresAt: N(seconds(now) + ttlSeconds),
        },
        ConditionExpression: `attribute_not_exists(sk) OR expiresAt <= :now${takeOverFrom !== undefined ? ' OR a = :was' : ''}`,
        ExpressionAttributeValues: {
          ':now': N(seconds(now)),
          ...(takeOverFrom !== undefined ? { ':was': S(takeOverFrom) } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    if (!failed) return { kind: 'claimed' };
    const state = str(item, 'st');
    const holder = str(item, 'a') ?? '';
    if (takeOverFrom !== undefined) return { kind: 'busy' };
    if (state === 'd')
      return {
        kind: 'done',
        epoch: num(item, 'e') ?? 0,
        seq: num(item, 's') ?? 0,
        id: str(item, 'i') ?? '',
        attempt: holder,
      };
    // Our own claim, written once already (the SDK resent it after a lost answer).
    if (state === 'p' && holder === attempt) return { kind: 'claimed' };
    if (state === 'p' && (num(item, 'at') ?? 0) > now - STALE_CLAIM_MS) return { kind: 'busy' };
    return { kind: 'abandoned', attempt: holder };
  }

  /** Ends this attempt's claim: done (with the stored message), abandoned (outcome unknown) or released. */
  private async settleClaim(
    meter: Meter,
    pk: string,
    sk: string,
    attempt: string,
    outcome: { epoch: number; seq: number; id: string } | 'abandoned' | 'released',
  ): Promise<void> {
    const condition = {
      ConditionExpression: 'a = :a',
      ReturnConsumedCapacity: 'TOTAL' as const,
    };
    const command =
      outcome === 'released'
        ? new DeleteItemCommand({
            TableName: this.tableName,
            Key: this.key(pk, sk),
            ...condition,
            ExpressionAttributeValues: { ':a': S(attempt) },
          })
        : new UpdateItemCommand({
            TableName: this.tableName,
            Key: this.key(pk, sk),
            ...condition,
            ...(outcome === 'abandoned'
              ? {
                  UpdateExpression: 'SET st = :st',
                  ExpressionAttributeValues: { ':a': S(attempt), ':st': S('u') },
                }
              : {
                  UpdateExpression: 'SET st = :st, e = :e, s = :s, i = :i',
                  ExpressionAttributeValues: {
                    ':a': S(attempt),
                    ':st': S('d'),
                    ':e': N(outcome.epoch),
                    ':s': N(outcome.seq),
                    ':i': S(outcome.id),
                  },
                }),
          });
    await this.conditional(meter, command);
  }

  /** Looks for a message stored with this dedupe key in the current epoch (after a claim was abandoned). */
  private async findStored(
    meter: Meter,
    pk: string,
    dedupe: string,
    state: RoomState,
  ): Promise<{ seq: number; frame: string; id: string } | undefined> {
    if (state.last?.dedupe === dedupe) return state.last;
    if (state.seq < 1) return undefined;
    const items = await this.query(meter, {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      FilterExpression: 'k = :k',
      ExpressionAttributeValues: {
        ':pk': S(pk),
        ':from': S(msgSk(state.epoch, Math.max(1, state.lo))),
        ':to': S(msgSk(state.epoch, state.seq)),
        ':k': S(dedupe),
      },
    });
    const found = items[0];
    if (!found) return undefined;
    return { seq: seqOf(str(found, 'sk') ?? ''), frame: str(found, 'f') ?? '', id: str(found, 'i') ?? '' };
  }

  /**
   * The seq: one UpdateItem on the state item, which also stores the message; ALL_OLD gives the previous
   * message (written again next, in case its sender died before writing its item).
   */
  private async sequence(
    meter: Meter,
    pk: string,
    input: AppendInput,
    dedupe: string,
    bytes: number,
    now: number,
  ): Promise<{ state: RoomState; before: RoomState }> {
    // Leave time for the writes after the seq within the operation's budget.
    const deadline = Math.min(Date.now() + SEQUENCE_WAIT_MS, meter.deadline - 1000);
    for (let attempt = 0; ; attempt++) {
      const at = Date.now();
      const { failed, item } = await this.conditional(
        meter,
        resendOnlyIfNotApplied(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: this.key(pk, STATE),
            UpdateExpression:
              'SET seq = seq + :one, b = b + :bytes, lh = :head, lt = :tail, li = :id, lk = :dedupe, lat = :at, expiresAt = :exp',
            // The newest message has its own item (sd = seq) before the next seq is given out: no hole.
            ConditionExpression:
              'attribute_exists(seq) AND expiresAt > :now AND (attribute_not_exists(li) OR li <> :id) AND (attribute_not_exists(sd) OR sd = seq)',
            ExpressionAttributeValues: {
              ':one': N(1),
              ':bytes': N(bytes),
              ':head': S(input.head),
              ':tail': S(input.tail),
              ':id': S(input.id),
              ':dedupe': S(dedupe),
              ':at': N(at),
              ':exp': N(seconds(now) + this.settings.roomTtlSeconds),
              ':now': N(seconds(at)),
            },
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      if (!failed && item) {
        const before = roomState(item);
        const state: RoomState = {
          ...before,
          seq: before.seq + 1,
          bytes: before.bytes + bytes,
          last: {
            seq: before.seq + 1,
            frame: frameOf(input.head, before.epoch, before.seq + 1, input.tail),
            id: input.id,
            dedupe,
            cum: before.bytes + bytes,
          },
        };
        return { state, before };
      }
      if (item && live(item, at) && str(item, 'li') === input.id) {
        // Our own update, applied by an earlier attempt: the message is ours, counted once.
        const state = roomState(item);
        return { state, before: { ...state, seq: state.seq - 1, bytes: state.bytes - bytes } };
      }
      if (!item || !live(item, at)) {
        const created = await this.createState(meter, pk, now, {
          head: input.head,
          tail: input.tail,
          id: input.id,
          dedupe,
          bytes,
        });
        if (created) return { state: created, before: { ...created, seq: 0, bytes: 0 } };
        continue;
      }
      if (Date.now() > deadline)
        throw new StoreUnavailableError("DynamoDB: the room's newest message is still being stored");
      // The newest message has no item yet: its sender is writing it (wait a little), or it failed or
      // died (after HELP_AFTER_MS, write it from the state item, then take the next seq).
      const since = at - (num(item, 'lat') ?? 0);
      if (since >= HELP_AFTER_MS) await this.storeNewest(meter, pk, item, now);
      // Jittered, growing with the attempts and with how long the newest message has been waiting (a slow
      // table is not polled faster than it stores): waiting senders' failed writes cost write units too.
      else await sleep(5 + Math.random() * Math.min(1000, Math.max(10 * 2 ** Math.min(attempt, 5), since)));
    }
  }

  /** Writes the state item's newest message to its own item, then records it as stored (`sd`). */
  private async storeNewest(meter: Meter, pk: string, item: Item, now: number): Promise<void> {
    const state = roomState(item);
    if (!state.last) return;
    await this.putMessage(meter, pk, state.epoch, state.last, now);
    await this.markStored(meter, pk, state.epoch, state.last.seq);
  }

  /** Tells the next sender that the newest message's sender will not write its item (best effort). */
  private async giveUpNewest(meter: Meter, pk: string, epoch: number, id: string): Promise<void> {
    await this.conditional(
      meter,
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, STATE),
        UpdateExpression: 'SET lat = :never',
        ConditionExpression: 'e = :e AND li = :id',
        ExpressionAttributeValues: { ':never': N(0), ':e': N(epoch), ':id': S(id) },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    ).catch(() => undefined);
  }

  /** `sd`: the newest seq whose message has its own item (only moves forward, within the epoch). */
  private async markStored(meter: Meter, pk: string, epoch: number, seq: number): Promise<void> {
    await this.conditional(
      meter,
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, STATE),
        UpdateExpression: 'SET sd = :seq',
        ConditionExpression: 'e = :e AND seq >= :seq AND (attribute_not_exists(sd) OR sd < :seq)',
        ExpressionAttributeValues: { ':e': N(epoch), ':seq': N(seq) },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  private putMessage(
    meter: Meter,
    pk: string,
    epoch: number,
    message: NonNullable<RoomState['last']>,
    now: number,
  ) {
    return this.send(
      meter,
      'write',
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          ...this.key(pk, msgSk(epoch, message.seq)),
          f: S(message.frame),
          c: N(message.cum),
          i: S(message.id),
          k: S(message.dedupe),
          expiresAt: N(seconds(now) + this.settings.roomTtlSeconds),
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  /**
   * Keeps the log within ROOM_HISTORY_LIMIT messages and ROOM_HISTORY_BYTES (oldest out, the newest
   * always kept): advances the state's `lo`/`lc`, then deletes what fell out. Readers apply both bounds
   * themselves, so a trim that loses a race or fails only leaves items for the next one (and the TTL).
   */
  private async trim(meter: Meter, pk: string, state: RoomState, before: RoomState): Promise<void> {
    const firstByCount = state.seq - this.settings.historyLimit + 1;
    const overBytes = state.bytes - before.loBytes > this.settings.historyBytes;
    if ((before.lo >= firstByCount && !overBytes) || before.lo > state.seq - 1) return;
    const items = await this.query(meter, {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': S(pk),
        ':from': S(msgSk(state.epoch, before.lo)),
        ':to': S(msgSk(state.epoch, state.seq - 1)),
      },
      ProjectionExpression: 'sk, c, f',
      Limit: 25,
    });
    let lo = before.lo;
    let loBytes = before.loBytes;
    const drop: Item[] = [];
    for (const item of items) {
      const seq = seqOf(str(item, 'sk') ?? '');
      const cum = num(item, 'c') ?? 0;
      const start = cum - countedBytes(str(item, 'f') ?? '', seq);
      if (seq >= firstByCount && state.bytes - start <= this.settings.historyBytes) {
        lo = seq;
        loBytes = start;
        break;
      }
      drop.push(this.key(pk, str(item, 'sk') ?? ''));
      lo = seq + 1;
      loBytes = cum;
    }
    if (lo === before.lo) return;
    const { failed } = await this.conditional(
      meter,
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, STATE),
        UpdateExpression: 'SET lo = :lo, lc = :lc',
        ConditionExpression: 'e = :e AND lo = :was',
        ExpressionAttributeValues: {
          ':lo': N(lo),
          ':lc': N(loBytes),
          ':e': N(state.epoch),
          ':was': N(before.lo),
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    if (!failed) await this.deleteKeys(meter, drop);
  }

  private async deleteKeys(meter: Meter, keys: Item[]): Promise<void> {
    const batches: WriteRequest[][] = [];
    for (let i = 0; i < keys.length; i += 25)
      batches.push(keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })));
    await Promise.all(
      batches.map(async (batch) => {
        let pending: WriteRequest[] = batch;
        for (let attempt = 0; pending.length > 0 && attempt < 5; attempt++) {
          if (attempt > 0) await sleep(25 * 2 ** attempt);
          const output = await this.send<{ UnprocessedItems?: Record<string, WriteRequest[]> }>(
            meter,
            'write',
            new BatchWriteItemCommand({
              RequestItems: { [this.tableName]: pending },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
          pending = output.UnprocessedItems?.[this.tableName] ?? [];
        }
      }),
    );
  }

  private openIds(rows: MemberRow[]): string[] {
    return rows.filter((row) => !row.joining).map((row) => row.connectionId);
  }

  async append(
    input: AppendInput,
    { dedupeTtlSeconds = DEDUPE_WINDOW_SECONDS }: AppendOptions = {},
  ): Promise<AppendResult> {
    return this.metered(input.transient ? 'appendTransient' : 'append', (meter) =>
      input.transient
        ? this.appendTransient(meter, input)
        : this.appendStored(meter, input, dedupeTtlSeconds),
    );
  }

  private async appendTransient(meter: Meter, input: AppendInput): Promise<AppendResult> {
    const now = Date.now();
    const pk = roomPk(input.roomId);
    const sender = input.senderConnectionId;
    const [gate, touched, rows] = await Promise.all([
      sender !== undefined && input.rateLimited
        ? this.admit(meter, pk, sender, now)
        : this.isMember(meter, pk, sender, now),
      this.touch(meter, pk, now),
      this.members(meter, pk, now),
    ]);
    const result: AppendResult = { status: 'ok', epoch: 0, seq: 0, id: input.id, recipients: [] };
    if (gate !== 'ok') return { ...result, status: gate };
    const epoch = touched ? roomState(touched).epoch : (await this.currentState(meter, pk, now)).epoch;
    return { ...result, epoch, recipients: this.openIds(rows) };
  }

  private async isMember(
    meter: Meter,
    pk: string,
    connectionId: string | undefined,
    now: number,
  ): Promise<Gate> {
    if (connectionId === undefined) return 'ok';
    const output = await this.send<{ Item?: Item }>(
      meter,
      'read',
      new GetItemCommand({
        TableName: this.tableName,
        Key: this.key(pk, `${CONN}${connectionId}`),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return live(output.Item, now) ? 'ok' : 'not_member';
  }

  private async appendStored(
    meter: Meter,
    input: AppendInput,
    dedupeTtlSeconds: number,
  ): Promise<AppendResult> {
    const now = Date.now();
    const pk = roomPk(input.roomId);
    const sender = input.senderConnectionId;
    const dedupe = input.dedupe ? dedupeSk(input.dedupe.scope, input.dedupe.key) : '';
    const refused = (status: AppendResult['status'], epoch = 0): AppendResult => ({
      status,
      epoch,
      seq: 0,
      id: input.id,
      recipients: [],
    });

    // RT1: membership and rate limit || the dedupe claim.
    const [gateResult, claimResult] = await Promise.allSettled([
      sender !== undefined && input.rateLimited
        ? this.admit(meter, pk, sender, now)
        : this.isMember(meter, pk, sender, now),
      dedupe
        ? this.claim(meter, pk, dedupe, input.id, dedupeTtlSeconds, now)
        : Promise.resolve<Claim>({ kind: 'none' }),
    ]);
    let claim = claimResult.status === 'fulfilled' ? claimResult.value : undefined;
    const release = async () => {
      if (claim?.kind === 'claimed')
        await this.settleClaim(meter, pk, dedupe, input.id, 'released').catch(() => undefined);
    };
    if (gateResult.status === 'rejected' || claimResult.status === 'rejected') {
      await release();
      throw gateResult.status === 'rejected'
        ? gateResult.reason
        : (claimResult as PromiseRejectedResult).reason;
    }
    const gate = gateResult.value;
    if (gate === 'not_member') {
      await release();
      return refused('not_member');
    }
    if (claim?.kind === 'busy') return refused('unavailable');
    let current: RoomState | undefined;
    if (claim?.kind === 'done') {
      // A duplicate only within the same epoch: a room that restarted takes the message anew.
      current = await this.currentState(meter, pk, now);
      if (current.epoch === claim.epoch)
        return { status: 'duplicate', epoch: claim.epoch, seq: claim.seq, id: claim.id, recipients: [] };
      claim = await this.claim(meter, pk, dedupe, input.id, dedupeTtlSeconds, now, claim.attempt);
      if (claim.kind !== 'claimed') return refused('unavailable');
    } else if (claim?.kind === 'abandoned') {
      // An attempt ended without knowing whether it stored: take the claim over, then look.
      claim = await this.claim(meter, pk, dedupe, input.id, dedupeTtlSeconds, now, claim.attempt);
      if (claim.kind !== 'claimed') return refused('unavailable');
      current = await this.currentState(meter, pk, now);
      const stored = await this.findStored(meter, pk, dedupe, current);
      if (stored) {
        // Stored by the earlier attempt, which never answered: this resend delivers and acks it, once,
        // with its own item written first (it may be only in the state item).
        const epoch = current.epoch;
        if (current.last && stored.seq === current.last.seq && current.stored < stored.seq) {
          await this.putMessage(meter, pk, epoch, current.last, now);
          await this.markStored(meter, pk, epoch, stored.seq).catch(() => undefined);
        }
        const [rows] = await Promise.all([
          this.members(meter, pk, now),
          this.settleClaim(meter, pk, dedupe, input.id, { epoch, seq: stored.seq, id: stored.id }),
        ]);
        return {
          status: 'ok',
          epoch,
          seq: stored.seq,
          id: stored.id,
          recipients: this.openIds(rows),
          frame: stored.frame,
        };
      }
    }
    if (gate === 'rate_limited') {
      await release();
      return refused('rate_limited', current?.epoch);
    }

    // RT2: the seq, with the message stored in the state item.
    const bytes = Buffer.byteLength(input.head) + Buffer.byteLength(input.tail) + EPOCH_AND_SEQ_KEY_BYTES;
    let sequenced: Awaited<ReturnType<DynamoRoomStore['sequence']>>;
    try {
      sequenced = await this.sequence(meter, pk, input, dedupe, bytes, now);
    } catch (error) {
      // Perhaps applied, perhaps not: a resend with this dedupe key looks before storing anew.
      if (claim?.kind === 'claimed')
        await this.settleClaim(meter, pk, dedupe, input.id, 'abandoned').catch(() => undefined);
      throw error;
    }
    const { state, before } = sequenced;
    const message = state.last as NonNullable<RoomState['last']>;
    const abandon = async () => {
      // Stored in the state item (the next sender writes its item): a resend with the dedupe key finds it.
      if (claim?.kind === 'claimed')
        await this.settleClaim(meter, pk, dedupe, input.id, 'abandoned').catch(() => undefined);
    };

    // RT3: the message's own item || recipients || trimming. Acknowledged only once its item is written.
    const [rows, put] = await Promise.allSettled([
      this.members(meter, pk, now),
      this.putMessage(meter, pk, state.epoch, message, now),
      this.trim(meter, pk, state, before),
    ]);
    if (put.status === 'rejected' || rows.status === 'rejected') {
      // The next sender need not wait for this item: it writes it from the state item at once.
      if (put.status === 'rejected') await this.giveUpNewest(meter, pk, state.epoch, input.id);
      await abandon();
      throw put.status === 'rejected' ? put.reason : (rows as PromiseRejectedResult).reason;
    }
    // RT4: the next seq may be given out || dedupe done (both retried by whoever needs them otherwise).
    await Promise.allSettled([
      this.markStored(meter, pk, state.epoch, message.seq),
      claim?.kind === 'claimed'
        ? this.settleClaim(meter, pk, dedupe, input.id, {
            epoch: state.epoch,
            seq: message.seq,
            id: input.id,
          })
        : Promise.resolve(),
    ]);
    return {
      status: 'ok',
      epoch: state.epoch,
      seq: message.seq,
      id: input.id,
      recipients: this.openIds(rows.value),
      frame: message.frame,
    };
  }

  // ---- members ----------------------------------------------------------------------------------------------

  async addMember(roomId: string, connectionId: string, member: Member) {
    return this.metered('addMember', async (meter) => {
      const now = Date.now();
      const pk = roomPk(roomId);
      const [, rows] = await Promise.all([
        this.send(
          meter,
          'write',
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              ...this.key(pk, `${CONN}${connectionId}`),
              m: S(JSON.stringify(member)),
              ju: N(now + JOIN_WINDOW_MS),
              expiresAt: N(seconds(now) + this.settings.connectionTtlSeconds),
            },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
        this.members(meter, pk, now),
      ]);
      const others = rows.filter((row) => row.connectionId !== connectionId);
      return {
        others: this.openIds(others),
        firstForUser: !others.some((row) => row.member?.userId === member.userId),
      };
    });
  }

  async joined(roomId: string, connectionId: string): Promise<void> {
    await this.metered('joined', (meter) =>
      this.conditional(
        meter,
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(roomPk(roomId), `${CONN}${connectionId}`),
          UpdateExpression: 'REMOVE ju',
          // A member removed meanwhile is not created again.
          ConditionExpression: 'attribute_exists(sk)',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
  }

  async removeMembers(
    roomId: string,
    connectionIds: string[],
    { stale = false } = {},
  ): Promise<RemoveMembersResult> {
    return this.metered('removeMembers', async (meter) => {
      const now = Date.now();
      const pk = roomPk(roomId);
      const [removedItems, rows] = await Promise.all([
        Promise.all(
          connectionIds.map((connectionId) =>
            this.conditional(
              meter,
              new DeleteItemCommand({
                TableName: this.tableName,
                Key: this.key(pk, `${CONN}${connectionId}`),
                // A 410 from a connection still in its $connect is not stale: keep it.
                ...(stale
                  ? {
                      ConditionExpression: 'attribute_not_exists(ju) OR ju <= :now',
                      ExpressionAttributeValues: { ':now': N(now) },
                    }
                  : {}),
                ReturnValues: 'ALL_OLD',
                ReturnConsumedCapacity: 'TOTAL',
              }),
            ).then(({ failed, item }) => (failed ? undefined : item)),
          ),
        ),
        this.members(meter, pk, now),
      ]);
      const removed = removedItems.filter((item): item is Item => item !== undefined);
      const removedIds = new Set(removed.map((item) => (str(item, 'sk') ?? '').slice(CONN.length)));
      const users = new Set(removed.map((item) => parseMember(str(item, 'm'))?.userId));
      let left = rows.filter((row) => !removedIds.has(row.connectionId));
      // Another connection of a removed user seen by the Query, which ran beside the deletes: it may be
      // leaving at this very moment too, so read again after them (the last one to leave then sees the user
      // gone and announces it).
      if (left.some((row) => users.has(row.member?.userId)))
        left = (await this.members(meter, pk, Date.now())).filter((row) => !removedIds.has(row.connectionId));
      const goneMembers: Member[] = [];
      const seen = new Set<string>();
      for (const item of removed) {
        const member = parseMember(str(item, 'm'));
        if (!member || seen.has(member.userId)) continue;
        seen.add(member.userId);
        if (!left.some((row) => row.member?.userId === member.userId)) goneMembers.push(member);
      }
      return { remaining: this.openIds(left), goneMembers, removed: removed.length };
    });
  }

  async listMembers(roomId: string): Promise<Map<string, Member>> {
    return this.metered('listMembers', async (meter) => {
      const members = new Map<string, Member>();
      for (const row of await this.members(meter, roomPk(roomId), Date.now()))
        if (row.member) members.set(row.connectionId, row.member);
      return members;
    });
  }

  // ---- history ----------------------------------------------------------------------------------------------

  async historyPage(roomId: string, request: HistoryPageRequest): Promise<HistoryPage> {
    return this.metered('historyPage', async (meter) => {
      const now = Date.now();
      const pk = roomPk(roomId);
      const state = await this.currentState(meter, pk, now);
      const afterSeq = request.epoch !== undefined && request.epoch !== state.epoch ? 0 : request.afterSeq;
      const maxCount = request.maxCount ?? HISTORY_PAGE_MAX_COUNT;
      const base = { epoch: state.epoch, lastSeq: state.seq, afterSeq };
      if (state.seq <= afterSeq)
        return { ...base, messages: [], complete: true, more: false, nextAfterSeq: afterSeq };
      // What is kept: the last historyLimit messages whose bytes fit in historyBytes (the newest always).
      const firstByCount = Math.max(1, state.seq - this.settings.historyLimit + 1);
      const kept = (seq: number, start: number) =>
        seq === state.seq || (seq >= firstByCount && state.bytes - start <= this.settings.historyBytes);
      const from = Math.max(afterSeq + 1, firstByCount, state.lo);
      // Items per read from a typical size: the log's average at first, then the median of the sizes read
      // so far (one large whiteboard message does not shrink the next read to a few items).
      let typical = Math.max(1, (state.bytes - state.loBytes) / Math.max(1, state.seq - state.lo + 1));
      const sizes: number[] = [];
      const messages: string[] = [];
      let bytes = 0;
      let cursor = from - 1;
      let first: number | undefined;
      let more = false;
      let reread = false;
      read: while (cursor < state.seq) {
        const limit = Math.max(
          2,
          Math.min(maxCount - messages.length + 1, Math.ceil((request.maxBytes - bytes) / typical) + 2),
        );
        const items = await this.query(meter, {
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': S(pk),
            ':from': S(msgSk(state.epoch, cursor + 1)),
            ':to': S(msgSk(state.epoch, state.seq)),
          },
          Limit: limit,
        });
        const exhausted = items.length < limit;
        for (const item of items) sizes.push(Buffer.byteLength(str(item, 'f') ?? ''));
        if (sizes.length > 0) typical = Math.max(1, [...sizes].sort((a, b) => a - b)[sizes.length >> 1] ?? 1);
        const found = items.map((item) => ({
          seq: seqOf(str(item, 'sk') ?? ''),
          frame: str(item, 'f') ?? '',
          cum: num(item, 'c') ?? 0,
        }));
        // The newest message is in the state item, even before its own item is written.
        const newest = state.last;
        if (exhausted && newest && !found.some((m) => m.seq === newest.seq)) found.push(newest);
        if (found.length === 0) break;
        for (const message of found) {
          if (message.seq <= cursor) continue;
          if (!kept(message.seq, message.cum - countedBytes(message.frame, message.seq))) {
            cursor = message.seq;
            continue;
          }
          if (message.seq !== cursor + 1 && !reread) {
            // A hole: a sender between its two writes. Read once more; a hole that stays was lost.
            reread = true;
            await sleep(50);
            continue read;
          }
          const size = Buffer.byteLength(message.frame) + 1;
          if (messages.length >= maxCount || (messages.length > 0 && bytes + size > request.maxBytes)) {
            more = true;
            break read;
          }
          first ??= message.seq;
          messages.push(message.frame);
          bytes += size;
          cursor = message.seq;
        }
        if (exhausted) break;
      }
      return {
        ...base,
        messages,
        complete: first === afterSeq + 1,
        more,
        nextAfterSeq: messages.length > 0 ? cursor : afterSeq,
      };
    });
  }

  // ---- endClass ---------------------------------------------------------------------------------------------

  async endRoom(roomId: string): Promise<string[]> {
    return this.metered('endRoom', async (meter) => {
      const now = Date.now();
      const pk = roomPk(roomId);
      const [memberItems, stateItem] = await Promise.all([
        this.query(meter, {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :conn)',
          ExpressionAttributeValues: { ':pk': S(pk), ':conn': S(CONN) },
          ProjectionExpression: 'sk, expiresAt',
        }),
        this.getState(meter, pk),
      ]);
      const keys = memberItems.map((item) => this.key(pk, str(item, 'sk') ?? ''));
      const deletes: Promise<unknown>[] = [];
      if (stateItem) {
        const state = roomState(stateItem);
        for (let seq = Math.max(1, state.lo); seq <= state.seq; seq++)
          keys.push(this.key(pk, msgSk(state.epoch, seq)));
        deletes.push(
          this.conditional(
            meter,
            new DeleteItemCommand({
              TableName: this.tableName,
              Key: this.key(pk, STATE),
              ConditionExpression: 'e = :e',
              ExpressionAttributeValues: { ':e': N(state.epoch) },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
      }
      deletes.push(this.deleteKeys(meter, keys));
      await Promise.all(deletes);
      return memberItems
        .filter((item) => live(item, now))
        .map((item) => (str(item, 'sk') ?? '').slice(CONN.length));
    });
  }
}
