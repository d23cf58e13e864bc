/** (5) Local stack end to end: the gateway emulator with the real handlers vs Socket.IO + redis-adapter. */
import { generateSecret } from '../local/tokens';
import type { PhaseResult } from './e2e/protocol';
import { type E2EResult, runE2E } from './e2e/run-e2e';
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
}

export async function runEndToEnd(figures: Figures, redisUrl: string, plan: E2EPlan): Promise<void> {
  const secret = generateSecret();
  const common = { redisUrl, secret, ...plan };
  const pattern = `${plan.clients} clients in rooms of ${plan.roomSize}: paced ${plan.seconds} s (think ${plan.thinkMs / 1000} s), saturated ${plan.saturatedSeconds} s`;
  console.log(`  gateway emulator serving template.yaml with the real handlers: ${pattern}`);
  const ours = await runE2E({ ...common, target: 'gateway' });
  report(figures, 'e2e', 'emulator', ours, plan);
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
