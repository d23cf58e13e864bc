/**
 * The `containers` target's infrastructure: Redis and LocalStack (SQS) from testcontainers, pinned images,
 * and a synchronous probe for a container runtime (tests are registered synchronously).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Pinned images (override with REDIS_IMAGE / LOCALSTACK_IMAGE). */
export const REDIS_IMAGE = process.env.REDIS_IMAGE ?? 'redis:7.4.2-alpine';
export const LOCALSTACK_IMAGE = process.env.LOCALSTACK_IMAGE ?? 'localstack/localstack:4.4.0';

const PROBE_KEY = 'INTEGRATION_CONTAINER_RUNTIME_PROBE';

/** Whether testcontainers finds a container runtime; probed once per process in a child process. */
export function containerRuntimeUnavailable(): string | undefined {
  let probe = process.env[PROBE_KEY];
  if (probe === undefined) {
    const script =
      "require('testcontainers').getContainerRuntimeClient().then(() => process.exit(0), (e) => { process.stderr.write(String(e && e.message)); process.exit(1); })";
    const result = spawnSync(process.execPath, ['-e', script], {
      cwd: join(__dirname, '..', '..'),
      encoding: 'utf8',
      timeout: 30_000,
    });
    probe =
      result.status === 0
        ? 'ok'
        : `no container runtime (testcontainers: ${(result.stderr || result.error?.message || 'probe failed').trim().split('\n')[0]})`;
    process.env[PROBE_KEY] = probe;
  }
  return probe === 'ok' ? undefined : probe;
}

export interface Containers {
  redisUrl: string;
  sqsEndpoint: string;
  stop(): Promise<void>;
}

/** Starts Redis and LocalStack (SQS only; LOCALSTACK_AUTH_TOKEN passed through when set). */
export async function startContainers(): Promise<Containers> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const redis = await new GenericContainer(REDIS_IMAGE)
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .withStartupTimeout(60_000)
    .start();
  try {
    const environment: Record<string, string> = { SERVICES: 'sqs', EAGER_SERVICE_LOADING: '1' };
    if (process.env.LOCALSTACK_AUTH_TOKEN)
      environment.LOCALSTACK_AUTH_TOKEN = process.env.LOCALSTACK_AUTH_TOKEN;
    const localstack = await new LocalstackContainer(LOCALSTACK_IMAGE).withEnvironment(environment).start();
    return {
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      sqsEndpoint: localstack.getConnectionUri(),
      async stop() {
        await localstack.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}
