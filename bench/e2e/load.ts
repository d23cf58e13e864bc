/**
 * e2e load generator (a child process of bench/run.ts, so clients and server do not share an event loop).
 * N clients in rooms of R; delivery latency = receive time minus the send time carried in the message
 * (both read from this process's monotonic clock). Two phases on the same connections:
 *   paced      every client in a closed loop: send a chat message, wait for its ack, think a random
 *              0.5-1.5 x --think-ms, again (default 30 s: a room of 30 sends about one message a second);
 *   saturated  one message in flight per room, back to back, the sender rotating through the room's
 *              members: the most the server delivers with bounded queues.
 * The same pattern runs against either server:
 *   --target gateway   the emulator: ws://…/STAGE?classRoomId=…&token=… and {"action":"sendMessage",…}
 *   --target socketio  Socket.IO: auth.token, query.classRoomId, emit('sendMessage', body, ack)
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { mintToken } from '../../local/tokens';
import { percentile, sleep } from '../lib/stats';
import { BENCH_JWT_SECRET_ENV, type LoadResult, type PhaseResult, send } from './protocol';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    url: { type: 'string' },
    clients: { type: 'string', default: '200' },
    'room-size': { type: 'string', default: '30' },
    seconds: { type: 'string', default: '5' },
    'saturated-seconds': { type: 'string', default: '3' },
    'think-ms': { type: 'string', default: '30000' },
    'connect-concurrency': { type: 'string', default: '50' },
  },
});
const TARGET = values.target as 'gateway' | 'socketio';
const URL_ = values.url as string;
const CLIENTS = Number(values.clients);
const ROOM_SIZE = Number(values['room-size']);
const SECONDS = Number(values.seconds);
const SATURATED_SECONDS = Number(values['saturated-seconds']);
const THINK_MS = Number(values['think-ms']);
const CONNECT_CONCURRENCY = Number(values['connect-concurrency']);
const ACK_TIMEOUT_MS = 15_000;
const DRAIN_MS = 5_000;
const QUIET_MS = 1_000;
const WARMUP_MESSAGES_PER_ROOM = 5;
const TEXT = 'The quick brown fox jumps over the lazy dog, again and again, for the benchmark.';

interface MessageFrame {
  type: string;
  data?: { t?: number; p?: number };
}

interface Client {
  room: number;
  roomSize: number;
  /** Resolves with 'ack' or the error code (or 'timeout'). */
  send(clientMsgId: string, data: unknown): Promise<string>;
  close(): void;
}

class Phase {
  sent = 0;
  acked = 0;
  expected = 0;
  deliveriesInWindow = 0;
  deliveriesTotal = 0;
  readonly errors: Record<string, number> = {};
  readonly latencies: number[] = [];
  readonly acks: number[] = [];
  start = Number.POSITIVE_INFINITY;
  end = Number.POSITIVE_INFINITY;

  constructor(
    readonly id: number,
    readonly name: PhaseResult['phase'],
    readonly seconds: number,
  ) {}

  delivered(t: number): void {
    const now = performance.now();
    this.deliveriesTotal++;
    if (now >= this.start && now <= this.end) this.deliveriesInWindow++;
    this.latencies.push(now - t);
  }

  /** Sends one message and accounts for its outcome. */
  async sendFrom(client: Client, counter: number): Promise<void> {
    const t = performance.now();
    this.sent++;
    const outcome = await client.send(`m${this.id}-${counter}`, { t, p: this.id, text: TEXT });
    if (outcome === 'ack') {
      this.acked++;
      this.acks.push(performance.now() - t);
    } else {
      this.errors[outcome] = (this.errors[outcome] ?? 0) + 1;
    }
    // A message that timed out may still have been stored and delivered: its deliveries are expected too.
    if (outcome === 'ack' || outcome === 'timeout') this.expected += client.roomSize - 1;
  }

  result(loadgenCpuMs: number): PhaseResult {
    return {
      phase: this.name,
      windowSeconds: this.seconds,
      sent: this.sent,
      acked: this.acked,
      errors: this.errors,
      expectedDeliveries: this.expected,
      deliveriesInWindow: this.deliveriesInWindow,
      deliveriesTotal: this.deliveriesTotal,
      latencyP50Ms: percentile(this.latencies, 50),
      latencyP99Ms: percentile(this.latencies, 99),
      latencyMaxMs: percentile(this.latencies, 100),
      ackP50Ms: percentile(this.acks, 50),
      ackP99Ms: percentile(this.acks, 99),
      loadgenCpuMs,
    };
  }
}

const phases: Phase[] = [];

/** When the last presence frame (the join announcements) arrived. */
let lastPresenceAt = 0;
const onPresence = () => {
  lastPresenceAt = performance.now();
};

function onFrame(frame: MessageFrame): void {
  if (frame.type !== 'message' || typeof frame.data?.t !== 'number' || typeof frame.data.p !== 'number')
    return;
  phases[frame.data.p]?.delivered(frame.data.t);
}

function gatewayClient(room: number, roomSize: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${URL_}?classRoomId=r${room}&token=${token}`, { perMessageDeflate: false });
    const pending = new Map<string, (outcome: string) => void>();
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as MessageFrame & { clientMsgId?: string; code?: string };
      if (frame.type === 'message') onFrame(frame);
      else if (frame.type === 'presence') onPresence();
      else if (frame.type === 'ack' || frame.type === 'error') {
        const done = frame.clientMsgId ? pending.get(frame.clientMsgId) : undefined;
        done?.(frame.type === 'ack' ? 'ack' : (frame.code ?? 'error'));
      }
    });
    ws.once('open', () =>
      resolve({
        room,
        roomSize,
        send(clientMsgId, data) {
          return new Promise((done) => {
            const timer = setTimeout(() => finish('timeout'), ACK_TIMEOUT_MS);
            const finish = (outcome: string) => {
              clearTimeout(timer);
              pending.delete(clientMsgId);
              done(outcome);
            };
            pending.set(clientMsgId, finish);
            ws.send(JSON.stringify({ action: 'sendMessage', kind: 'chat', data, clientMsgId }));
          });
        },
        close: () => ws.terminate(),
      }),
    );
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function socketIoClient(room: number, roomSize: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(URL_, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      query: { classRoomId: `r${room}` },
      auth: { token },
    });
    socket.on('message', (raw: string) => onFrame(JSON.parse(raw) as MessageFrame));
    socket.on('presence', onPresence);
    socket.once('connect_error', reject);
    socket.once('connect', () =>
      resolve({
        room,
        roomSize,
        send(_clientMsgId, data) {
          return new Promise((done) => {
            socket
              .timeout(ACK_TIMEOUT_MS)
              .emit(
                'sendMessage',
                { kind: 'chat', data },
                (error: unknown, ack?: { type: string; code?: string }) =>
                  done(error ? 'timeout' : ack?.type === 'ack' ? 'ack' : (ack?.code ?? 'error')),
              );
          });
        },
        close: () => socket.disconnect(),
      }),
    );
  });
}

async function connectAll(secret: string): Promise<{ clients: Client[]; failed: number }> {
  const clients: Client[] = [];
  let failed = 0;
  // Up to --connect-concurrency handshakes at a time, members of a room joining concurrently (a class starting).
  let next = 0;
  const connector = async () => {
    while (next < CLIENTS) {
      const i = next++;
      const room = Math.floor(i / ROOM_SIZE);
      const first = room * ROOM_SIZE;
      const size = Math.min(ROOM_SIZE, CLIENTS - first);
      const token = await mintToken(secret, {
        userId: `u${i}`,
        name: `User ${i}`,
        role: i === first ? 'teacher' : 'student',
        rooms: [`r${room}`],
      });
      try {
        const make = TARGET === 'gateway' ? gatewayClient : socketIoClient;
        clients.push(await make(room, size, token));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, connector));
  return { clients, failed };
}

/** Runs `senders` until the phase's window closes, then waits for the deliveries still on their way. */
async function runPhase(phase: Phase, senders: () => Promise<void>[]): Promise<PhaseResult> {
  const cpuStart = process.cpuUsage();
  send({ type: 'window-start', phase: phase.name });
  phase.start = performance.now();
  phase.end = phase.start + phase.seconds * 1000;
  await Promise.all(senders());
  send({ type: 'window-end', phase: phase.name });
  const cpu = process.cpuUsage(cpuStart);
  const drainUntil = performance.now() + DRAIN_MS;
  while (phase.deliveriesTotal < phase.expected && performance.now() < drainUntil) await sleep(50);
  return phase.result((cpu.user + cpu.system) / 1000);
}

async function main(): Promise<void> {
  const secret = process.env[BENCH_JWT_SECRET_ENV] as string;
  const connectStart = performance.now();
  const { clients, failed } = await connectAll(secret);
  const connectSeconds = (performance.now() - connectStart) / 1000;
  // Let the join announcements (a room of 30 joining: 435 frames) drain before measuring: wait until
  // none arrived for a while, so neither server is still busy with them when the window opens.
  const quietUntil = performance.now() + DRAIN_MS * 6;
  do await sleep(250);
  while (performance.now() - lastPresenceAt < QUIET_MS && performance.now() < quietUntil);
  const drainSeconds = (performance.now() - connectStart) / 1000 - connectSeconds;
  const byRoom = new Map<number, Client[]>();
  for (const c of clients) byRoom.set(c.room, [...(byRoom.get(c.room) ?? []), c]);
  // Warm-up, not measured: a few messages in every room (phase -1: their deliveries are not counted), so
  // that neither server is timed on its first messages (code not yet optimised, sockets not yet open).
  await Promise.all(
    [...byRoom.values()].map(async (members) => {
      for (let i = 0; i < WARMUP_MESSAGES_PER_ROOM; i++) {
        const sender = members[i % members.length] as Client;
        await sender.send(`w${sender.room}-${i}`, { t: 0, p: -1, text: TEXT });
      }
    }),
  );
  await sleep(500);

  const results: PhaseResult[] = [];
  let counter = 0;
  const paced = new Phase(0, 'paced', SECONDS);
  phases.push(paced);
  results.push(
    await runPhase(paced, () =>
      clients.map(async (client) => {
        // Think, and say whether the think ended inside the window. A think that would end after it is
        // cut at the window's end (so the phase ends on time) and sends nothing: sending then would make
        // most clients send together in the window's last millisecond (timers fire up to 1 ms early).
        const think = async (ms: number) => {
          const wake = performance.now() + ms;
          await sleep(Math.max(0, Math.min(wake, paced.end) - performance.now()));
          return wake < paced.end;
        };
        if (!(await think(Math.random() * THINK_MS))) return;
        do await paced.sendFrom(client, counter++);
        while (await think(THINK_MS * (0.5 + Math.random())));
      }),
    ),
  );

  const saturated = new Phase(1, 'saturated', SATURATED_SECONDS);
  phases.push(saturated);
  results.push(
    await runPhase(saturated, () =>
      [...byRoom.values()]
        .filter((members) => members.length > 1)
        .map(async (members) => {
          for (let i = 0; performance.now() < saturated.end; i++) {
            await saturated.sendFrom(members[i % members.length] as Client, counter++);
          }
        }),
    ),
  );

  const result: LoadResult = {
    target: TARGET,
    clients: CLIENTS,
    rooms: byRoom.size,
    connected: clients.length,
    connectFailed: failed,
    connectSeconds,
    drainSeconds,
    phases: results,
  };
  send({ type: 'result', result });
  for (const client of clients) client.close();
  setTimeout(() => process.exit(0), 200);
}

main().catch((error: unknown) => {
  console.error('load generator failed:', error);
  process.exit(1);
});
