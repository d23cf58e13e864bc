/**
 * The room store: connections, members, epochs, sequence numbers and history of a classroom in Redis.
 * Depends on a small client interface (evalsha/eval and a pipeline), not on a concrete ioredis instance.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
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
import type { DurabilitySettings, RoomSettings } from './config';
import {
  ADD_MEMBER,
  END_ROOM,
  JOINED,
  LIST_MEMBERS,
  MARK_UNCONFIRMED,
  READ_HISTORY,
  REMOVE_MEMBERS,
  SEND_MESSAGE,
} from './lua';
import { DEDUPE_WINDOW_SECONDS, type Member } from './protocol';

// The store's types live with the interface; re-exported for the modules that import them from here.
export {
  type AppendInput,
  type AppendResult,
  type AppendStatus,
  HISTORY_PAGE_MAX_COUNT,
  type HistoryPage,
  type HistoryPageRequest,
  JOIN_WINDOW_MS,
  StoreUnavailableError,
} from './classroom-store';

type Arg = string | number;

/** Commands queued on one connection and sent in one write; `exec` answers [error, result] per command. */
export interface ScriptPipeline {
  evalsha(sha: string, numKeys: number, ...args: Arg[]): unknown;
  eval(script: string, numKeys: number, ...args: Arg[]): unknown;
  call(command: string, ...args: Arg[]): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** The part of a Redis client the store needs. ioredis' `Redis` and `Cluster` satisfy it. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
  pipeline(): ScriptPipeline;
  /** A cluster client's slot map refresh (ioredis `Cluster`); absent on a standalone client. */
  refreshSlotsCache?(callback?: (error?: Error | null) => void): void;
}

const TRANSIENT_REPLIES =
  /^(OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|BUSY|UNBLOCKED|MOVED|ASK)\b/;

/**
 * Redis replies that make a call StoreUnavailableError: unreachable or timing out, in a failover (READONLY,
 * LOADING, MASTERDOWN, CLUSTERDOWN, UNBLOCKED: a WAIT on a primary being demoted), a slot moving (MOVED,
 * ASK, TRYAGAIN not followed in time), or full (OOM under `noeviction`).
 */
/** Redis server replies are ReplyErrors (their name); anything else is the connection's failure. */
function isTransient(error: Error): boolean {
  return error.name !== 'ReplyError' || TRANSIENT_REPLIES.test(error.message);
}

/** The error a store call throws for `error`: StoreUnavailableError when it is transient, else itself. */
export function storeError(error: unknown): unknown {
  if (error instanceof Error && isTransient(error)) {
    const full = error.message.startsWith('OOM');
    return new StoreUnavailableError(
      full ? 'Redis is out of memory' : `Redis unavailable: ${error.message}`,
      {
        cause: error,
      },
    );
  }
  return error;
}

interface LoadedScript {
  source: string;
  sha: string;
}

function script(source: string): LoadedScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const scripts = {
  send: script(SEND_MESSAGE),
  unconfirmed: script(MARK_UNCONFIRMED),
  add: script(ADD_MEMBER),
  joined: script(JOINED),
  remove: script(REMOVE_MEMBERS),
  list: script(LIST_MEMBERS),
  history: script(READ_HISTORY),
  end: script(END_ROOM),
};

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** One round trip: EVALSHA, and EVAL only when the server does not know the script yet (after a restart or failover). */
async function run(client: ScriptClient, s: LoadedScript, keys: string[], args: Arg[]) {
  try {
    try {
      return await client.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (isNoScript(error)) return await client.eval(s.source, keys.length, ...keys, ...args);
      throw error;
    }
  } catch (error) {
    throw storeError(error);
  }
}

/**
 * Replies a cluster pipeline is not re-sent on by ioredis (WAIT beside the script succeeded): redirects,
 * and CLUSTERDOWN while a failed master's replica is being promoted.
 */
const REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;
const REDIRECT_ATTEMPTS = 4;

function refreshSlots(client: ScriptClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.refreshSlotsCache) resolve();
    else client.refreshSlotsCache(() => resolve());
  });
}

/**
 * The script and `WAIT replicas timeout` in one pipeline (one round trip): WAIT answers how many
 * replicas have everything this connection wrote, the script's writes included. On a cluster, a script
 * redirected (MOVED: the slot moved; ASK, TRYAGAIN: it is moving) did not run: ioredis does not re-send a
 * pipeline whose WAIT succeeded, so the slot map is refreshed and the pipeline sent again, a few times.
 */
async function runConfirmed(
  client: ScriptClient,
  s: LoadedScript,
  keys: string[],
  args: Arg[],
  durability: DurabilitySettings,
): Promise<{ value: unknown; replicas: number }> {
  const once = async (bySha: boolean) => {
    const pipeline = client.pipeline();
    if (bySha) pipeline.evalsha(s.sha, keys.length, ...keys, ...args);
    else pipeline.eval(s.source, keys.length, ...keys, ...args);
    pipeline.call('WAIT', durability.minReplicaAcks, durability.timeoutMs);
    const replies = await pipeline.exec();
    if (replies?.length !== 2) throw new StoreUnavailableError('Redis pipeline was not executed');
    return replies as [[Error | null, unknown], [Error | null, unknown]];
  };
  try {
    for (let attempt = 1; ; attempt++) {
      let [[error, value], [waitError, replicas]] = await once(true);
      if (isNoScript(error)) [[error, value], [waitError, replicas]] = await once(false);
      if (error && REDIRECT.test(error.message) && attempt < REDIRECT_ATTEMPTS) {
        if (error.message.startsWith('MOVED')) await refreshSlots(client);
        else await sleep((error.message.startsWith('CLUSTERDOWN') ? 100 : 25) * attempt);
        continue;
      }
      if (error) throw error;
      if (waitError) throw waitError;
      return { value, replicas: Number(replicas) };
    }
  } catch (error) {
    throw storeError(error);
  }
}

/** Keys of one room, sharing the hash tag `{roomId}`. */
export function roomKeys(roomId: string) {
  const prefix = `room:{${roomId}}:`;
  return {
    /** HASH: epoch, seq (the last assigned), bytes (of the stored log). */
    state: `${prefix}state`,
    log: `${prefix}log`,
    members: `${prefix}members`,
    info: `${prefix}info`,
    /** Connections whose $connect is still running (ZSET, score: when to stop assuming so, epoch ms). */
    joining: `${prefix}joining`,
    rate: (connectionId: string) => `${prefix}rl:${connectionId}`,
    dedupe: (userId: string, clientMsgId: string) => `${prefix}dedupe:${userId}:${clientMsgId}`,
  };
}

function parseMember(json: string): Member | undefined {
  try {
    const value = JSON.parse(json) as Member;
    return typeof value.userId === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The classroom store on Redis: one Lua script (one round trip) per operation. */
export class RoomStore implements ClassroomStore {
  constructor(
    private readonly client: ScriptClient,
    private readonly settings: RoomSettings,
    private readonly durability: DurabilitySettings = { minReplicaAcks: 0, timeoutMs: 250 },
  ) {}

  /**
   * Rate limit, dedupe, epoch, sequence, store, trim and read the recipients in one script; with
   * replica-confirmed acks, pipelined with WAIT: one Redis round trip either way. A stored message
   * that the replicas did not confirm in time comes back `unavailable`, flagged so that a resend with
   * the same dedupe key completes it. `dedupeTtlSeconds` overrides the 60 s client window.
   */
  async append(
    input: AppendInput,
    { dedupeTtlSeconds = DEDUPE_WINDOW_SECONDS }: AppendOptions = {},
  ): Promise<AppendResult> {
    const k = roomKeys(input.roomId);
    const sender = input.senderConnectionId ?? '';
    const useDedupe = input.dedupe !== undefined && !input.transient;
    const dedupeKey = input.dedupe ? k.dedupe(input.dedupe.scope, input.dedupe.key) : k.dedupe('', '');
    const keys = [k.state, k.log, k.members, k.info, k.rate(sender), dedupeKey, k.joining];
    const args = [
      input.head,
      input.tail,
      input.transient ? '1' : '0',
      this.settings.historyLimit,
      this.settings.roomTtlSeconds,
      input.rateLimited ? this.settings.ratePerSecond : 0,
      this.settings.rateBurst,
      dedupeTtlSeconds,
      input.id,
      useDedupe ? '1' : '0',
      sender,
      this.settings.historyBytes,
    ];
    // Transient messages are not stored: nothing to confirm.
    const confirm = this.durability.minReplicaAcks > 0 && !input.transient;
    const { value, replicas } = confirm
      ? await runConfirmed(this.client, scripts.send, keys, args, this.durability)
      : { value: await run(this.client, scripts.send, keys, args), replicas: 0 };
    const [status, seqReply, id, recipients, epochReply, storedFrame] = value as [
      'ok' | 'duplicate' | 'unconfirmed' | 'rate_limited' | 'not_member',
      number,
      string,
      string[],
      string,
      string,
    ];
    const seq = Number(seqReply);
    const epoch = Number(epochReply);
    const result: AppendResult = { status: 'ok', epoch, seq, id, recipients };
    if (status === 'rate_limited' || status === 'not_member') return { ...result, status };
    if (confirm && replicas < this.durability.minReplicaAcks) {
      // Written to the primary only: not acknowledged, not delivered. Flag it for the resend to complete
      // (best effort: if the primary is gone, so is the write, and the resend stores it anew).
      if (useDedupe && status !== 'duplicate') {
        await run(this.client, scripts.unconfirmed, [dedupeKey], [`${epochReply}|${seq}|${id}|`]).catch(
          () => undefined,
        );
      }
      return { ...result, status: 'unavailable', recipients: [] };
    }
    if (status === 'duplicate') return { ...result, status, recipients: [] };
    if (input.transient) return result;
    // ok: the frame stored now; unconfirmed: the one stored by the first attempt (trimmed: nothing to send).
    const frame = status === 'ok' ? `${input.head}${epochReply},"seq":${seq}${input.tail}` : storedFrame;
    return frame ? { ...result, frame } : { ...result, recipients: [] };
  }

  /**
   * Stores a member, marked as still connecting until `joined`; returns the other connections and
   * whether this is the user's first connection.
   */
  async addMember(roomId: string, connectionId: string, member: Member) {
    const k = roomKeys(roomId);
    const keys = [k.members, k.info, k.joining];
    const args = [
      connectionId,
      JSON.stringify(member),
      member.userId,
      this.settings.connectionTtlSeconds * 1000,
      this.settings.roomTtlSeconds,
      JOIN_WINDOW_MS,
    ];
    // A membership only the old primary knew would leave the member without live messages after a
    // failover, with no gap to notice: confirmed like a message, else the handshake fails (retry).
    const [others, first] = (await this.confirmed(scripts.add, keys, args, 'membership')) as [
      string[],
      number,
    ];
    return { others, firstForUser: first === 1 };
  }

  /** Runs a script; with replica-confirmed acks, pipelined with WAIT, and unconfirmed is unavailable. */
  private async confirmed(s: LoadedScript, keys: string[], args: Arg[], what: string): Promise<unknown> {
    if (this.durability.minReplicaAcks === 0) return run(this.client, s, keys, args);
    const { value, replicas } = await runConfirmed(this.client, s, keys, args, this.durability);
    if (replicas < this.durability.minReplicaAcks) {
      throw new StoreUnavailableError(
        `${what} not confirmed by ${this.durability.minReplicaAcks} replica(s) within ${this.durability.timeoutMs} ms`,
      );
    }
    return value;
  }

  /**
   * The end of a connection's $connect. Until then API Gateway answers 410 to posts to it, and a 410 must
   * not prune it (members joining together would remove each other from the room).
   */
  async joined(roomId: string, connectionId: string): Promise<void> {
    await run(this.client, scripts.joined, [roomKeys(roomId).joining], [connectionId]);
  }

  /**
   * Removes connections; returns the remaining connections, the members whose last connection went and
   * how many connections were removed. `stale`: the connections answered 410, so those still in their
   * $connect are kept.
   */
  async removeMembers(
    roomId: string,
    connectionIds: string[],
    { stale = false } = {},
  ): Promise<RemoveMembersResult> {
    const k = roomKeys(roomId);
    const [remaining, gone, removed] = (await run(
      this.client,
      scripts.remove,
      [k.members, k.info, k.joining],
      [stale ? '1' : '0', ...connectionIds],
    )) as [string[], string[], number];
    return {
      remaining,
      goneMembers: gone.map(parseMember).filter((m): m is Member => m !== undefined),
      removed: Number(removed),
    };
  }

  /** Connections now in the room, each with its member. */
  async listMembers(roomId: string): Promise<Map<string, Member>> {
    const k = roomKeys(roomId);
    const flat = (await run(this.client, scripts.list, [k.members, k.info], [])) as string[];
    const members = new Map<string, Member>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const member = parseMember(flat[i + 1] as string);
      if (member) members.set(flat[i] as string, member);
    }
    return members;
  }

  /**
   * One page of the stored messages after `afterSeq` (of `epoch`, when given), oldest first, bounded by
   * count and bytes whatever the room holds. Creates the room's epoch when the room has none yet. With
   * replica-confirmed acks the page is confirmed too (pipelined WAIT); unconfirmed: `unavailable`.
   */
  async historyPage(roomId: string, request: HistoryPageRequest): Promise<HistoryPage> {
    const k = roomKeys(roomId);
    // Confirmed like a message: a page may only hold what a failover cannot take back.
    const [epoch, lastSeq, oldest, messages, lastReturned, more, usedAfter] = (await this.confirmed(
      scripts.history,
      [k.state, k.log],
      [
        request.afterSeq,
        request.epoch ?? '',
        request.maxCount ?? HISTORY_PAGE_MAX_COUNT,
        request.maxBytes,
        this.settings.roomTtlSeconds,
      ],
      'history',
    )) as [string, number, number, string[], number, number, number];
    const afterSeq = Number(usedAfter);
    const last = Number(lastSeq);
    const complete = last <= afterSeq || (oldest > 0 && oldest <= afterSeq + 1);
    return {
      epoch: Number(epoch),
      lastSeq: last,
      afterSeq,
      messages,
      complete,
      more: Number(more) === 1,
      nextAfterSeq: Number(lastReturned),
    };
  }

  /** Deletes the room's state; returns the connections that were in it. */
  async endRoom(roomId: string): Promise<string[]> {
    const k = roomKeys(roomId);
    return (await run(
      this.client,
      scripts.end,
      [k.state, k.log, k.members, k.info, k.joining],
      [],
    )) as string[];
  }
}
