/**
 * Drill 8: soak. 1,000 connections in 50 rooms exchange messages for a bounded time against the local
 * stack; the figures say whether anything was lost and whether the server's memory and Redis' key count
 * stay steady.
 *
 * The gateway emulator (serving template.yaml with the real handlers) runs in a child process of its own
 * (`node --import tsx local/cli.ts`), so its resident memory is the server's alone, not the load
 * generator's bookkeeping. Its RSS (from /proc) and Redis' keys are sampled every `sampleMs`:
 *
 * - memory steady: the median RSS of the last quarter of the traffic within `maxRssGrowth` of the median
 *   of the second quarter (the first quarter is warm-up: JIT, pools, the dedupe window filling);
 * - keys steady: during traffic the room and connection keys (everything but the 60 s dedupe entries) keep
 *   one count; after everyone leaves no connection state remains (members, connection info, rate-limit
 *   buckets) and every key left (history, seq, dedupe) carries a TTL.
 *
 * Long form: `npm run drill:soak -- --seconds 60 --connections 1000 --rooms 50`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { median } from '../bench/lib/stats';
import { localFunctionEnv } from '../local/function-env';
import { generateSecret, mintToken } from '../local/tokens';
import { freePort } from '../test/support/redis-server';
import { numberArg, parseArgs, runMain } from './support/args';
import { RedisNode, waitFor } from './support/redis-node';
import { report, trafficColumns } from './support/report';
import { Traffic, type TrafficFigures } from './support/traffic';

export interface SoakOptions {
  connections: number;
  rooms: number;
  /** Traffic time. */
  seconds: number;
  /** Mean time between two messages of one member. */
  intervalMs: number;
  sampleMs: number;
  /** Largest accepted ratio of late to early median RSS. */
  maxRssGrowth: number;
}

/**
 * Sized for a busy 2-core machine (CI beside a second CI run and other work: load average ~16): 300
 * connections, one message per member every 40 s on average (7.5 messages and ~150 posts a second). At 20 s
 * there, SendMessage calls queued behind the emulator's cold starts met the Lambda timeout.
 */
export const SOAK_SHORT: SoakOptions = {
  connections: 300,
  rooms: 15,
  seconds: 30,
  intervalMs: 40_000,
  sampleMs: 1000,
  maxRssGrowth: 1.25,
};

export interface SoakResult {
  figures: TrafficFigures;
  connected: number;
  serverErrors: number;
  invocations: number;
  rssMb: { afterConnect: number; early: number; late: number; end: number };
  rssGrowth: number;
  /** Room and connection keys (seq, log, members, info) sampled in the second half of the traffic. */
  steadyKeys: { min: number; max: number };
  keysAfterLeave: { connectionState: number; withoutTtl: number; total: number };
  line: string;
}

const ROOT = join(__dirname, '..');
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** The gateway in a child process; counts its invocation lines and failed ones. */
class GatewayProcess {
  invocations = 0;
  failures: string[] = [];
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(redisUrl: string, secret: string): Promise<GatewayProcess> {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'local', 'cli.ts'),
        '--template',
        join(ROOT, 'template.yaml'),
        '--port',
        String(port),
        // The URL below is /local; the template's own stage (StageName) would be prod.
        '--stage',
        'local',
        '--preload',
        // As local/dev.ts sets them; the gateway fills in its own management endpoint.
        ...Object.entries(
          localFunctionEnv({ redisUrl, jwtSecret: secret, managementEndpoint: '{{managementEndpoint}}' }),
        ).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const url = `ws://127.0.0.1:${port}/local`;
    const gateway = new GatewayProcess(child, url);
    let ready = false;
    let buffered = '';
    const errors: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('] ready: ')) ready = true;
        if (!/ \d+ms$/.test(line)) continue;
        gateway.invocations++;
        if (/ timeout \d+ms$/.test(line) || / error \(/.test(line)) {
          if (gateway.failures.length < 20) gateway.failures.push(line);
          else gateway.failures.push('…');
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (errors.length < 50) errors.push(chunk.toString('utf8'));
    });
    await waitFor(() => ready || child.exitCode !== null, 'the gateway process to be ready', 60_000, 50);
    if (!ready) throw new Error(`the gateway process exited (${child.exitCode}): ${errors.join('')}`);
    return gateway;
  }

  get rss(): number {
    return this.child.pid ? rssBytes(this.child.pid) : 0;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/**
 * Keys by kind: dedupe entries (60 s each), rate-limit buckets (3 s after a connection's last send), the
 * room's connection state (members, info), the marker of connections still in their $connect (`joining`,
 * gone when the last one ends: a reconnect in flight, not steady state) and the rest (state, log).
 */
async function keyCensus(node: RedisNode) {
  const census = {
    dedupe: 0,
    buckets: 0,
    connectionState: 0,
    connecting: 0,
    room: 0,
    withoutTtl: 0,
    total: 0,
    /** Up to five keys without a TTL, for the log. */
    withoutTtlExamples: [] as string[],
  };
  let cursor = '0';
  do {
    const [next, keys] = await node.admin.scan(cursor, 'MATCH', 'room:*', 'COUNT', 1000);
    cursor = next;
    const ttls = await Promise.all(keys.map((key) => node.admin.pttl(key)));
    for (const [i, key] of keys.entries()) {
      // -2: the key expired between SCAN and PTTL (dedupe entries do, every minute); -1: no TTL.
      if (ttls[i] === -2) continue;
      census.total++;
      if (ttls[i] === -1) {
        census.withoutTtl++;
        if (census.withoutTtlExamples.length < 5) census.withoutTtlExamples.push(key);
      }
      if (/:dedupe:/.test(key)) census.dedupe++;
      else if (/:rl:/.test(key)) census.buckets++;
      else if (/:joining$/.test(key)) census.connecting++;
      else if (/:(members|info)$/.test(key)) census.connectionState++;
      else census.room++;
    }
  } while (cursor !== '0');
  return census;
}

export async function runSoakDrill(options: SoakOptions): Promise<SoakResult> {
  const node = await RedisNode.start();
  const secret = generateSecret();
  let gateway: GatewayProcess | undefined;
  let traffic: Traffic | undefined;
  try {
    const g = await GatewayProcess.start(node.url, secret);
    gateway = g;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `soak-${i}`);
    const membersPerRoom = Math.ceil(options.connections / options.rooms);
    const t = await Traffic.connect({
      rooms,
      membersPerRoom,
      intervalMs: options.intervalMs,
      // Bounded batches: a busy machine answers each handshake slower, not more of them at once.
      connectConcurrency: 10,
      urlFor: async (identity, room) =>
        `${g.url}?classRoomId=${encodeURIComponent(room)}&token=${await mintToken(secret, {
          userId: identity.userId,
          name: identity.name,
          role: identity.role,
          rooms: [room],
        })}`,
    });
    traffic = t;
    const connected = t.members.filter((m) => m.isOpen).length;
    const rssAfterConnect = g.rss;

    const samples: { at: number; rss: number; steadyKeys: number }[] = [];
    const started = Date.now();
    t.startSending();
    while (Date.now() - started < options.seconds * 1000) {
      await sleep(options.sampleMs);
      const census = await keyCensus(node);
      samples.push({
        at: Date.now() - started,
        rss: g.rss,
        steadyKeys: census.connectionState + census.room,
      });
    }
    await t.stop();
    const figures = await t.reconcile(1000);

    const quarter = (q: number) =>
      samples.filter(
        (s) => s.at > (q * options.seconds * 1000) / 4 && s.at <= ((q + 1) * options.seconds * 1000) / 4,
      );
    const early = median(quarter(1).map((s) => s.rss));
    const late = median(quarter(3).map((s) => s.rss));
    // The steady keys (per room: seq, log, members, info) from the second half on, when every room has
    // had its first message (the first sends are spread over one interval).
    const steady = samples.filter((s) => s.at > (options.seconds * 1000) / 2).map((s) => s.steadyKeys);

    await t.closeAll();
    traffic = undefined;
    // $disconnect ran for everyone; rate-limit buckets expire within 3 s.
    let after = await keyCensus(node);
    await waitFor(
      async () => {
        after = await keyCensus(node);
        return after.connectionState + after.connecting + after.buckets === 0;
      },
      'connection state gone after everyone left',
      15_000,
      250,
    ).catch(() => undefined);
    const rssEnd = g.rss;
    const serverErrors = g.failures.length;
    const result: SoakResult = {
      figures,
      connected,
      serverErrors,
      invocations: g.invocations,
      rssMb: { afterConnect: mb(rssAfterConnect), early: mb(early), late: mb(late), end: mb(rssEnd) },
      rssGrowth: early > 0 ? Math.round((late / early) * 1000) / 1000 : 0,
      steadyKeys: { min: Math.min(...steady), max: Math.max(...steady) },
      keysAfterLeave: {
        connectionState: after.connectionState + after.connecting + after.buckets,
        withoutTtl: after.withoutTtl,
        total: after.total,
      },
      line: '',
    };
    result.line = report(
      'soak',
      {
        ...trafficColumns(figures),
        connected,
        seconds: options.seconds,
        invocations: g.invocations,
        server_errors: serverErrors,
        rss_mb_after_connect: result.rssMb.afterConnect,
        rss_mb_early: result.rssMb.early,
        rss_mb_late: result.rssMb.late,
        rss_growth: result.rssGrowth,
        steady_keys_min: result.steadyKeys.min,
        steady_keys_max: result.steadyKeys.max,
        keys_after_leave: after.total,
        connection_keys_after_leave: after.connectionState + after.connecting + after.buckets,
        keys_without_ttl: after.withoutTtl,
      },
      { ...options },
    );
    for (const failure of g.failures) process.stdout.write(`[drill soak] server error: ${failure}\n`);
    for (const key of after.withoutTtlExamples) {
      const type = await node.admin.type(key);
      const size =
        type === 'zset' ? await node.admin.zcard(key) : type === 'hash' ? await node.admin.hlen(key) : 0;
      process.stdout.write(
        `[drill soak] key without TTL after everyone left: ${key} (${type}, ${size} entries)\n`,
      );
    }
    return result;
  } finally {
    await traffic?.closeAll();
    await gateway?.stop();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const r = await runSoakDrill({
      ...SOAK_SHORT,
      connections: numberArg(args, 'connections', 1000),
      rooms: numberArg(args, 'rooms', 50),
      seconds: numberArg(args, 'seconds', 60),
      intervalMs: numberArg(args, 'interval', 20_000),
    });
    return (
      r.figures.lost === 0 &&
      r.figures.duplicated === 0 &&
      r.serverErrors === 0 &&
      r.rssGrowth <= SOAK_SHORT.maxRssGrowth &&
      r.keysAfterLeave.connectionState === 0 &&
      r.keysAfterLeave.withoutTtl === 0
    );
  });
}
