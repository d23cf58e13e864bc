/**
 * One ioredis client per warm container. Short timeouts and a bounded offline queue make a dead Redis
 * fail a request in about a second; `READONLY` after a failover makes the client reconnect (to the new
 * primary behind the same endpoint) and resend the command. With `REDIS_CLUSTER=true` it is ioredis'
 * cluster client (ElastiCache cluster mode, Serverless): seeded from the configuration endpoint, it
 * learns the slot map, follows `MOVED`/`ASK`, and fails fast at start-up when no node answers.
 */
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { type RedisSettings, redisSettings } from './config';
import { StoreUnavailableError } from './room-store';
import { secretString } from './secrets';

export const REDIS_CONNECT_TIMEOUT_MS = 1000;
export const REDIS_COMMAND_TIMEOUT_MS = 1000;

export type AuthTokenSource = (secretArn: string) => Promise<string>;

/** ioredis options for the settings: pure, so the unit tests can check them. */
export function redisOptions(settings: RedisSettings, password?: string): RedisOptions {
  return {
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A command waits for at most one reconnect; queued commands also time out after commandTimeout.
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    // After a primary failover the old node answers READONLY: reconnect and resend (2). A WAIT blocked on a
    // primary that was just demoted answers UNBLOCKED: reconnect but do not resend (1), as the script before
    // it may have run there: the caller answers `unavailable` and the client resends with its clientMsgId.
    reconnectOnError: (error) => {
      if (error.message.startsWith('READONLY')) return 2;
      return error.message.startsWith('UNBLOCKED') ? 1 : false;
    },
    ...(settings.tls ? { tls: {} } : {}),
    ...(password ? { password } : {}),
    ...(settings.username ? { username: settings.username } : {}),
  };
}

/** Reconnect attempts of the cluster client when every node is gone, before it gives up (then recreated). */
const CLUSTER_RECONNECTS = 3;

/** ioredis cluster options for the settings: pure, so the unit tests can check them. */
export function clusterOptions(settings: RedisSettings, password?: string): ClusterOptions {
  // Per node: the same timeouts, TLS, auth and READONLY handling as the standalone client.
  const { retryStrategy: _perNodeRetry, lazyConnect: _lazy, ...perNode } = redisOptions(settings, password);
  return {
    redisOptions: perNode,
    lazyConnect: true,
    scaleReads: 'master',
    slotsRefreshTimeout: REDIS_CONNECT_TIMEOUT_MS,
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    // ElastiCache's TLS certificates name the nodes' host names: connect to those, not to looked-up IPs.
    dnsLookup: (address, callback) => callback(null, address),
    clusterRetryStrategy: (times) => (times > CLUSTER_RECONNECTS ? null : Math.min(100 * 2 ** times, 1000)),
  };
}

/** The seed node of a cluster: the configuration endpoint (REDIS_HOST/PORT) or REDIS_URL's host and port. */
export function clusterSeed(settings: RedisSettings): { host: string; port: number } {
  if (settings.url) {
    const url = new URL(settings.url);
    return { host: url.hostname, port: Number(url.port || 6379) };
  }
  return { host: settings.host as string, port: settings.port };
}

/** What the room store runs on: a standalone client or the cluster client. */
export type RedisClient = Redis | Cluster;

let shared: Promise<RedisClient> | undefined;
let current: RedisClient | undefined;

async function create(loadAuthToken?: AuthTokenSource): Promise<RedisClient> {
  const settings = redisSettings();
  let password: string | undefined;
  if (settings.authSecretArn) {
    const load = loadAuthToken ?? secretString;
    password = await load(settings.authSecretArn);
  }
  if (settings.cluster) {
    const cluster = new Cluster([clusterSeed(settings)], clusterOptions(settings, password));
    cluster.on('error', () => undefined);
    current = cluster;
    try {
      // The slot map first: without it no command can be routed. No node answering fails the start-up.
      await cluster.connect();
    } catch (error) {
      cluster.disconnect();
      throw new StoreUnavailableError(`no Redis cluster node answered: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return cluster;
  }
  const options = redisOptions(settings, password);
  const client = settings.url
    ? new Redis(settings.url, options)
    : new Redis({ ...options, host: settings.host, port: settings.port });
  // Errors surface on the commands that fail; without a listener ioredis would print each one.
  client.on('error', () => undefined);
  current = client;
  return client;
}

/**
 * The container's Redis client, created on first use (not at import, so a module loads without Redis),
 * and created anew when it gave up (a cluster client whose every node stayed away).
 */
export function getRedis(loadAuthToken?: AuthTokenSource): Promise<RedisClient> {
  if (current?.status === 'end') {
    current = undefined;
    shared = undefined;
  }
  if (!shared) {
    shared = create(loadAuthToken).catch((error: unknown) => {
      shared = undefined;
      current = undefined;
      throw error;
    });
  }
  return shared;
}

/** Closes the shared client (tests, the local emulator on reload). */
export async function closeRedis(): Promise<void> {
  const pending = shared;
  shared = undefined;
  current = undefined;
  if (pending) {
    const client = await pending.catch(() => undefined);
    client?.disconnect();
  }
}
