/**
 * The Redis of a local test stack (test/support/local-stack.ts, the integration suite's local target), in
 * this order:
 * 1. the jest run's cluster target: TEST_REDIS_URL with TEST_REDIS_CLUSTER=true (the handlers-cluster and
 *    integration-cluster projects set them: test/support/cluster-target.ts), shared, left running;
 * 2. REDIS_URL as the user set it, a cluster when REDIS_CLUSTER=true (left running);
 * 3. REDIS_CLUSTER=true without REDIS_URL: a local Redis Cluster of its own (local/redis-cluster.ts);
 * 4. else a redis-server of its own on a free port.
 */
import { parseRedisCluster, userRedisCluster, userRedisUrl } from '../../local/function-env';
import { startRedisCluster } from '../../local/redis-cluster';
import { startRedisServer } from '../../local/redis-server';

export interface StackRedis {
  url: string;
  /** Whether `url` is a Redis Cluster (the functions get REDIS_CLUSTER=true). */
  cluster: boolean;
  /** Stops what was started for the stack (nothing for a shared or user-given Redis). */
  stop(): Promise<void>;
}

/** The jest run's cluster target, when this test file runs on it. */
export function testClusterUrl(): string | undefined {
  const url = process.env.TEST_REDIS_URL;
  return url && parseRedisCluster(process.env.TEST_REDIS_CLUSTER, 'TEST_REDIS_CLUSTER') ? url : undefined;
}

export async function stackRedis(): Promise<StackRedis> {
  const shared = testClusterUrl();
  if (shared) return { url: shared, cluster: true, stop: async () => undefined };
  const external = userRedisUrl();
  if (external) return { url: external, cluster: userRedisCluster(), stop: async () => undefined };
  if (userRedisCluster()) {
    const cluster = await startRedisCluster();
    return { url: cluster.url, cluster: true, stop: () => cluster.stop() };
  }
  const server = await startRedisServer();
  return { url: server.url, cluster: false, stop: () => server.stop() };
}
