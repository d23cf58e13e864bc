/**
 * e2e server under test: the gateway emulator serving template.yaml with the real handlers, on Redis
 * database 2 of the benchmark's redis-server. Started by bench/run.ts as a child process. The functions run
 * in worker threads (the emulator's runtime), or in this process with BENCH_GATEWAY_RUNTIME=inProcess (the
 * former runtime: the baseline of what the isolation costs); BENCH_PREWARM_SENDMESSAGE=N starts N workers of
 * SendMessageFunction before the run (the pool as the saturated phase grows it: steady state only).
 */
import { join } from 'node:path';
import Redis from 'ioredis';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import {
  answerParent,
  BENCH_GATEWAY_RUNTIME_ENV,
  BENCH_JWT_SECRET_ENV,
  BENCH_PREWARM_ENV,
  send,
} from './protocol';

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
    inProcess: process.env[BENCH_GATEWAY_RUNTIME_ENV] === 'inProcess',
    logger: () => undefined,
    envOverrides: ({ managementEndpoint }) =>
      localFunctionEnv({ redisUrl, jwtSecret: secret, managementEndpoint }),
  });
  // The pool of the saturated phase's function grown before the run (BENCH_PREWARM_SENDMESSAGE workers).
  const prewarm = Number(process.env[BENCH_PREWARM_ENV] ?? 0);
  for (let i = 1; i < prewarm; i++) await gateway.runtime.preload('SendMessageFunction');
  // No graceful close: it would run $disconnect for every client, which is not part of the measurement.
  answerParent(
    () => process.exit(0),
    () => Object.values(gateway.runtime.stats()).reduce((sum, s) => sum + s.workers, 0),
  );
  send({ type: 'ready', url: gateway.url });
}

main().catch((error: unknown) => {
  console.error('gateway server failed:', error);
  process.exit(1);
});
