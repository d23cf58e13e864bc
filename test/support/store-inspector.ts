/**
 * What the handler tests look at in the store, on either target: Redis keys (`room:{ROOM}:...`) or the
 * DynamoDB table's items (layers/shared/src/dynamo-store.ts). Each method reads what the store itself
 * wrote, with its own client (never through the store's code).
 */
import {
  type AttributeValue,
  DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type Redis from 'ioredis';

export interface LogAccount {
  /** The frames the log keeps, oldest first. */
  frames: string[];
  /** The store's own count of the log's bytes. */
  bytes: number;
  /** The same count, recomputed from `frames` by the store's rule. */
  recount: number;
}

export interface StoreInspector {
  readonly kind: 'redis' | 'dynamodb';
  /** The room has a counter (and so an epoch). */
  roomExists(room: string): Promise<boolean>;
  /** Messages are stored for the room. */
  hasStoredMessages(room: string): Promise<boolean>;
  /** The room's last assigned seq (undefined without a counter). */
  seq(room: string): Promise<number | undefined>;
  /** Connection ids stored as members. */
  memberIds(room: string): Promise<string[]>;
  /** Seqs of the messages kept in the log, oldest first. */
  storedSeqs(room: string): Promise<number[]>;
  logAccount(room: string): Promise<LogAccount>;
  /** Seconds left of the parts that live as long as the room (the least of them). */
  roomTtlSeconds(room: string): Promise<number>;
  /** Seconds left of a dedupe entry (-2 when absent). */
  dedupeTtlSeconds(room: string, scope: string, key: string): Promise<number>;
  /** The room's keys or items, leaving out dedupe and rate entries that expire within 60 s on their own. */
  lastingKeys(room: string): Promise<string[]>;
  /** Makes the room's counter gone as its TTL would (Redis: deleted; DynamoDB: past its expiresAt). */
  expireCounter(room: string): Promise<void>;
  /** Makes the room's counter and log gone as their TTL would. */
  expireRoom(room: string): Promise<void>;
  close(): void;
}

export class RedisInspector implements StoreInspector {
  readonly kind = 'redis' as const;
  constructor(private readonly redis: Redis) {}

  private key(room: string, part: string) {
    return `room:{${room}}:${part}`;
  }
  async roomExists(room: string) {
    return (await this.redis.exists(this.key(room, 'state'))) === 1;
  }
  async hasStoredMessages(room: string) {
    return (await this.redis.exists(this.key(room, 'log'))) === 1;
  }
  async seq(room: string) {
    const seq = await this.redis.hget(this.key(room, 'state'), 'seq');
    return seq === null ? undefined : Number(seq);
  }
  memberIds(room: string) {
    return this.redis.zrange(this.key(room, 'members'), 0, -1);
  }
  async storedSeqs(room: string) {
    const scores = await this.redis.zrange(this.key(room, 'log'), 0, -1, 'WITHSCORES');
    return scores.filter((_, i) => i % 2 === 1).map(Number);
  }
  async logAccount(room: string) {
    const frames = await this.redis.zrange(this.key(room, 'log'), 0, -1);
    const bytes = Number(await this.redis.hget(this.key(room, 'state'), 'bytes'));
    return { frames, bytes, recount: frames.reduce((sum, f) => sum + Buffer.byteLength(f), 0) };
  }
  async roomTtlSeconds(room: string) {
    const ttls = await Promise.all(
      ['state', 'log', 'members', 'info'].map((part) => this.redis.ttl(this.key(room, part))),
    );
    return Math.min(...ttls);
  }
  dedupeTtlSeconds(room: string, scope: string, key: string) {
    return this.redis.ttl(this.key(room, `dedupe:${scope}:${key}`));
  }
  async lastingKeys(room: string) {
    const keys = await this.redis.keys(`room:{${room}}:*`);
    const lasting = [];
    for (const key of keys) {
      const ttl = await this.redis.pttl(key);
      if (!(/:(rl|dedupe):/.test(key) && ttl > 0 && ttl <= 60_000)) lasting.push(key);
    }
    return lasting;
  }
  async expireCounter(room: string) {
    await this.redis.del(this.key(room, 'state'));
  }
  async expireRoom(room: string) {
    await this.redis.del(this.key(room, 'state'), this.key(room, 'log'));
  }
  close() {}
}

type Item = Record<string, AttributeValue>;
const num = (item: Item | undefined, name: string) =>
  item?.[name]?.N === undefined ? undefined : Number(item[name].N);
const str = (item: Item | undefined, name: string) => item?.[name]?.S;

export class DynamoInspector implements StoreInspector {
  readonly kind = 'dynamodb' as const;
  private readonly client: DynamoDBClient;
  constructor(
    endpoint: string,
    private readonly table: string,
  ) {
    this.client = new DynamoDBClient({ endpoint });
  }

  /** Every item of the room's partition (expired ones included: TTL deletion is lazy). */
  async items(room: string, prefix = ''): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :p)' : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': { S: `room#${room}` },
            ...(prefix ? { ':p': { S: prefix } } : {}),
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
  private live(item: Item) {
    return (num(item, 'expiresAt') ?? 0) > Math.floor(Date.now() / 1000);
  }
  private async state(room: string) {
    return (await this.items(room, 'state')).find((i) => str(i, 'sk') === 'state' && this.live(i));
  }
  /** Message items of the room's current epoch, oldest first. */
  private async messages(room: string) {
    const state = await this.state(room);
    if (!state) return [];
    return (await this.items(room, `msg#${num(state, 'e')}#`)).filter((i) => this.live(i));
  }
  async roomExists(room: string) {
    return (await this.state(room)) !== undefined;
  }
  async hasStoredMessages(room: string) {
    const state = await this.state(room);
    return (await this.items(room, 'msg#')).length > 0 || (num(state, 'seq') ?? 0) > 0;
  }
  async seq(room: string) {
    return num(await this.state(room), 'seq');
  }
  async memberIds(room: string) {
    return (await this.items(room, 'conn#'))
      .filter((i) => this.live(i))
      .map((i) => (str(i, 'sk') ?? '').slice(5));
  }
  async storedSeqs(room: string) {
    return (await this.messages(room)).map((i) => Number((str(i, 'sk') ?? '').split('#')[2]));
  }
  async logAccount(room: string) {
    const state = await this.state(room);
    const lo = num(state, 'lo') ?? 1;
    const kept = (await this.messages(room)).filter((i) => Number((str(i, 'sk') ?? '').split('#')[2]) >= lo);
    const frames = kept.map((i) => str(i, 'f') ?? '');
    // The store counts a frame without its seq's digits (dynamo-store.ts, countedBytes).
    const recount = kept.reduce(
      (sum, i) =>
        sum +
        Buffer.byteLength(str(i, 'f') ?? '') -
        String(Number((str(i, 'sk') ?? '').split('#')[2])).length,
      0,
    );
    return { frames, bytes: (num(state, 'b') ?? 0) - (num(state, 'lc') ?? 0), recount };
  }
  async roomTtlSeconds(room: string) {
    const now = Math.floor(Date.now() / 1000);
    const parts = [...(await this.items(room, 'state')), ...(await this.messages(room))];
    return Math.min(...parts.map((i) => (num(i, 'expiresAt') ?? 0) - now));
  }
  async dedupeTtlSeconds(room: string, scope: string, key: string) {
    const [item] = await this.items(room, `dd#${scope.length}:${scope}#${key}`);
    return item ? (num(item, 'expiresAt') ?? 0) - Math.floor(Date.now() / 1000) : -2;
  }
  async lastingKeys(room: string) {
    const now = Math.floor(Date.now() / 1000);
    return (await this.items(room))
      .filter((i) => {
        const left = (num(i, 'expiresAt') ?? 0) - now;
        return !(/^dd#/.test(str(i, 'sk') ?? '') && left > 0 && left <= 60);
      })
      .map((i) => str(i, 'sk') ?? '');
  }
  async expireCounter(room: string) {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: { S: `room#${room}` }, sk: { S: 'state' } },
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 1) } },
      }),
    );
  }
  /** The log's items belong to the counter's epoch (their keys name it): they go with it. */
  expireRoom(room: string) {
    return this.expireCounter(room);
  }
  close() {
    this.client.destroy();
  }
}
