/**
 * Load run against an in-process stack (a real redis-server, the gateway emulator serving template.yaml
 * with the real handlers, real `ws` clients), not part of the test run:
 *
 *   npx tsx integration/load.ts --connections 1000 --rooms 50 --seconds 20 [--rate 50]
 *
 * Opens the connections spread over the rooms, then for `--seconds` sends `--rate` messages per second
 * in total from random connections (each with a clientMsgId), and prints: connections opened/failed,
 * messages sent/acked, deliveries expected/received, errors, ack and delivery latency (p50/p99/max),
 * deliveries out of seq order (concurrent senders in a room may race; clients order by seq), and the process's memory (everything runs in this one process).
 */
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { localFunctionEnv } from '../local/function-env';
import { Gateway } from '../local/gateway';
import { generateSecret, mintToken } from '../local/tokens';
import { startRedisServer } from '../test/support/redis-server';
import { type Frame, TestClient } from './support/client';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '50' },
  },
});
const CONNECTIONS = Number(values.connections);
const ROOMS = Number(values.rooms);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const CONCURRENCY = Number(values.concurrency);
for (const [name, value] of Object.entries({ CONNECTIONS, ROOMS, SECONDS, RATE, CONCURRENCY })) {
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name.toLowerCase()} must be a positive number`);
}

interface Member {
  client: TestClient;
  room: string;
  index: number;
  lastSeq: number;
}

const stats = {
  connectFailed: 0,
  connectMs: [] as number[],
  sent: 0,
  acked: 0,
  expectedDeliveries: 0,
  delivered: 0,
  errorFrames: new Map<string, number>(),
  unexpectedCloses: 0,
  outOfOrder: 0,
  ackMs: [] as number[],
  deliveryMs: [] as number[],
  sdkWarnings: 0,
};
type Phase = 'connect' | 'send' | 'close';
let phase: Phase = 'connect';
/** Per phase: gateway invocations (authorizer, routes, $disconnect), failures, slowest. */
const invocations: Record<Phase, { count: number; failed: number; maxMs: number; firstFailures: string[] }> =
  {
    connect: { count: 0, failed: 0, maxMs: 0, firstFailures: [] },
    send: { count: 0, failed: 0, maxMs: 0, firstFailures: [] },
    close: { count: 0, failed: 0, maxMs: 0, firstFailures: [] },
  };

/**
 * One gateway log line per invocation: `trigger function connectionId status NNms`, with
 * `(queued N ms: why)` before the status when it waited for a worker.
 */
function onGatewayLine(line: string): void {
  const match = /^(\S+) (\S+) (\S+) (?:\(queued [^)]*\) )?(.+) (\d+)ms$/.exec(line);
  if (!match) return;
  const [, trigger, , , status, ms] = match;
  const bucket = invocations[phase];
  bucket.count++;
  bucket.maxMs = Math.max(bucket.maxMs, Number(ms));
  const ok = status === '200' || status === 'Allow';
  if (!ok) {
    bucket.failed++;
    if (bucket.firstFailures.length < 3) bucket.firstFailures.push(`${trigger} ${status} ${ms}ms`);
  }
}
const memory = { peakRss: 0, peakHeap: 0 };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(1)} ms`);
  return `p50 ${f(percentile(sorted, 50))}  p99 ${f(percentile(sorted, 99))}  max ${f(sorted.at(-1) ?? Number.NaN)}  (n=${sorted.length})`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function sampleMemory(): NodeJS.MemoryUsage {
  const usage = process.memoryUsage();
  memory.peakRss = Math.max(memory.peakRss, usage.rss);
  memory.peakHeap = Math.max(memory.peakHeap, usage.heapUsed);
  return usage;
}

async function main(): Promise<void> {
  // The SDK's own warnings (request timeouts, socket pool at capacity) are counted, not printed per request.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (String(args[0]).includes('@smithy/')) stats.sdkWarnings++;
    else warn(...args);
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const memStart = sampleMemory();
  const memTimer = setInterval(sampleMemory, 250);
  const redis = await startRedisServer();
  const secret = generateSecret();
  const gateway = await Gateway.start({
    templatePath: join(__dirname, '..', 'template.yaml'),
    port: 0,
    host: '127.0.0.1',
    stage: 'local',
    logger: onGatewayLine,
    envOverrides: () => localFunctionEnv({ redisUrl: redis.url, jwtSecret: secret }),
  });
  const run = Date.now().toString(36);
  const rooms = Array.from({ length: ROOMS }, (_, i) => `load-${run}-${i}`);
  const members: Member[] = [];
  const byRoom = new Map<string, Member[]>(rooms.map((r) => [r, []]));
  const pendingAcks = new Map<string, number>();
  let closing = false;

  console.log(
    `load: ${CONNECTIONS} connections over ${ROOMS} rooms, ${RATE} messages/s for ${SECONDS} s, gateway ${gateway.url}`,
  );
  const connectStarted = performance.now();
  let nextIndex = 0;
  const opener = async () => {
    while (nextIndex < CONNECTIONS) {
      const index = nextIndex++;
      const room = rooms[index % ROOMS] as string;
      const userId = `u${index}`;
      const token = await mintToken(secret, { userId, name: `User ${index}`, rooms: [room] });
      const started = performance.now();
      try {
        const client = await TestClient.connect(
          `${gateway.url}?classRoomId=${encodeURIComponent(room)}&token=${token}`,
          userId,
          15_000,
        );
        stats.connectMs.push(performance.now() - started);
        const m: Member = { client, room, index, lastSeq: 0 };
        members.push(m);
        (byRoom.get(room) as Member[]).push(m);
        client.ws.on('message', (raw: Buffer) => onFrame(m, raw));
        void client.closed.then(() => {
          if (!closing) stats.unexpectedCloses++;
        });
      } catch (error) {
        stats.connectFailed++;
        if (stats.connectFailed <= 5) console.error(`connect ${userId}: ${(error as Error).message}`);
      }
    }
  };
  const onFrame = (m: Member, raw: Buffer) => {
    const now = performance.now();
    let frame: Frame;
    try {
      frame = JSON.parse(raw.toString('utf8')) as Frame;
    } catch {
      return;
    }
    // Keep memory flat: the load does not need the client's frame log.
    m.client.frames.length = 0;
    if (frame.type === 'message') {
      stats.delivered++;
      const data = frame.data as { t: number };
      stats.deliveryMs.push(now - data.t);
      const seq = frame.seq as number;
      if (seq <= m.lastSeq) stats.outOfOrder++;
      m.lastSeq = seq;
    } else if (frame.type === 'ack') {
      const sentAt = pendingAcks.get(frame.clientMsgId as string);
      if (sentAt !== undefined) {
        pendingAcks.delete(frame.clientMsgId as string);
        stats.acked++;
        stats.ackMs.push(now - sentAt);
      }
    } else if (frame.type === 'error' || frame.message === 'Internal server error') {
      const code = String(frame.code ?? frame.message);
      stats.errorFrames.set(code, (stats.errorFrames.get(code) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, opener));
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  const memConnected = sampleMemory();
  console.log(
    `connected ${members.length}/${CONNECTIONS} in ${connectSeconds.toFixed(1)} s (${stats.connectFailed} failed); handshake ${summary(stats.connectMs)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // join announcements settle

  const sendStarted = performance.now();
  const cpuStart = process.cpuUsage();
  let counter = 0;
  phase = 'send';
  loopDelay.enable();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - sendStarted) / 1000;
      if (elapsed >= SECONDS) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor(elapsed * RATE);
      while (stats.sent < due && members.length > 0) {
        const m = members[Math.floor(Math.random() * members.length)] as Member;
        if (!m.client.isOpen) {
          stats.sent++; // counted as sent and never acked
          continue;
        }
        const clientMsgId = `m${counter++}`;
        const t = performance.now();
        pendingAcks.set(clientMsgId, t);
        stats.expectedDeliveries += (byRoom.get(m.room) as Member[]).filter(
          (o) => o !== m && o.client.isOpen,
        ).length;
        stats.sent++;
        m.client.send({ action: 'sendMessage', kind: 'chat', data: { t, n: counter }, clientMsgId });
      }
    }, 10);
  });
  const sendSeconds = (performance.now() - sendStarted) / 1000;
  // Drain: wait (bounded) for the outstanding acks and deliveries.
  const drainUntil = Date.now() + 10_000;
  while ((pendingAcks.size > 0 || stats.delivered < stats.expectedDeliveries) && Date.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const cpu = process.cpuUsage(cpuStart);
  loopDelay.disable();
  const memEnd = sampleMemory();
  closing = true;
  phase = 'close';
  // Every client closes at once (the end of every class), then the gateway waits for the $disconnects.
  const closeStarted = performance.now();
  await Promise.all(members.map((m) => m.client.close()));
  await gateway.close();
  const closeSeconds = (performance.now() - closeStarted) / 1000;
  clearInterval(memTimer);
  await redis.stop();

  const errors = [...stats.errorFrames].map(([code, n]) => `${code}=${n}`).join(' ') || 'none';
  const lines = [
    '',
    '== load results',
    `connections      ${members.length} open of ${CONNECTIONS} (${stats.connectFailed} failed) over ${ROOMS} rooms; opened in ${connectSeconds.toFixed(1)} s`,
    `handshake        ${summary(stats.connectMs)}`,
    `messages         sent ${stats.sent} in ${sendSeconds.toFixed(1)} s (${(stats.sent / sendSeconds).toFixed(0)}/s), acked ${stats.acked}, unacked ${pendingAcks.size}`,
    `deliveries       received ${stats.delivered} of ${stats.expectedDeliveries} expected (${((100 * stats.delivered) / Math.max(1, stats.expectedDeliveries)).toFixed(2)}%), ${(stats.delivered / sendSeconds).toFixed(0)}/s`,
    `errors           error frames: ${errors}; unexpected closes ${stats.unexpectedCloses}; out-of-order deliveries ${stats.outOfOrder}`,
    ...(['connect', 'send', 'close'] as const).map((p) => {
      const b = invocations[p];
      const first = b.firstFailures.length ? ` e.g. ${b.firstFailures.join(', ')}` : '';
      return `invocations/${p.padEnd(7)} ${b.count} (failed ${b.failed}, slowest ${b.maxMs} ms)${first}`;
    }),
    `close phase      ${members.length} clients closed at once, gateway closed after ${closeSeconds.toFixed(1)} s; SDK warnings (request timeout / pool at capacity) ${stats.sdkWarnings}`,
    `event loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms during sending`,
    `ack latency      ${summary(stats.ackMs)}`,
    `delivery latency ${summary(stats.deliveryMs)}`,
    `cpu              user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s during ${sendSeconds.toFixed(1)} s of sending`,
    `memory (process) rss start ${mb(memStart.rss)}, connected ${mb(memConnected.rss)}, end ${mb(memEnd.rss)}, peak ${mb(memory.peakRss)}; heap used peak ${mb(memory.peakHeap)}`,
    '',
  ];
  console.log(lines.join('\n'));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
