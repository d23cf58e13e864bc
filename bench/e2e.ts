/**
 * (5) Local stack end to end: the gateway emulator with the real handlers vs Socket.IO + redis-adapter, and
 * what running the functions in worker threads costs: the same run against the emulator with the former
 * in-process runtime (same run, same machine), then cold start and memory of a worker (bench/e2e/isolation.ts).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { generateSecret } from '../local/tokens';
import {
  BENCH_JWT_SECRET_ENV,
  ISOLATION_FUNCTIONS,
  type IsolationResult,
  type PhaseResult,
  WARM_WORKERS,
} from './e2e/protocol';
import { type E2EResult, runE2E } from './e2e/run-e2e';
import { ROOT } from './lib/bundle';
import type { Figures } from './lib/results';

export interface E2EPlan {
  clients: number;
  seconds: number;
  saturatedSeconds: number;
  thinkMs: number;
  roomSize: number;
}

const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function phaseNote(p: PhaseResult): string {
  const delivered = p.expectedDeliveries > 0 ? (100 * p.deliveriesTotal) / p.expectedDeliveries : 0;
  const errors = list(p.errors);
  return `${p.acked}/${p.sent} acked${errors ? ` (${errors})` : ''}, ${delivered.toFixed(1)}% of expected deliveries, load generator CPU ${((100 * p.loadgenCpuMs) / (p.windowSeconds * 1000)).toFixed(0)}%`;
}

function report(figures: Figures, prefix: string, label: string, r: E2EResult, plan: E2EPlan): void {
  const [paced, saturated] = r.load.phases as [PhaseResult, PhaseResult];
  const warnings = list(r.serverWarnings);
  figures.add(
    `${prefix}_p50_ms`,
    paced.latencyP50Ms,
    'ms',
    `${label}, paced (${r.load.connected}/${r.load.clients} clients, ~1 msg/s per room): delivery latency p50`,
  );
  figures.add(
    `${prefix}_p99_ms`,
    paced.latencyP99Ms,
    'ms',
    `${label}, paced: p99 (max ${paced.latencyMaxMs.toFixed(0)} ms); ${phaseNote(paced)}`,
  );
  figures.add(
    `${prefix}_paced_deliveries_per_s`,
    paced.deliveriesInWindow / paced.windowSeconds,
    '1/s',
    `${label}, paced: deliveries/s over ${plan.seconds} s`,
  );
  figures.add(
    `${prefix}_deliveries_per_s`,
    saturated.deliveriesInWindow / saturated.windowSeconds,
    '1/s',
    `${label}, saturated (one message in flight per room, ${r.load.rooms} rooms, ${plan.saturatedSeconds} s): ${phaseNote(saturated)}${warnings ? `; server warnings: ${warnings}` : ''}`,
  );
  figures.add(
    `${prefix}_saturated_p99_ms`,
    saturated.latencyP99Ms,
    'ms',
    `${label}, saturated: delivery latency p99`,
  );
  figures.add(
    `${prefix}_connect_s`,
    r.load.connectSeconds,
    's',
    `${label}: ${r.load.connected} clients connected (${r.load.connectFailed} failed), 50 handshakes at a time; join announcements then drained in ${r.load.drainSeconds.toFixed(1)} s`,
  );
  const cpu = r.serverCpuMs.saturated ?? Number.NaN;
  figures.add(
    `${prefix}_server_cpu_ms_per_1k_deliveries`,
    saturated.deliveriesInWindow > 0 ? (1000 * cpu) / saturated.deliveriesInWindow : Number.NaN,
    'ms',
    `${label}, saturated: server process CPU per 1,000 deliveries`,
  );
  if (r.serverRssMb.saturated !== undefined) {
    const workers = r.serverWorkers.saturated;
    figures.add(
      `${prefix}_server_rss_mb`,
      r.serverRssMb.saturated,
      'MB',
      `${label}: server process RSS at the end of the saturated window${workers !== undefined ? ` (${workers} function workers alive)` : ''}`,
    );
  }
}

/**
 * Workers over in-process: what the isolation costs on each figure of the run (> 1: workers cost more).
 * `isolation_*`: as the emulator runs (the pool grows during the run: cold starts included);
 * `isolation_steady_*`: with SendMessageFunction's pool grown before the run (the per-invocation cost only).
 */
function isolationRatios(figures: Figures): void {
  const get = (k: string) => figures.get(k) ?? Number.NaN;
  const ratio = (prefix: string, runPrefix: string, of: string, note: string) =>
    figures.add(`${prefix}_ratio`, get(`${runPrefix}_${of}`) / get(`e2e_inprocess_${of}`), 'x', note);
  for (const [prefix, run, what] of [
    ['isolation', 'e2e', 'workers'],
    ['isolation_steady', 'e2e_prewarmed', 'workers, pool pre-grown'],
  ] as const) {
    ratio(`${prefix}_p50`, run, 'p50_ms', `paced delivery latency p50: ${what} / in process`);
    ratio(`${prefix}_p99`, run, 'p99_ms', `paced delivery latency p99: ${what} / in process`);
    ratio(
      `${prefix}_throughput`,
      run,
      'deliveries_per_s',
      `saturated deliveries/s: ${what} / in process (< 1: fewer with workers)`,
    );
    ratio(`${prefix}_saturated_p99`, run, 'saturated_p99_ms', `saturated latency p99: ${what} / in process`);
    ratio(
      `${prefix}_cpu`,
      run,
      'server_cpu_ms_per_1k_deliveries',
      `server CPU per 1,000 deliveries (every thread): ${what} / in process`,
    );
    ratio(
      `${prefix}_rss`,
      run,
      'server_rss_mb',
      `server RSS after the saturated window: ${what} / in process`,
    );
  }
  ratio('isolation_connect', 'e2e', 'connect_s', 'time to connect every client: workers / in process');
}

function runIsolation(redisUrl: string, secret: string): Promise<IsolationResult> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(__dirname, 'e2e', 'isolation.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_REDIS_URL: redisUrl,
        [BENCH_JWT_SECRET_ENV]: secret,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.on('message', (message: { type: string; result: IsolationResult }) => {
      if (message.type === 'isolation') resolve(message.result);
    });
    child.once('exit', (code) => reject(new Error(`isolation bench exited (${code}) without a result`)));
  });
}

function reportIsolation(figures: Figures, r: IsolationResult): void {
  const short = (fn: string) => fn.replace(/Function$/, '').toLowerCase();
  for (const fn of ISOLATION_FUNCTIONS) {
    figures.add(
      `isolation_worker_cold_start_ms_${short(fn)}`,
      r.workerColdStartMs[fn] ?? Number.NaN,
      'ms',
      `${fn}: a new worker, spawn to ready (p50; bundle built; module load inside ${(r.workerInitMs[fn] ?? Number.NaN).toFixed(0)} ms)`,
    );
  }
  const [first, ...rest] = ISOLATION_FUNCTIONS;
  figures.add(
    'isolation_inprocess_first_load_ms',
    r.inProcessLoadMs[first as string] ?? Number.NaN,
    'ms',
    `former runtime: ${first} loaded first in the gateway's thread (tsx require), once per process`,
  );
  figures.add(
    'isolation_inprocess_next_load_ms',
    Math.max(...rest.map((fn) => r.inProcessLoadMs[fn] ?? Number.NaN)),
    'ms',
    `former runtime: the slowest of ${rest.join(', ')} loaded after it (layer and packages already loaded)`,
  );
  figures.add(
    'isolation_worker_cold_start_vs_inprocess_first_load',
    (r.workerColdStartMs[first as string] ?? Number.NaN) / (r.inProcessLoadMs[first as string] ?? Number.NaN),
    'x',
    `${first}: a worker's cold start / the former first load in process`,
  );
  figures.add(
    'isolation_rss_mb_per_warm_worker',
    r.perWarmWorkerMb,
    'MB',
    `RSS growth per warm worker: ${WARM_WORKERS} SendMessageFunction workers after one invocation each (${r.rssBeforeMb.toFixed(0)} → ${r.rssWarmMb.toFixed(0)} MB)`,
  );
  figures.add(
    'isolation_inprocess_rss_growth_mb',
    r.inProcessGrowthMb,
    'MB',
    `former runtime: RSS growth of loading ${ISOLATION_FUNCTIONS.join(', ')} in process and one invocation`,
  );
}

export async function runEndToEnd(figures: Figures, redisUrl: string, plan: E2EPlan): Promise<void> {
  const secret = generateSecret();
  const common = { redisUrl, secret, ...plan };
  const pattern = `${plan.clients} clients in rooms of ${plan.roomSize}: paced ${plan.seconds} s (think ${plan.thinkMs / 1000} s), saturated ${plan.saturatedSeconds} s`;
  console.log(
    `  gateway emulator serving template.yaml with the real handlers in worker threads: ${pattern}`,
  );
  const ours = await runE2E({ ...common, target: 'gateway', runtime: 'workers' });
  report(figures, 'e2e', 'emulator', ours, plan);
  console.log(`  the same with the former in-process runtime (the isolation's baseline): ${pattern}`);
  const inProcess = await runE2E({ ...common, target: 'gateway', runtime: 'inProcess' });
  report(figures, 'e2e_inprocess', 'emulator, functions in process', inProcess, plan);
  // The saturated phase keeps one message in flight per room: as many SendMessageFunction workers (cap 16).
  const prewarm = Math.min(16, Math.ceil(plan.clients / plan.roomSize));
  console.log(`  workers again, ${prewarm} SendMessageFunction workers started before the run: ${pattern}`);
  const prewarmed = await runE2E({ ...common, target: 'gateway', runtime: 'workers', prewarm });
  report(figures, 'e2e_prewarmed', `emulator, ${prewarm} sendMessage workers pre-started`, prewarmed, plan);
  isolationRatios(figures);
  console.log('  worker cold start and memory per warm worker (a fresh process)');
  reportIsolation(figures, await runIsolation(redisUrl, secret));
  console.log(`  Socket.IO + @socket.io/redis-adapter: ${pattern}`);
  const sio = await runE2E({ ...common, target: 'socketio' });
  report(figures, 'socketio', 'Socket.IO', sio, plan);
  const get = (k: string) => figures.get(k) ?? Number.NaN;
  figures.add(
    'e2e_vs_socketio_p99',
    get('e2e_p99_ms') / get('socketio_p99_ms'),
    'x',
    'paced p99: emulator / Socket.IO',
  );
  figures.add(
    'e2e_vs_socketio_deliveries',
    get('e2e_deliveries_per_s') / get('socketio_deliveries_per_s'),
    'x',
    'saturated deliveries/s: emulator / Socket.IO',
  );
}
