/**
 * Where the local stack gets its Redis: REDIS_URL when set; else a redis-server from PATH on a free port;
 * else a Redis container through testcontainers when a container runtime answers; else a clear error.
 */
import { hasRedisServer, startRedisServer } from '../test/support/redis-server';
import { userRedisUrl } from './function-env';

export interface LocalRedis {
  url: string;
  /** How it was obtained, for the banner. */
  origin: string;
  stop(): Promise<void>;
}

export const REDIS_IMAGE = 'redis:7.4-alpine';

export async function localRedis(): Promise<LocalRedis> {
  const url = userRedisUrl();
  if (url) return { url, origin: 'REDIS_URL', stop: async () => undefined };
  if (hasRedisServer()) {
    const server = await startRedisServer();
    return { url: server.url, origin: `redis-server (pid ${server.process.pid})`, stop: () => server.stop() };
  }
  const container = await tryContainer();
  if (container) return container;
  throw new Error(
    [
      'No Redis available. Any one of these works:',
      '  - set REDIS_URL=redis://127.0.0.1:6379 to use a Redis you run;',
      '  - install redis-server (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis);',
      '  - start Docker or Podman, so a Redis container can be started.',
    ].join('\n'),
  );
}

async function tryContainer(): Promise<LocalRedis | undefined> {
  try {
    const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    const container = await new GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      origin: `container ${REDIS_IMAGE}`,
      stop: async () => {
        await container.stop();
      },
    };
  } catch {
    return undefined;
  }
}
