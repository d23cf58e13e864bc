/**
 * e2e server under test: the gateway emulator serving template.yaml with the real handlers in this
 * process, on Redis database 2 of the benchmark's redis-server. Started by bench/run.ts as a child process.
 */
import { join } from 'node:path';
import Redis from 'ioredis';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import { answerParent, BENCH_JWT_SECRET_ENV, send } from './protocol';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  const redisUrl = `${process.env.BENCH_REDIS_URL as string}/2`;
  const secret = process.env[BENCH_JWT_SECRET_ENV] as string;
  const flush = new Redis(redisUrl);
  await flush.flushdb();
  flush.disconnect();
  const gateway = await Gateway.start({
    templatePath: join(__dirname, '..', '..', 'template.yaml'),
    port: 0,
    stage: 'bench',
    preload: true,
    logger: () => undefined,
    envOverrides: ({ managementEndpoint }) =>
      localFunctionEnv({ redisUrl, jwtSecret: secret, managementEndpoint }),
  });
  // No graceful close: it would run $disconnect for every client, which is not part of the measurement.
  answerParent(() => process.exit(0));
  send({ type: 'ready', url: gateway.url });
}

main().catch((error: unknown) => {
  console.error('gateway server failed:', error);
  process.exit(1);
});
