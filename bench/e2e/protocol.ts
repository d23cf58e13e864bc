/** Messages between the benchmark orchestrator and its e2e child processes (over the IPC channel). */

export type ServerToParent =
  | { type: 'ready'; url: string }
  /** CPU of the whole process (every thread: the gateway's workers too), its RSS, live function workers. */
  | { type: 'cpu'; userMs: number; systemMs: number; rssBytes: number; workers?: number };
export type ParentToServer = { type: 'cpu' } | { type: 'stop' };

export interface PhaseResult {
  phase: 'paced' | 'saturated';
  windowSeconds: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  expectedDeliveries: number;
  deliveriesInWindow: number;
  deliveriesTotal: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** CPU time of the load generator during the window (to see whether it, not the server, was the limit). */
  loadgenCpuMs: number;
}

export interface LoadResult {
  target: string;
  clients: number;
  rooms: number;
  connected: number;
  connectFailed: number;
  connectSeconds: number;
  /** Seconds from all connected until the join announcements stopped arriving. */
  drainSeconds: number;
  phases: PhaseResult[];
}

export type LoadToParent =
  | { type: 'window-start'; phase: string }
  | { type: 'window-end'; phase: string }
  | { type: 'result'; result: LoadResult };

/** The shared secret both servers verify tokens with (the load generator mints them). */
export const BENCH_JWT_SECRET_ENV = 'BENCH_JWT_SECRET';

export function send(message: unknown): void {
  process.send?.(message);
}

/** The gateway server's runtime: `workers` (the emulator's default) or `inProcess` (the former runtime). */
export const BENCH_GATEWAY_RUNTIME_ENV = 'BENCH_GATEWAY_RUNTIME';
/** Workers of SendMessageFunction the gateway server starts before the run (the pool pre-grown). */
export const BENCH_PREWARM_ENV = 'BENCH_PREWARM_SENDMESSAGE';

/** Posts this process's CPU time and RSS to the parent when asked (`workers`: live function workers); exits on `stop`. */
export function answerParent(onStop: () => void, workers?: () => number): void {
  process.on('message', (message: ParentToServer) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({
        type: 'cpu',
        userMs: usage.user / 1000,
        systemMs: usage.system / 1000,
        rssBytes: process.memoryUsage().rss,
        workers: workers?.(),
      });
    } else if (message.type === 'stop') {
      onStop();
    }
  });
  process.on('disconnect', onStop);
}

// ---- bench/e2e/isolation.ts -------------------------------------------------------------------------

export const ISOLATION_FUNCTIONS = ['AuthorizerFunction', 'ConnectFunction', 'SendMessageFunction'];
export const WARM_WORKERS = 8;

export interface IsolationResult {
  /** Per function: cold start of a worker (p50 ms, spawn to ready) and the module load inside it (p50 ms). */
  workerColdStartMs: Record<string, number>;
  workerInitMs: Record<string, number>;
  /** Per function, in the order loaded: first load in process (ms). */
  inProcessLoadMs: Record<string, number>;
  rssBeforeMb: number;
  rssWarmMb: number;
  perWarmWorkerMb: number;
  /** RSS growth of loading the same functions once in process and invoking SendMessageFunction once. */
  inProcessGrowthMb: number;
}
