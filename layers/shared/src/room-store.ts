/**
 * The room store: connections, members, sequence numbers and history of a classroom in Redis.
 * Depends on a two-method client interface (evalsha/eval), not on a concrete ioredis instance.
 */
import { createHash } from 'node:crypto';
import type { RoomSettings } from './config';
import {
  ADD_MEMBER,
  END_ROOM,
  JOINED,
  LIST_MEMBERS,
  READ_HISTORY,
  REMOVE_MEMBERS,
  SEND_MESSAGE,
} from './lua';
import { DEDUPE_WINDOW_SECONDS, type Member } from './protocol';

/** The part of a Redis client the store needs. ioredis' `Redis` satisfies it. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
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
  add: script(ADD_MEMBER),
  joined: script(JOINED),
  remove: script(REMOVE_MEMBERS),
  list: script(LIST_MEMBERS),
  history: script(READ_HISTORY),
  end: script(END_ROOM),
};

/** One round trip: EVALSHA, and EVAL only when the server does not know the script yet (after a restart or failover). */
async function run(client: ScriptClient, s: LoadedScript, keys: string[], args: (string | number)[]) {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(s.source, keys.length, ...keys, ...args);
    }
    throw error;
  }
}

/** Keys of one room, sharing the hash tag `{roomId}`. */
export function roomKeys(roomId: string) {
  const prefix = `room:{${roomId}}:`;
  return {
    seq: `${prefix}seq`,
    log: `${prefix}log`,
    members: `${prefix}members`,
    info: `${prefix}info`,
    /** Connections whose $connect is still running (ZSET, score: when to stop assuming so, epoch ms). */
    joining: `${prefix}joining`,
    rate: (connectionId: string) => `${prefix}rl:${connectionId}`,
    dedupe: (userId: string, clientMsgId: string) => `${prefix}dedupe:${userId}:${clientMsgId}`,
  };
}

/**
 * How long a connection counts as still connecting when its $connect never reports the end (it crashed):
 * above the $connect function's timeout.
 */
export const JOIN_WINDOW_MS = 15_000;

export type AppendStatus = 'ok' | 'duplicate' | 'rate_limited' | 'not_member';

export interface AppendInput {
  roomId: string;
  id: string;
  /** The serialised message frame split around its seq: `head + seq + tail` is the stored JSON. */
  head: string;
  tail: string;
  transient: boolean;
  /** Connection of the sender, checked for membership and rate limited; undefined for server publish. */
  senderConnectionId?: string;
  /** Scope and id of the dedupe entry (user id and clientMsgId, or `system` and the SQS message id). */
  dedupe?: { scope: string; key: string };
  rateLimited: boolean;
}

export interface AppendResult {
  status: AppendStatus;
  seq: number;
  id: string;
  recipients: string[];
}

export interface HistoryResult {
  lastSeq: number;
  messages: string[];
  /** False when the stored history no longer reaches back to `afterSeq + 1`. */
  complete: boolean;
}

function parseMember(json: string): Member | undefined {
  try {
    const value = JSON.parse(json) as Member;
    return typeof value.userId === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export class RoomStore {
  constructor(
    private readonly client: ScriptClient,
    private readonly settings: RoomSettings,
  ) {}

  /** Rate limit, dedupe, sequence, store, trim and read the recipients: one Redis round trip. */
  async append(input: AppendInput): Promise<AppendResult> {
    const k = roomKeys(input.roomId);
    const sender = input.senderConnectionId ?? '';
    const dedupeKey = input.dedupe ? k.dedupe(input.dedupe.scope, input.dedupe.key) : k.dedupe('', '');
    const result = (await run(
      this.client,
      scripts.send,
      [k.seq, k.log, k.members, k.info, k.rate(sender), dedupeKey, k.joining],
      [
        input.head,
        input.tail,
        input.transient ? '1' : '0',
        this.settings.historyLimit,
        this.settings.roomTtlSeconds,
        input.rateLimited ? this.settings.ratePerSecond : 0,
        this.settings.rateBurst,
        DEDUPE_WINDOW_SECONDS,
        input.id,
        input.dedupe && !input.transient ? '1' : '0',
        sender,
      ],
    )) as [AppendStatus, number, string, string[]];
    const [status, seq, id, recipients] = result;
    return { status, seq: Number(seq), id, recipients };
  }

  /**
   * Stores a member, marked as still connecting until `joined`; returns the other connections and
   * whether this is the user's first connection.
   */
  async addMember(roomId: string, connectionId: string, member: Member) {
    const k = roomKeys(roomId);
    const [others, first] = (await run(
      this.client,
      scripts.add,
      [k.members, k.info, k.joining],
      [
        connectionId,
        JSON.stringify(member),
        member.userId,
        this.settings.connectionTtlSeconds * 1000,
        this.settings.roomTtlSeconds,
        JOIN_WINDOW_MS,
      ],
    )) as [string[], number];
    return { others, firstForUser: first === 1 };
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
  async removeMembers(roomId: string, connectionIds: string[], { stale = false } = {}) {
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

  /** Stored messages with `seq > afterSeq`, oldest first, at most the history limit. */
  async history(roomId: string, afterSeq: number): Promise<HistoryResult> {
    const k = roomKeys(roomId);
    const [lastSeq, oldest, messages] = (await run(
      this.client,
      scripts.history,
      [k.seq, k.log],
      [afterSeq, this.settings.historyLimit],
    )) as [number, number, string[]];
    const wanted = afterSeq + 1;
    const complete = lastSeq <= afterSeq || (oldest > 0 && oldest <= wanted);
    return { lastSeq: Number(lastSeq), messages, complete };
  }

  /** Deletes the room's state; returns the connections that were in it. */
  async endRoom(roomId: string): Promise<string[]> {
    const k = roomKeys(roomId);
    return (await run(
      this.client,
      scripts.end,
      [k.seq, k.log, k.members, k.info, k.joining],
      [],
    )) as string[];
  }
}
