/**
 * The comparison design for recipient lookup: every connection stored as its own hash
 * (`conn:<connectionId>` -> room, userId, name, role), and the recipients of a message found by scanning
 * ALL connections and keeping those of the room, as aws-samples/simple-websockets-chat-app does with a
 * DynamoDB Scan of its whole connections table on every message.
 *
 * To be fair to it, the scan is the cheapest form of that design in Redis: a Lua script reads one SCAN
 * page (COUNT 1000) and filters it by room on the server (like a DynamoDB Scan with a FilterExpression:
 * the server still reads every item), so each page costs one round trip and only matches travel back.
 * Storing the message (seq + log + trim + TTL) is one round trip, like ours.
 * It lives in its own Redis database so its SCAN walks only its own keys.
 */
import type Redis from 'ioredis';

export interface ScanConnection {
  connectionId: string;
  roomId: string;
  userId: string;
  name: string;
  role: string;
}

/** KEYS: none. ARGV: cursor, roomId, count. Returns {nextCursor, matchingConnectionIds}. */
const SCAN_PAGE = `
local page = redis.call('SCAN', ARGV[1], 'MATCH', 'conn:*', 'COUNT', tonumber(ARGV[3]))
local ids = {}
for _, key in ipairs(page[2]) do
  if redis.call('HGET', key, 'room') == ARGV[2] then ids[#ids + 1] = string.sub(key, 6) end
end
return {page[1], ids}
`;

/** KEYS: seq, log. ARGV: head, tail, historyLimit, ttl. Returns the seq. */
const STORE = `
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1] .. seq .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
return seq
`;

export const SCAN_PAGE_SIZE = 1000;

export class ScanAllStore {
  private sha = '';
  private storeSha = '';

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 7500,
    private readonly historyLimit = 1000,
  ) {}

  async init(): Promise<void> {
    this.sha = (await this.redis.script('LOAD', SCAN_PAGE)) as string;
    this.storeSha = (await this.redis.script('LOAD', STORE)) as string;
  }

  /** Stores connections with one pipeline per chunk (setup only). */
  async addConnections(connections: readonly ScanConnection[], chunk = 5000): Promise<void> {
    for (let i = 0; i < connections.length; i += chunk) {
      const pipeline = this.redis.pipeline();
      for (const c of connections.slice(i, i + chunk)) {
        const key = `conn:${c.connectionId}`;
        pipeline.hset(key, 'room', c.roomId, 'userId', c.userId, 'name', c.name, 'role', c.role);
        pipeline.expire(key, this.ttlSeconds);
      }
      await pipeline.exec();
    }
  }

  /** Sequence and store the message: one round trip (a small script: INCR, ZADD, trim, TTLs). */
  async append(roomId: string, head: string, tail: string): Promise<number> {
    return Number(
      await this.redis.evalsha(
        this.storeSha,
        2,
        `msg:{${roomId}}:seq`,
        `msg:{${roomId}}:log`,
        head,
        tail,
        this.historyLimit,
        86_400,
      ),
    );
  }

  /** Every connection of the room, found by scanning all connections. Returns the ids and the pages read. */
  async recipients(roomId: string): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const [next, found] = (await this.redis.evalsha(this.sha, 0, cursor, roomId, SCAN_PAGE_SIZE)) as [
        string,
        string[],
      ];
      pages++;
      cursor = next;
      ids.push(...found);
    } while (cursor !== '0');
    return { ids, pages };
  }
}
