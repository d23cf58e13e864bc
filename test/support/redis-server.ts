/**
 * A real `redis-server` on a free loopback port for tests: the implementation lives in local/redis-server.ts
 * (the dev server and the local Redis Cluster use it too, and local/ imports nothing from test/).
 */
export {
  freePort,
  hasRedisServer,
  portFree,
  type RedisProcess,
  type RedisServerOptions,
  startRedisServer,
  stopChild,
} from '../../local/redis-server';
