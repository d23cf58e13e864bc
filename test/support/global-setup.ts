/** Jest global setup for the suites that need Redis: one real redis-server for the whole run. */
import { startRedisServer } from './redis-server';

export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_REDIS_URL) return;
  const redis = await startRedisServer();
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __redis?: typeof redis }).__redis = redis;
}
