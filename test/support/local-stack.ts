/**
 * The local stack as `npm run dev` runs it (a real redis-server, the gateway emulator serving the real
 * template.yaml with the handlers in-process, the same environment overrides), on a free loopback port,
 * for the SDK and browser tests. As with `npm run dev`, REDIS_URL (a cluster with REDIS_CLUSTER=true),
 * MIN_REPLICA_ACKS and REPLICA_ACK_TIMEOUT_MS come from the environment when set (local/function-env.ts);
 * REDIS_CLUSTER=true alone starts a local Redis Cluster; else a redis-server of its own, 0 replica acks
 * (test/support/stack-redis.ts).
 *
 * `startStoreStack` runs it on the test store instead: with TEST_STORE=dynamodb (the client-dynamodb project)
 * as `STORE=dynamodb npm run dev` does, the template evaluated with Store=DynamoDB and the functions on a local
 * table (test/support/stack-dynamodb.ts), no Redis.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import Redis from 'ioredis';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import { generateSecret, mintToken, type TokenClaims } from '../../local/tokens';
import { type StackDynamoDB, stackDynamoDB, storeParameters, testStore } from './stack-dynamodb';
import { type StackRedis, stackRedis } from './stack-redis';
import { DynamoInspector, RedisInspector, type StoreInspector } from './store-inspector';

export const TEMPLATE_PATH = join(__dirname, '..', '..', 'template.yaml');

export interface LocalStack {
  gateway: Gateway;
  /** REDIS_URL's Redis when it is set (left as it is by `stop`), else a redis-server (or cluster) of its own. */
  redis: StackRedis;
  secret: string;
  /** A token signed with the stack's secret. */
  token(claims: TokenClaims): Promise<string>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  httpHandler?: (secret: string, stage: string) => (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Gateway log lines (default: dropped). */
  logger?: (line: string) => void;
  /** The gateway's idle timeout (default 10 min). */
  idleTimeoutMs?: number;
}

/** The stack on the Redis store. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stack = await startStack('redis', options);
  return { ...stack, redis: stack.redis as StackRedis };
}

/** The stack on either store. */
export interface StoreStack extends Omit<LocalStack, 'redis'> {
  store: 'redis' | 'dynamodb';
  /** The Redis store (undefined on DynamoDB). */
  redis?: StackRedis;
  /** The DynamoDB store (undefined on Redis). */
  dynamodb?: StackDynamoDB;
  /** Reads the store with a client of its own (lazy; closed by `stop`). */
  readonly inspect: StoreInspector;
}

/** The stack on the test store: TEST_STORE=dynamodb (the client-dynamodb project), else Redis. */
export function startStoreStack(options: LocalStackOptions = {}): Promise<StoreStack> {
  return startStack(testStore(), options);
}

async function startStack(store: 'redis' | 'dynamodb', options: LocalStackOptions): Promise<StoreStack> {
  const redis = store === 'redis' ? await stackRedis() : undefined;
  const dynamodb = store === 'dynamodb' ? await stackDynamoDB() : undefined;
  const stopStore = async () => {
    await redis?.stop();
    await dynamodb?.stop();
  };
  const secret = generateSecret();
  const stage = 'local';
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      templatePath: TEMPLATE_PATH,
      port: 0,
      host: '127.0.0.1',
      stage,
      parameterOverrides: store === 'dynamodb' ? storeParameters() : undefined,
      logger: options.logger ?? (() => {}),
      idleTimeoutMs: options.idleTimeoutMs,
      httpHandler: options.httpHandler?.(secret, stage),
      envOverrides: () =>
        localFunctionEnv({
          ...(dynamodb
            ? { dynamodb: { endpoint: dynamodb.endpoint, tableName: dynamodb.tableName } }
            : { redisUrl: redis?.url, redisCluster: redis?.cluster }),
          jwtSecret: secret,
          logLevel: process.env.TEST_LOG_LEVEL,
        }),
    });
  } catch (error) {
    await stopStore();
    throw error;
  }
  let inspector: { inspect: StoreInspector; close(): void } | undefined;
  return {
    gateway,
    store,
    redis,
    dynamodb,
    secret,
    token: (claims) => mintToken(secret, claims),
    get inspect(): StoreInspector {
      if (!inspector) {
        if (dynamodb) {
          const inspect = new DynamoInspector(dynamodb.endpoint, dynamodb.tableName);
          inspector = { inspect, close: () => inspect.close() };
        } else {
          const client = new Redis((redis as StackRedis).url, { maxRetriesPerRequest: 1 });
          inspector = { inspect: new RedisInspector(client), close: () => client.disconnect() };
        }
      }
      return inspector.inspect;
    },
    async stop() {
      inspector?.close();
      // The functions' workers, and their store clients, end with the gateway.
      await gateway.close();
      await stopStore();
    },
  };
}
