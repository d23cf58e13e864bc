import type { LocalRedisCluster } from '../../local/redis-cluster';

export default async function clusterGlobalTeardown(): Promise<void> {
  const holder = globalThis as { __redisCluster?: LocalRedisCluster };
  const cluster = holder.__redisCluster;
  holder.__redisCluster = undefined;
  await cluster?.stop();
}
