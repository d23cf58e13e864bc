/**
 * Where the local stack gets its Redis:
 * - REDIS_URL when set (a Redis Cluster when REDIS_CLUSTER=true too: the functions use the cluster client);
 * - REDIS_CLUSTER=true without REDIS_URL: a local Redis Cluster of redis-server processes (3 masters,
 *   1 replica each: local/redis-cluster.ts);
 * - else a redis-server from PATH on a free port;
 * - else a Redis container through testcontainers when a container runtime answers; else a clear error.
 */
import { userRedisCluster, userRedisUrl } from './function-env';
import { clusterToolsMissing, startRedisCluster } from './redis-cluster';
import { hasRedisServer, REDIS_INSTALL_HINT, startRedisServer } from './redis-server';

export interface LocalRedis {
  url: string;
  /** Whether `url` is a Redis Cluster (the functions get REDIS_CLUSTER=true). */
  cluster: boolean;
  /** How it was obtained, for the banner. */
  origin: string;
  /** More lines for the banner (a local cluster's nodes). */
  details: string[];
  stop(): Promise<void>;
}

export const REDIS_IMAGE = 'redis:7.4-alpine';

export async function localRedis(): Promise<LocalRedis> {
  const url = userRedisUrl();
  const cluster = userRedisCluster();
  if (url)
    return {
      url,
      cluster,
      origin: cluster ? 'REDIS_URL, a cluster: REDIS_CLUSTER=true' : 'REDIS_URL',
      details: [],
      stop: async () => undefined,
    };
  if (cluster) return localCluster();
  if (hasRedisServer()) {
    const server = await startRedisServer();
    return {
      url: server.url,
      cluster: false,
      origin: `redis-server (pid ${server.process.pid})`,
      details: [],
      stop: () => server.stop(),
    };
  }
  const container = await tryContainer();
  if (container) return container;
  throw new Error(
    [
      'No Redis available. Any one of these works:',
      '  - set REDIS_URL=redis://127.0.0.1:6379 to use a Redis you run;',
      `  - install redis-server (${REDIS_INSTALL_HINT});`,
      '  - start Docker or Podman, so a Redis container can be started.',
    ].join('\n'),
  );
}

/** REDIS_CLUSTER=true without REDIS_URL: a local Redis Cluster of redis-server processes. */
async function localCluster(): Promise<LocalRedis> {
  const missing = clusterToolsMissing();
  if (missing)
    throw new Error(
      [
        `REDIS_CLUSTER=true without REDIS_URL starts a local Redis Cluster, but ${missing}.`,
        'Or point REDIS_URL at a cluster node you run (REDIS_URL=redis://HOST:PORT REDIS_CLUSTER=true).',
      ].join('\n'),
    );
  const started = Date.now();
  const cluster = await startRedisCluster();
  return {
    url: cluster.url,
    cluster: true,
    origin: `a local Redis Cluster (REDIS_CLUSTER=true): ${cluster.masters().length} masters + ${cluster.replicas().length} replicas of redis-server, ready in ${Date.now() - started} ms`,
    details: cluster.describe(),
    stop: () => cluster.stop(),
  };
}

async function tryContainer(): Promise<LocalRedis | undefined> {
  try {
    const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    const container = await new GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      cluster: false,
      origin: `container ${REDIS_IMAGE}`,
      details: [],
      stop: async () => {
        await container.stop();
      },
    };
  } catch {
    return undefined;
  }
}
