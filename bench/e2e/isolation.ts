/**
 * What running the functions in worker threads costs apart from the traffic (bench [5]), in a fresh child
 * process of bench/run.ts (`node --expose-gc --import tsx`), against database 3 of the benchmark's
 * redis-server, with the real template.yaml and the local environment:
 *
 * - cold start of a worker: from `preload()` to the worker's ready (thread, bootstrap, the bundled handler
 *   loaded), per function, the handler's bundle already built; `initMs` is the module load inside it;
 * - the same functions' first load in process (the former runtime: `require()` through tsx in the gateway's
 *   own thread), the first one and the following ones (which find the layer and packages loaded);
 * - memory per warm worker: the process's RSS growth for `WARM_WORKERS` workers of SendMessageFunction,
 *   each having run one invocation (its Redis client connected), over the RSS before any worker.
 */
import { join } from 'node:path';
import { localFunctionEnv } from '../../local/function-env';
import { FunctionRuntime } from '../../local/lambda-runtime';
import { loadTemplate } from '../../local/template';
import { median } from '../lib/stats';
import {
  BENCH_JWT_SECRET_ENV,
  ISOLATION_FUNCTIONS,
  type IsolationResult,
  send,
  WARM_WORKERS,
} from './protocol';

const COLD_STARTS = 7;

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const rssMb = () => {
  gc();
  return process.memoryUsage().rss / 2 ** 20;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const template = loadTemplate(join(__dirname, '..', '..', 'template.yaml'));
  const env = localFunctionEnv({
    redisUrl: `${process.env.BENCH_REDIS_URL as string}/3`,
    jwtSecret: process.env[BENCH_JWT_SECRET_ENV] as string,
    managementEndpoint: 'http://127.0.0.1:9/bench',
  });
  const event = JSON.parse(
    await import('node:fs').then((fs) =>
      fs.readFileSync(join(__dirname, '..', '..', 'events', 'send-message.json'), 'utf8'),
    ),
  ) as unknown;

  // Workers: memory first (a clean process), then cold starts.
  const initLines: { fn: string; ms: number }[] = [];
  const workers = new FunctionRuntime({
    functions: template.functions,
    envOverrides: env,
    maxConcurrency: WARM_WORKERS + COLD_STARTS + 2,
    maxConcurrentInits: 1,
    log: (line) => {
      const m = /^cold start (\S+): worker \d+ ready in (\d+) ms/.exec(line);
      if (m) initLines.push({ fn: m[1] as string, ms: Number(m[2]) });
    },
  });
  // The bundles (built or read from the cache) and one worker each, outside the measurements.
  for (const fn of ISOLATION_FUNCTIONS) await workers.preload(fn);
  await workers.close();
  await sleep(500);

  const memory = new FunctionRuntime({
    functions: template.functions,
    envOverrides: env,
    maxConcurrency: WARM_WORKERS,
    log: () => {},
  });
  const rssBefore = rssMb();
  for (let i = 0; i < WARM_WORKERS; i++) await memory.preload('SendMessageFunction');
  // One invocation per worker (all idle: each invocation takes another one).
  await Promise.all(Array.from({ length: WARM_WORKERS }, () => memory.invoke('SendMessageFunction', event)));
  await sleep(1000);
  const rssWarm = rssMb();
  const stats = memory.stats().SendMessageFunction;
  if (stats?.workers !== WARM_WORKERS)
    throw new Error(`expected ${WARM_WORKERS} workers: ${JSON.stringify(stats)}`);
  await memory.close();
  await sleep(500);

  const cold = new FunctionRuntime({
    functions: template.functions,
    envOverrides: env,
    maxConcurrency: COLD_STARTS + 1,
    maxConcurrentInits: 1,
    log: (line) => {
      const m = /^cold start (\S+): worker \d+ ready in (\d+) ms/.exec(line);
      if (m) initLines.push({ fn: m[1] as string, ms: Number(m[2]) });
    },
  });
  const workerColdStartMs: Record<string, number> = {};
  const workerInitMs: Record<string, number> = {};
  for (const fn of ISOLATION_FUNCTIONS) {
    await cold.preload(fn); // the bundle in memory
    initLines.length = 0;
    const times: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      const started = performance.now();
      await cold.preload(fn);
      times.push(performance.now() - started);
    }
    workerColdStartMs[fn] = median(times);
    workerInitMs[fn] = median(initLines.filter((l) => l.fn === fn).map((l) => l.ms));
  }
  await cold.close();

  // The former runtime, in this thread (tsx's require hook; the process was started with --import tsx).
  const rssBeforeInProcess = rssMb();
  const inProcess = new FunctionRuntime({
    functions: template.functions,
    envOverrides: env,
    inProcess: true,
    log: () => {},
  });
  inProcess.applyEnvironment();
  const inProcessLoadMs: Record<string, number> = {};
  for (const fn of ISOLATION_FUNCTIONS) {
    const started = performance.now();
    await inProcess.preload(fn);
    inProcessLoadMs[fn] = performance.now() - started;
  }
  await inProcess.invoke('SendMessageFunction', event);
  await sleep(1000);
  const inProcessGrowthMb = rssMb() - rssBeforeInProcess;

  const result: IsolationResult = {
    workerColdStartMs,
    workerInitMs,
    inProcessLoadMs,
    rssBeforeMb: rssBefore,
    rssWarmMb: rssWarm,
    perWarmWorkerMb: (rssWarm - rssBefore) / WARM_WORKERS,
    inProcessGrowthMb,
  };
  send({ type: 'isolation', result });
  // The in-process functions' Redis client would hold the process open.
  setTimeout(() => process.exit(0), 200);
}

main().catch((error: unknown) => {
  console.error('isolation bench failed:', error);
  process.exit(1);
});
