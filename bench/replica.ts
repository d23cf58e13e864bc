/**
 * Issue 13 in `npm run bench` [6], against a local primary with one replica (`redis-server --replicaof`):
 *
 *   a. Ack latency with and without replica-confirmed acks, same run, same primary: the real
 *      sendMessage handler loaded twice, as two warm containers would be, one with MIN_REPLICA_ACKS=0
 *      and one with MIN_REPLICA_ACKS=1 (REPLICA_ACK_TIMEOUT_MS=250): the layer reads them once per module
 *      instance. Samples alternate between the two sample by sample, so the machine's load hits both
 *      alike. Also the store step alone, and the Redis round trips per confirmed sendMessage (socket
 *      writes of that instance's Redis client; MONITOR shows EVALSHA and WAIT from it in each).
 *   b. Memory per resume at the limits: rooms filled to ROOM_HISTORY_BYTES (4 MiB) with near-limit
 *      messages and to ROOM_HISTORY_LIMIT (1000) messages; the resume handler reads them from the start.
 *      The largest single Redis reply and the live memory growth during the resume, against the room's
 *      bytes and against one reply of the whole log (what resume did before), measured here too.
 */

import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { APIGatewayProxyResult } from 'aws-lambda';
import Redis from 'ioredis';
import { RemoteManagementApi } from '../local/management-api';
import { lambdaContext, type TestCaller, wsEvent } from '../test/support/events';
import type { Route } from '../test/support/harness';
import { watchCommands } from '../test/support/monitor';
import { type RedisProcess, startRedisServer } from '../test/support/redis-server';
import type { Figures } from './lib/results';
import { BENCH_HANDLER_ENV, chatEvent, chatMessage, memberMaker, seedRoom } from './lib/rooms';
import { median, percentile, timeMs } from './lib/stats';

type Shared = typeof import('@classroom/shared');

export interface ReplicaBenchOptions {
  figures: Figures;
  quick: boolean;
}

/** The confirmed mode's settings (the template's default timeout). */
export const CONFIRMED_ENV = { MIN_REPLICA_ACKS: '1', REPLICA_ACK_TIMEOUT_MS: '250' } as const;
/** Members of each room the ack latency is measured in (a class: the sender and 29 recipients). */
export const ACK_ROOM_SIZE = 30;
/** Redis round trips per confirmed sendMessage (--check): a count, whatever the machine's load. */
export const ROUNDTRIPS_TARGET = 1;
/** RESP framing around a page's messages: the array headers and each message's length line (<= 500 per page). */
export const RESP_OVERHEAD_BYTES = 8192;
/**
 * Live memory growth of one resume: at most this many 128 KB pages' worth, half of what a full room holds
 * (32). Measured: 6-9 (two pages read, the frame and its request body, ioredis' parser buffer, which
 * grows to 3x the largest reply and shrinks when idle); the whole log in one reply holds 60-105. Bytes after a full GC, not times:
 * the machine's load does not move it.
 */
export const RESUME_HEAP_TARGET_PAGES = 16;
/**
 * The confirmed ack's p50 at most this many times the unconfirmed one: generous, as the replica process
 * waiting for a CPU on a shared machine shows in it. Measured 1.02-1.07 on a quiet 2-core machine and
 * 0.98-1.33 with 3 to 6 busy loops on it (the store step alone reached 6.5x there: not checked). It
 * catches WAIT waiting out its timeout, not a slow machine.
 */
export const ACK_RATIO_TARGET = 3;

const ROOT = join(__dirname, '..');

/** One copy of the layer and the two handlers, with the environment it was loaded and first used with. */
export interface Instance {
  label: 'unconfirmed' | 'confirmed';
  shared: Shared;
  send: Route;
  resume: Route;
}

/**
 * Loads fresh module instances of the layer and the handlers (as a new Lambda container would), with
 * `env` in place until their settings and Redis client are created; the modules loaded before keep
 * their own instances (the require cache is restored).
 */
export async function loadInstance(label: Instance['label'], env: Record<string, string>): Promise<Instance> {
  const project = (path: string) =>
    (path.startsWith(join(ROOT, 'layers')) || path.startsWith(join(ROOT, 'functions'))) &&
    !path.includes('node_modules');
  const saved = Object.keys(require.cache)
    .filter(project)
    .map((path) => [path, require.cache[path]] as const);
  for (const [path] of saved) delete require.cache[path];
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const load = createRequire(__filename);
    const send = (load('../functions/send-message/index') as { handler: Route }).handler;
    const resume = (load('../functions/resume/index') as { handler: Route }).handler;
    const shared = load('@classroom/shared') as Shared;
    // Reads the room and durability settings and creates this instance's Redis client, now.
    await shared.roomStore();
    await (await shared.getRedis()).ping();
    return { label, shared, send, resume };
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    for (const path of Object.keys(require.cache).filter(project)) delete require.cache[path];
    for (const [path, module] of saved) require.cache[path] = module;
  }
}

/** Waits until the replica is linked, online, and a probe write is confirmed by `WAIT 1 100`. */
async function replicaConfirming(primary: Redis, replica: Redis): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const linked = /master_link_status:up/.test(await replica.info('replication'));
    const online = /slave0:.*state=online/.test(await primary.info('replication'));
    // After the sync the primary streams to the replica only from its first REPLCONF ACK (up to 1 s).
    if (linked && online) {
      await primary.set('bench:probe', String(Date.now()));
      if (Number(await primary.call('WAIT', 1, 100)) >= 1) return;
    } else await sleep(50);
  }
  throw new Error('the replica did not confirm a probe write within 20 s');
}

const member = memberMaker('r');

/** A forced full GC (the bench runs without --expose-gc). */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Live memory the process holds: JS heap and the Buffers outside it (socket reads and writes). */
const live = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

export async function runReplicaBenches({ figures, quick }: ReplicaBenchOptions): Promise<void> {
  const primary: RedisProcess = await startRedisServer(['--repl-diskless-sync-delay', '0']);
  const replica: RedisProcess = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
  const api = new RemoteManagementApi();
  const admin = new Redis(primary.url);
  const replicaAdmin = new Redis(replica.url);
  const common: Record<string, string> = {
    REDIS_URL: primary.url,
    MANAGEMENT_ENDPOINT: await api.start(),
    ...BENCH_HANDLER_ENV,
    ROOM_HISTORY_LIMIT: '1000',
    ROOM_HISTORY_BYTES: String(4 * 1024 * 1024),
  };
  const savedEnv = Object.fromEntries(Object.keys(common).map((k) => [k, process.env[k]]));
  // The handlers read MANAGEMENT_ENDPOINT on their first post: keep the common part for the whole run.
  Object.assign(process.env, common);
  const instances: Instance[] = [];
  try {
    await replicaConfirming(admin, replicaAdmin);
    const unconfirmed = await loadInstance('unconfirmed', { MIN_REPLICA_ACKS: '0' });
    const confirmed = await loadInstance('confirmed', { ...CONFIRMED_ENV });
    instances.push(unconfirmed, confirmed);
    if (unconfirmed.shared === confirmed.shared) throw new Error('the two layer instances are the same');
    await ackLatency({ figures, quick, api, primary, unconfirmed, confirmed });
    await resumeMemory({ figures, api, admin, instance: unconfirmed });
  } finally {
    for (const instance of instances) await instance.shared.closeRedis();
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    admin.disconnect();
    replicaAdmin.disconnect();
    await api.stop();
    await replica.stop();
    await primary.stop();
  }
}

interface AckContext {
  figures: Figures;
  quick: boolean;
  api: RemoteManagementApi;
  primary: RedisProcess;
  unconfirmed: Instance;
  confirmed: Instance;
}

async function ackLatency({ figures, quick, api, primary, unconfirmed, confirmed }: AckContext) {
  console.log(
    `  ack latency: sendMessage in rooms of ${ACK_ROOM_SIZE}, MIN_REPLICA_ACKS=0 vs ${CONFIRMED_ENV.MIN_REPLICA_ACKS} (REPLICA_ACK_TIMEOUT_MS=${CONFIRMED_ENV.REPLICA_ACK_TIMEOUT_MS}), same primary, samples alternating`,
  );
  const setup = new Redis(primary.url, { enableAutoPipelining: true });
  const store = new unconfirmed.shared.RoomStore(setup, unconfirmed.shared.roomSettings());
  const makeRoom = async (prefix: string) => {
    const roomId = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
    return seedRoom(store, roomId, ACK_ROOM_SIZE, member);
  };
  interface Mode {
    instance: Instance;
    room: TestCaller[];
    ack: number[];
    storeStep: number[];
    unavailable: number;
    sent: number;
  }
  const modes: Mode[] = [];
  for (const instance of [unconfirmed, confirmed]) {
    modes.push({
      instance,
      room: await makeRoom(`ack-${instance.label}`),
      ack: [],
      storeStep: [],
      unavailable: 0,
      sent: 0,
    });
  }
  let msg = 0;
  /** One sendMessage until its ack: an `unavailable` answer is resent with the same clientMsgId, as the SDK does. */
  const timedSend = async (mode: Mode): Promise<number> => {
    const caller = mode.room[mode.sent++ % mode.room.length] as TestCaller;
    const event = chatEvent(caller, `a${++msg}`);
    const posts = await api.postCount();
    let result: APIGatewayProxyResult | undefined;
    const ms = await timeMs(async () => {
      for (let attempt = 0; ; attempt++) {
        result = await mode.instance.send(event, lambdaContext('sendMessage', 30_000));
        const frame = JSON.parse(result.body || '{}') as { type?: string; code?: string };
        if (frame.type === 'ack') return;
        if (frame.code !== 'unavailable' || attempt >= 5)
          throw new Error(`sendMessage answered ${result.body}`);
        mode.unavailable++;
      }
    });
    const got = (await api.postCount()) - posts;
    if (got !== ACK_ROOM_SIZE - 1) throw new Error(`expected ${ACK_ROOM_SIZE - 1} posts, got ${got}`);
    return ms;
  };
  /** The store step of the same handler instance alone (its own store, client and settings). */
  const timedAppend = async (mode: Mode): Promise<number> => {
    const caller = mode.room[mode.sent++ % mode.room.length] as TestCaller;
    const { shared } = mode.instance;
    const parts = shared.messageParts(chatMessage(caller));
    const instanceStore = await shared.roomStore();
    const dedupe = { scope: caller.userId, key: `s${++msg}` };
    let status = '';
    const ms = await timeMs(async () => {
      // As a resend does: the same dedupe key completes the message.
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await instanceStore.append({
          roomId: caller.classRoomId,
          id: parts.id,
          head: parts.head,
          tail: parts.tail,
          transient: false,
          senderConnectionId: caller.connectionId,
          dedupe,
          rateLimited: true,
        });
        status = r.status;
        if (status !== 'unavailable') return;
        mode.unavailable++;
      }
    });
    if (status !== 'ok') throw new Error(`append: ${status}`);
    return ms;
  };

  const samples = quick ? 100 : 300;
  const warm = 20;
  for (let i = -warm; i < samples; i++) {
    // The two modes take turns, each one first every other sample.
    const order = i % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const ms = await timedSend(mode);
      if (i >= 0) mode.ack.push(ms);
    }
    for (const mode of order) {
      const ms = await timedAppend(mode);
      if (i >= 0) mode.storeStep.push(ms);
    }
  }
  const [u, c] = modes as [Mode, Mode];

  // Round trips per confirmed sendMessage: socket writes of that instance's Redis client (a pipeline is
  // one write), and MONITOR's lines from that client (EVALSHA and WAIT in each write). The unconfirmed
  // instance's sends are watched too: no WAIT from its client.
  const count = 10;
  const sourceOf = async (instance: Instance) => {
    const stream = ((await instance.shared.getRedis()) as unknown as { stream: Socket }).stream;
    return { stream, source: `${stream.localAddress}:${stream.localPort}` };
  };
  const { stream, source } = await sourceOf(confirmed);
  const other = await sourceOf(unconfirmed);
  const monitor = await watchCommands(primary.url);
  const original = stream.write;
  let writes = 0;
  stream.write = function (this: Socket, ...args: unknown[]) {
    writes++;
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
  // Sends answered `unavailable` first (WAIT timed out on a busy machine) take a second round trip by
  // design (the write is flagged for the resend): only the sends acked at once are counted.
  let clean = 0;
  let cleanWrites = 0;
  try {
    for (let i = 0; i < count; i++) {
      const [w, unavailable] = [writes, c.unavailable];
      await timedSend(c);
      if (c.unavailable === unavailable) {
        clean++;
        cleanWrites += writes - w;
      }
      await timedSend(u);
    }
  } finally {
    stream.write = original;
  }
  const seen = await monitor.stop();
  const lines = seen.filter((l) => l.source === source);
  const waits = lines.filter((l) => l.command === 'wait').length;
  const scripts = lines.filter((l) => l.command === 'evalsha' || l.command === 'eval').length;
  const otherWaits = seen.filter((l) => l.source === other.source && l.command === 'wait').length;
  if (waits < count || scripts < count || otherWaits > 0) {
    throw new Error(
      `MONITOR saw ${scripts} scripts and ${waits} WAITs for ${count} confirmed sends, ${otherWaits} WAITs for ${count} unconfirmed ones`,
    );
  }
  setup.disconnect();

  const p = (s: number[], q: number) => percentile(s, q);
  const n = `${samples} samples each, alternating`;
  figures.add(
    'ack_p50_ms_unconfirmed',
    median(u.ack),
    'ms',
    `sendMessage handler until its ack, room of ${ACK_ROOM_SIZE}, MIN_REPLICA_ACKS=0, primary with a replica; ${n}`,
  );
  figures.add('ack_p99_ms_unconfirmed', p(u.ack, 99), 'ms', 'same, p99');
  figures.add(
    'ack_p50_ms_confirmed',
    median(c.ack),
    'ms',
    `same handler, MIN_REPLICA_ACKS=1, REPLICA_ACK_TIMEOUT_MS=${CONFIRMED_ENV.REPLICA_ACK_TIMEOUT_MS} (script and WAIT pipelined), same primary and run`,
  );
  figures.add('ack_p99_ms_confirmed', p(c.ack, 99), 'ms', 'same, p99');
  figures.add(
    'ack_ratio_p50_confirmed',
    median(c.ack) / median(u.ack),
    'x',
    'ack p50 confirmed / unconfirmed',
  );
  figures.add('ack_ratio_p99_confirmed', p(c.ack, 99) / p(u.ack, 99), 'x', 'ack p99 confirmed / unconfirmed');
  figures.add(
    'ack_added_p50_ms_confirmed',
    median(c.ack) - median(u.ack),
    'ms',
    'ack p50 confirmed - unconfirmed (the WAIT: the replica applies the write and acknowledges it)',
  );
  figures.add(
    'ack_store_p50_ms_unconfirmed',
    median(u.storeStep),
    'ms',
    `its store step alone (RoomStore.append, one EVALSHA); p99 ${p(u.storeStep, 99).toFixed(2)}`,
  );
  figures.add(
    'ack_store_p50_ms_confirmed',
    median(c.storeStep),
    'ms',
    `its store step alone (EVALSHA + WAIT pipelined); p99 ${p(c.storeStep, 99).toFixed(2)}`,
  );
  figures.add(
    'ack_unavailable_confirmed',
    c.unavailable,
    'answers',
    `unavailable answers (WAIT not confirmed within ${CONFIRMED_ENV.REPLICA_ACK_TIMEOUT_MS} ms) in the confirmed sends and store steps, each resent with the same clientMsgId and timed until its ack`,
  );
  const roundTrips = cleanWrites / clean;
  figures.add(
    'redis_roundtrips_send_confirmed',
    roundTrips,
    'round trips',
    `per sendMessage with MIN_REPLICA_ACKS=1: socket writes of the handler's Redis client (MONITOR: ${scripts} EVALSHA and ${waits} WAIT from it for ${count} sends; ${clean} of them acked at once, counted)`,
  );
  const ratio = median(c.ack) / median(u.ack);
  figures.add(
    'ack_ratio_pass',
    ratio <= ACK_RATIO_TARGET,
    'bool',
    `ack p50 confirmed / unconfirmed ${ratio.toFixed(2)} <= ${ACK_RATIO_TARGET} (generous: a busy machine must not fail it)`,
  );
  figures.add(
    'ack_roundtrips_pass',
    roundTrips === ROUNDTRIPS_TARGET,
    'bool',
    `confirmed sendMessage in ${ROUNDTRIPS_TARGET} Redis round trip (script and WAIT pipelined)`,
  );
}

interface ResumeContext {
  figures: Figures;
  api: RemoteManagementApi;
  admin: Redis;
  instance: Instance;
}

async function resumeMemory({ figures, api, admin, instance }: ResumeContext) {
  const { shared } = instance;
  const settings = shared.roomSettings();
  const gc = collector();
  const store = new shared.RoomStore(admin, settings);
  const pageLimit = shared.MAX_OUTBOUND_FRAME_BYTES;
  const client = await shared.getRedis();
  const stream = (client as unknown as { stream: Socket }).stream;

  /** A room filled past its bounds with messages of `textBytes` characters; answers its stored size. */
  const fill = async (name: string, textBytes: number, messages: number) => {
    const roomId = `${name}-${Math.random().toString(36).slice(2, 8)}`;
    const writer = member(roomId, 0);
    const text = 'x'.repeat(textBytes);
    let frameBytes = 0;
    for (let i = 0; i < messages; i++) {
      const parts = shared.messageParts({
        classRoomId: roomId,
        from: { userId: writer.userId, name: writer.name ?? writer.userId, role: 'teacher' },
        kind: 'chat',
        data: { text },
      });
      if (!shared.fitsInFrame(parts))
        throw new Error(`a ${textBytes}-character message does not fit a frame`);
      frameBytes = Math.max(frameBytes, parts.bytes);
      const r = await store.append({
        roomId,
        id: parts.id,
        head: parts.head,
        tail: parts.tail,
        transient: false,
        rateLimited: false,
      });
      if (r.status !== 'ok') throw new Error(`fill: ${r.status}`);
    }
    const keys = shared.roomKeys(roomId);
    const bytes = Number(await admin.hget(keys.state, 'bytes'));
    const count = await admin.zcard(keys.log);
    return { roomId, bytes, count, frameBytes, reader: member(roomId, 1) };
  };

  /** One resume from the start through the handler: replies, pages and live memory. */
  const measure = async (reader: TestCaller) => {
    const event = wsEvent(reader, 'resume', JSON.stringify({ action: 'resume', afterSeq: 0 }));
    const posts = await api.postCount();
    let maxReply = 0;
    let replies = 0;
    let peak = 0;
    let peakHeap = 0;
    let peakBuffers = 0;
    // Each Redis reply's size: bytes read by the handler's client while its command is outstanding (it
    // runs one command at a time).
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    const wrapped = async (...args: unknown[]) => {
      const before = stream.bytesRead;
      const reply = await evalsha(...args);
      maxReply = Math.max(maxReply, stream.bytesRead - before);
      replies++;
      return reply;
    };
    // Live memory at every socket write of the resume (each Redis command and each post, when the pages
    // read and the frame being posted are all still referenced): a full GC first, so only what is held
    // counts, not garbage waiting to be collected.
    const write = Object.getOwnPropertyDescriptor(Socket.prototype, 'write');
    const inherited = Socket.prototype.write;
    gc();
    const before = process.memoryUsage();
    Object.assign(client, { evalsha: wrapped });
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      gc();
      const now = process.memoryUsage();
      const heap = now.heapUsed - before.heapUsed;
      const buffers = now.external - before.external;
      if (heap + buffers > peak) {
        peak = heap + buffers;
        peakHeap = heap;
        peakBuffers = buffers;
      }
      return (inherited as (...a: unknown[]) => boolean).apply(this, args);
    } as Socket['write'];
    let result: APIGatewayProxyResult | undefined;
    try {
      result = await instance.resume(event, lambdaContext('resume', 30_000));
    } finally {
      if (write) Object.defineProperty(Socket.prototype, 'write', write);
      else delete (Socket.prototype as { write?: unknown }).write;
      Reflect.deleteProperty(client, 'evalsha');
    }
    const pages = (await api.postCount()) - posts + (result?.body ? 1 : 0);
    return { maxReply, replies, pages, peak, peakHeap, peakBuffers };
  };

  /** The previous design: the whole log in one reply, held in memory (here only read, not framed). */
  const wholeLog = async (roomId: string) => {
    const reader = new Redis(admin.options.port ?? 6379, admin.options.host ?? '127.0.0.1');
    await reader.ping();
    const socket = (reader as unknown as { stream: Socket }).stream;
    gc();
    const before = live();
    const read = socket.bytesRead;
    const all = await reader.zrange(shared.roomKeys(roomId).log, 0, -1);
    const replyBytes = socket.bytesRead - read;
    gc();
    const held = live() - before;
    if (all.length === 0) throw new Error('empty log');
    reader.disconnect();
    return { replyBytes, held };
  };

  const rooms = [
    // Near-limit messages (a 128 KB frame each): ROOM_HISTORY_BYTES is what bounds the room.
    {
      key: 'large',
      textBytes: shared.MAX_MESSAGE_FRAME_BYTES - 400,
      messages: Math.ceil(settings.historyBytes / (pageLimit - 1024)) + 4,
    },
    // ROOM_HISTORY_LIMIT messages that also fill ROOM_HISTORY_BYTES: both bounds reached.
    {
      key: 'many',
      textBytes: Math.floor(settings.historyBytes / settings.historyLimit) - 420,
      messages: settings.historyLimit + 10,
    },
  ];
  console.log(
    `  resume memory: rooms at ROOM_HISTORY_BYTES=${settings.historyBytes} / ROOM_HISTORY_LIMIT=${settings.historyLimit}, read from the start by the resume handler`,
  );
  for (const spec of rooms) {
    const room = await fill(`resume-${spec.key}`, spec.textBytes, spec.messages);
    await measure(room.reader); // warm: scripts loaded, code compiled
    const m = await measure(room.reader);
    const old = await wholeLog(room.roomId);
    if (m.replies !== m.pages) throw new Error(`resume: ${m.replies} Redis replies for ${m.pages} pages`);
    const k = (s: string) => `resume_${spec.key}_${s}`;
    figures.add(
      k('room_bytes'),
      room.bytes,
      'bytes',
      `${room.count} stored messages of up to ${room.frameBytes} bytes (${spec.messages} written)`,
    );
    figures.add(
      k('pages'),
      m.pages,
      'pages',
      'history frames of one resume from the start (one Redis reply each)',
    );
    figures.add(
      k('max_reply_bytes'),
      m.maxReply,
      'bytes',
      `largest single Redis reply of the resume (frames stay under ${pageLimit})`,
    );
    figures.add(
      k('heap_growth_bytes'),
      m.peak,
      'bytes',
      `live JS heap + Buffers during the resume handler (a full GC at each of its socket writes), peak above before: heap ${m.peakHeap}, Buffers ${m.peakBuffers}`,
    );
    figures.add(k('heap_vs_room'), m.peak / room.bytes, 'x', 'heap growth / room bytes');
    figures.add(
      k('whole_log_reply_bytes'),
      old.replyBytes,
      'bytes',
      'baseline, same room: the whole log in one reply (resume before issue 13)',
    );
    figures.add(
      k('whole_log_heap_bytes'),
      old.held,
      'bytes',
      'baseline: live memory holding that one reply (read only, no frame built)',
    );
    const bounded =
      m.maxReply <= pageLimit + RESP_OVERHEAD_BYTES && m.peak <= RESUME_HEAP_TARGET_PAGES * pageLimit;
    figures.add(
      k('bounded_pass'),
      bounded,
      'bool',
      `largest reply <= ${pageLimit} + ${RESP_OVERHEAD_BYTES} bytes (RESP framing) and heap growth <= ${RESUME_HEAP_TARGET_PAGES} x ${pageLimit} bytes, with ${room.bytes} bytes stored`,
    );
  }
}
