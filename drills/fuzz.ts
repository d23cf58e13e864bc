/**
 * Drill 6: bad input. A property-based fuzz (fast-check) sends at least 10,000 broken frames through real
 * sockets: malformed JSON, JSON that is not an object, wrong types, missing and duplicate fields, huge and
 * deeply nested values, `__proto__` keys, odd Unicode (lone surrogates, BOM, RTL and zero-width marks,
 * NUL), another room's id, a student's endClass, a fragmented message too large to deliver, binary frames,
 * frames over 32 KB and invalid UTF-8. The frames that keep the socket open go in batches; for each batch
 * the error codes received must be exactly those the oracle expects (`bad_request`, `unknown_action`,
 * `forbidden`, `too_large`: never `internal`, never API Gateway's "Internal server error"). Frames after
 * which API Gateway closes the socket go one per connection and must get their close code (1003 binary,
 * 1009 too big, 1007 invalid UTF-8). Throughout, another member of the room receives nothing, the room's
 * stored state stays byte for byte the same, and the service still works at the end.
 *
 * Long form: `npm run drill:fuzz -- --frames 100000 --seed 42`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import WebSocket from 'ws';
import { numberArg, parseArgs, runMain } from './support/args';
import { closingFrames, type FuzzFrame, fragmentedTooLarge, openSocketFrames } from './support/fuzz-frames';
import { DrillMember } from './support/member';
import { RedisNode, waitFor } from './support/redis-node';
import { report } from './support/report';
import { type DrillStack, startDrillStack } from './support/stack';

export interface FuzzOptions {
  /** Frames through the open socket (in batches). */
  frames: number;
  batch: number;
  /** Fragmented too-large messages, and frames that close the socket (one connection each). */
  fragmented: number;
  closing: number;
  seed?: number;
}

export const FUZZ_SHORT: FuzzOptions = { frames: 10_000, batch: 200, fragmented: 10, closing: 60 };

export interface FuzzResult {
  framesTried: number;
  byFamily: Record<string, number>;
  /** `internal` error frames, API Gateway error frames, handler timeouts or throws. */
  serverErrors: number;
  /** Batches whose answers differed from the oracle (fast-check's counterexample in `failure`). */
  failure?: string;
  closes: Record<string, number>;
  observerFrames: number;
  stateUnchanged: boolean;
  healthyAfter: boolean;
  line: string;
}

const ROOM = 'fuzz-room';

/** A raw socket for the fuzzer: every text frame parsed and kept, the close code kept. */
class FuzzSocket {
  readonly frames: Record<string, unknown>[] = [];
  closeCode?: number;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      try {
        this.frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>);
      } catch {
        this.frames.push({ raw: data.toString('utf8') });
      }
    });
    ws.on('close', (code: number) => {
      this.closeCode = code;
    });
    ws.on('error', () => undefined);
  }

  static open(url: string): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 });
      ws.once('open', () => resolve(new FuzzSocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(frame: FuzzFrame): void {
    if (frame.text !== undefined) this.ws.send(frame.text);
    else if (frame.bytes) this.ws.send(frame.bytes.data, { binary: frame.bytes.binary });
    else if (frame.fragments) {
      const parts = frame.fragments;
      for (const [i, part] of parts.entries())
        this.ws.send(part, { binary: false, fin: i === parts.length - 1 });
    }
  }

  async closed(timeoutMs = 5000): Promise<number | undefined> {
    await waitFor(() => this.closeCode !== undefined, 'socket closed', timeoutMs, 5).catch(() => undefined);
    return this.closeCode;
  }
}

/** What a reply frame counts as: its error code, `gateway-error`, or its type. */
function replyCode(frame: Record<string, unknown>): string {
  if (frame.type === 'error') return String(frame.code);
  if (frame.type === undefined && typeof frame.message === 'string') return 'gateway-error';
  return `frame:${String(frame.type)}`;
}

function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}:${n}`)
    .join(',');
}

async function roomState(node: RedisNode): Promise<string> {
  const r = node.admin;
  const keys = (await r.keys(`room:{${ROOM}}:*`)).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const type = await r.type(key);
    let value: unknown;
    if (type === 'string') value = await r.get(key);
    else if (type === 'zset') value = await r.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'hash') value = await r.hgetall(key);
    parts.push(`${key}=${JSON.stringify(value)}`);
  }
  return parts.join('\n');
}

/** The lines of the room's state that differ (`-` before, `+` after), each cut to 300 characters. */
function stateDiff(before: string, after: string): string {
  const a = new Set(before.split('\n'));
  const b = new Set(after.split('\n'));
  const cut = (line: string) => (line.length > 300 ? `${line.slice(0, 300)}…` : line);
  return [
    ...[...a].filter((line) => !b.has(line)).map((line) => `- ${cut(line)}`),
    ...[...b].filter((line) => !a.has(line)).map((line) => `+ ${cut(line)}`),
  ].join('\n');
}

export async function runFuzzDrill(options: FuzzOptions): Promise<FuzzResult> {
  const node = await RedisNode.start();
  let stack: DrillStack | undefined;
  const sockets: FuzzSocket[] = [];
  let observer: DrillMember | undefined;
  const seed = options.seed ?? Date.now() % 2 ** 31;
  try {
    const s = await startDrillStack({ redisUrl: node.url });
    stack = s;
    const fuzzer = { userId: 'fuzzer', name: 'Fuzzer', role: 'student' as const };
    const teacher = new DrillMember({ userId: 'teacher', name: 'Teacher', role: 'teacher' }, ROOM, (id, r) =>
      s.memberUrl(id, r),
    );
    await teacher.connect();
    const first = await teacher.sendOnce('before-fuzz', { text: 'stored before the fuzz' });
    if (!first.ok) throw new Error(`setup send failed: ${first.reason}`);
    const main = await FuzzSocket.open(await s.memberUrl(fuzzer, ROOM));
    sockets.push(main);
    observer = teacher;
    await sleep(300);
    // The setup send left the teacher's rate-limit bucket, which expires on its own within 3 s (burst/rate
    // + 1 s): wait for it, so that the snapshot below holds only state that a fuzz frame could change.
    await waitFor(
      async () => (await node.admin.keys(`room:{${ROOM}}:rl:*`)).length === 0,
      'the setup rate-limit bucket to expire',
      10_000,
      100,
    );
    const observerBefore = teacher.framesIn;
    const before = await roomState(node);

    const byFamily: Record<string, number> = {};
    const closes: Record<string, number> = {};
    let framesTried = 0;
    let serverErrors = 0;
    let failure: string | undefined;
    const count = (frames: FuzzFrame[]) => {
      framesTried += frames.length;
      for (const f of frames) byFamily[f.family] = (byFamily[f.family] ?? 0) + 1;
    };

    // Open-socket frames in batches: the answers must be exactly the oracle's codes.
    const exchange = async (frames: FuzzFrame[]) => {
      const start = main.frames.length;
      for (const frame of frames) main.send(frame);
      await waitFor(
        () => main.frames.length - start >= frames.length || main.closeCode !== undefined,
        'answers',
        20_000,
        2,
      ).catch(() => undefined);
      await sleep(5);
      const got = main.frames.slice(start).map(replyCode);
      serverErrors += got.filter((c) => c === 'internal' || c === 'gateway-error').length;
      return {
        got: tally(got),
        want: tally(frames.map((f) => (f.expected.kind === 'error' ? f.expected.code : 'close'))),
      };
    };
    const property = (arbitrary: fc.Arbitrary<FuzzFrame[]>) =>
      fc.asyncProperty(arbitrary, async (frames) => {
        if (main.closeCode !== undefined) throw new Error(`the fuzz socket closed (${main.closeCode})`);
        count(frames);
        const { got, want } = await exchange(frames);
        if (got !== want)
          throw new Error(`answers ${got}, expected ${want} (socket ${main.closeCode ?? 'open'})`);
      });
    const check = async (arbitrary: fc.Arbitrary<FuzzFrame[]>, numRuns: number) => {
      const details = await fc.check(property(arbitrary), { numRuns, seed, endOnFailure: true });
      if (details.failed && !failure) {
        failure = `seed ${details.seed}: ${String(details.errorInstance)}; counterexample ${JSON.stringify(details.counterexample)?.slice(0, 600)}`;
      }
    };
    await check(
      fc.array(openSocketFrames(ROOM), { minLength: options.batch, maxLength: options.batch }),
      Math.ceil(options.frames / options.batch),
    );
    await check(
      fragmentedTooLarge.map((f) => [f]),
      options.fragmented,
    );

    // Frames that close the socket: one connection each, same user (no join/leave to the room).
    const closing = fc.sample(closingFrames, { numRuns: options.closing, seed });
    for (const frame of closing) {
      const socket = await FuzzSocket.open(await s.memberUrl(fuzzer, ROOM));
      sockets.push(socket);
      count([frame]);
      socket.send(frame);
      const code = await socket.closed();
      const key = `${frame.family}:${code ?? 'open'}`;
      closes[key] = (closes[key] ?? 0) + 1;
      if (frame.expected.kind === 'close' && code !== frame.expected.code && !failure) {
        failure = `${frame.family} closed with ${code}, expected ${frame.expected.code}`;
      }
      serverErrors += socket.frames
        .map(replyCode)
        .filter((c) => c === 'internal' || c === 'gateway-error').length;
    }
    // Their $disconnect ran: the room is back to the teacher and the fuzz socket.
    await waitFor(
      async () => (await node.admin.zcard(`room:{${ROOM}}:members`)) === 2,
      'members back to two',
      5000,
    );
    const after = await roomState(node);
    const observerFrames = teacher.framesIn - observerBefore;

    // Still healthy: the fuzzer's own socket can still talk, and a message reaches the teacher.
    const pong = main.frames.length;
    main.ws.send(JSON.stringify({ action: 'ping' }));
    main.ws.send(
      JSON.stringify({ action: 'sendMessage', kind: 'chat', data: 'still here', clientMsgId: 'after' }),
    );
    await waitFor(() => main.frames.length - pong >= 2, 'answers after the fuzz', 5000).catch(
      () => undefined,
    );
    await waitFor(() => teacher.have.size >= 2, 'the message after the fuzz', 5000).catch(() => undefined);
    const answers = main.frames.slice(pong).map(replyCode).sort().join(',');
    const healthyAfter = answers === 'frame:ack,frame:pong' && teacher.have.size === 2;
    serverErrors += s.counts.errors + s.counts.timeouts;

    const line = report(
      'fuzz',
      {
        frames_tried: framesTried,
        server_errors: serverErrors,
        oracle_mismatches: failure ? 1 : 0,
        observer_frames: observerFrames,
        state_unchanged: before === after,
        healthy_after: healthyAfter,
        closes: tally(Object.entries(closes).flatMap(([k, n]) => Array(n).fill(k))),
        families: Object.keys(byFamily).length,
        seed,
      },
      { ...options, seed },
    );
    if (failure) process.stdout.write(`[drill fuzz] failure: ${failure}\n`);
    if (before !== after) process.stdout.write(`[drill fuzz] state changed:\n${stateDiff(before, after)}\n`);
    return {
      framesTried,
      byFamily,
      serverErrors,
      failure,
      closes,
      observerFrames,
      stateUnchanged: before === after,
      healthyAfter,
      line,
    };
  } finally {
    for (const socket of sockets) socket.ws.terminate();
    await observer?.close();
    await stack?.stop();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runFuzzDrill({
      ...FUZZ_SHORT,
      frames: numberArg(args, 'frames', 100_000),
      closing: numberArg(args, 'closing', 300),
      seed: args.has('seed') ? numberArg(args, 'seed', 0) : undefined,
    });
    return result.serverErrors === 0 && !result.failure && result.stateUnchanged && result.healthyAfter;
  });
}
