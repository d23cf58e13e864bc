/**
 * Jest global setup of the cluster targets (projects `handlers-cluster` and `integration-cluster`): one
 * local Redis Cluster (local/redis-cluster.ts: 3 masters + 3 replicas of redis-server) for the whole run,
 * shared by both projects. Its seed URL goes to TEST_CLUSTER_URL, a name of its own: global setups of every
 * project run in the one jest process before any test, so the standalone projects' TEST_REDIS_URL must not
 * be overwritten. Each test file of a cluster project maps it to TEST_REDIS_URL + TEST_REDIS_CLUSTER=true
 * (test/support/cluster-target.ts).
 *
 * REDIS_URL with REDIS_CLUSTER=true (a cluster you run) is used instead of starting one.
 */
import { parseRedisCluster } from '../../local/function-env';
import { type LocalRedisCluster, startRedisCluster } from '../../local/redis-cluster';

export default async function clusterGlobalSetup(): Promise<void> {
  if (process.env.TEST_CLUSTER_URL) return; // the other cluster project of this run started it
  if (process.env.REDIS_URL && parseRedisCluster(process.env.REDIS_CLUSTER)) {
    process.env.TEST_CLUSTER_URL = process.env.REDIS_URL;
    console.log(`\n[cluster target] REDIS_URL with REDIS_CLUSTER=true: ${process.env.REDIS_URL}`);
    return;
  }
  const started = Date.now();
  const cluster = await startRedisCluster();
  process.env.TEST_CLUSTER_URL = cluster.url;
  (globalThis as { __redisCluster?: LocalRedisCluster }).__redisCluster = cluster;
  console.log(
    [
      `\n[cluster target] local Redis Cluster, ${cluster.masters().length} masters + ${cluster.replicas().length} replicas, ready in ${Date.now() - started} ms:`,
      ...cluster.describe().map((line) => `  ${line}`),
    ].join('\n'),
  );
}
