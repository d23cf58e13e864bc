/**
 * The local stack as `npm run dev` runs it (a real redis-server, the gateway emulator serving the real
 * template.yaml with the handlers in-process, the same environment overrides), on a free loopback port,
 * for the SDK and browser tests. As with `npm run dev`, REDIS_URL (a cluster with REDIS_CLUSTER=true),
 * MIN_REPLICA_ACKS and REPLICA_ACK_TIMEOUT_MS come from the environment when set (local/function-env.ts);
 * REDIS_CLUSTER=true alone starts a local Redis Cluster; else a redis-server of its own, 0 replica acks
 * (test/support/stack-redis.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import { generateSecret, mintToken, type TokenClaims } from '../../local/tokens';
import { type StackRedis, stackRedis } from './stack-redis';

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

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const redis = await stackRedis();
  const secret = generateSecret();
  const stage = 'local';
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      templatePath: TEMPLATE_PATH,
      port: 0,
      host: '127.0.0.1',
      stage,
      logger: options.logger ?? (() => {}),
      idleTimeoutMs: options.idleTimeoutMs,
      httpHandler: options.httpHandler?.(secret, stage),
      envOverrides: () =>
        localFunctionEnv({
          redisUrl: redis.url,
          redisCluster: redis.cluster,
          jwtSecret: secret,
          logLevel: process.env.TEST_LOG_LEVEL,
        }),
    });
  } catch (error) {
    await redis.stop();
    throw error;
  }
  return {
    gateway,
    redis,
    secret,
    token: (claims) => mintToken(secret, claims),
    async stop() {
      // The functions' workers, and their Redis clients, end with the gateway.
      await gateway.close();
      await redis.stop();
    },
  };
}
