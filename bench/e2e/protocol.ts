/** Messages between the benchmark orchestrator and its e2e child processes (over the IPC channel). */

export type ServerToParent =
  | { type: 'ready'; url: string }
  | { type: 'cpu'; userMs: number; systemMs: number };
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

/** Posts this process's CPU time to the parent when asked; exits on `stop`. */
export function answerParent(onStop: () => void): void {
  process.on('message', (message: ParentToServer) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', userMs: usage.user / 1000, systemMs: usage.system / 1000 });
    } else if (message.type === 'stop') {
      onStop();
    }
  });
  process.on('disconnect', onStop);
}
