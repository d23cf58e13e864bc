/**
 * Runs one e2e comparison side: the server under test in one child process and the load generator in
 * another (so neither shares an event loop with the other or with this orchestrator), and the server's
 * CPU time over each measurement window.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../lib/bundle';
import {
  BENCH_GATEWAY_RUNTIME_ENV,
  BENCH_JWT_SECRET_ENV,
  BENCH_PREWARM_ENV,
  type LoadResult,
  type LoadToParent,
  type ServerToParent,
} from './protocol';

export interface E2EOptions {
  target: 'gateway' | 'socketio';
  /** The gateway's function runtime (default: workers). */
  runtime?: 'workers' | 'inProcess';
  /** Workers: SendMessageFunction workers started before the run. */
  prewarm?: number;
  redisUrl: string;
  secret: string;
  clients: number;
  roomSize: number;
  seconds: number;
  saturatedSeconds: number;
  thinkMs: number;
}

export interface E2EResult {
  load: LoadResult;
  /** Server CPU milliseconds per phase window (every thread of the process). */
  serverCpuMs: Record<string, number>;
  /** Server RSS (MB) and live function workers at the end of each phase window. */
  serverRssMb: Record<string, number>;
  serverWorkers: Record<string, number>;
  /** Lines the server printed to stderr, by kind (the SDK's request-timeout and socket warnings are counted). */
  serverWarnings: Record<string, number>;
}

export function tsxChild(file: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

function exited(child: ChildProcess, name: string): Promise<never> {
  return new Promise((_resolve, reject) =>
    child.once('exit', (code) => reject(new Error(`${name} exited early (${code})`))),
  );
}

/** Counts the SDK's repeated warnings instead of printing thousands of lines; passes anything else on. */
function watchStderr(child: ChildProcess, warnings: Record<string, number>): void {
  if (!child.stderr) return;
  createInterface({ input: child.stderr }).on('line', (line) => {
    const kind = /requestTimeout/.test(line)
      ? 'sdk_request_timeout'
      : /socket usage at capacity/.test(line)
        ? 'sdk_socket_queue'
        : /^(See https|or increase socketAcquisitionWarningTimeout)/.test(line)
          ? undefined
          : 'other';
    if (kind === undefined) return;
    warnings[kind] = (warnings[kind] ?? 0) + 1;
    if (kind === 'other') process.stderr.write(`${line}\n`);
  });
}

export async function runE2E(options: E2EOptions): Promise<E2EResult> {
  const env = {
    BENCH_REDIS_URL: options.redisUrl,
    [BENCH_JWT_SECRET_ENV]: options.secret,
    [BENCH_GATEWAY_RUNTIME_ENV]: options.runtime ?? 'workers',
    [BENCH_PREWARM_ENV]: String(options.prewarm ?? 0),
  };
  const warnings: Record<string, number> = {};
  const server = tsxChild(`server-${options.target}.ts`, [], env);
  watchStderr(server, warnings);
  const serverExit = exited(server, `${options.target} server`);
  serverExit.catch(() => undefined);
  type CpuReply = Extract<ServerToParent, { type: 'cpu' }>;
  const cpuReplies: ((reply: CpuReply) => void)[] = [];
  server.on('message', (message: ServerToParent) => {
    if (message.type === 'cpu') cpuReplies.shift()?.(message);
  });
  const askCpu = () =>
    new Promise<CpuReply>((resolve) => {
      cpuReplies.push(resolve);
      server.send({ type: 'cpu' });
    });
  try {
    const url = await Promise.race([
      serverExit,
      new Promise<string>((resolve) =>
        server.on('message', (message: ServerToParent) => message.type === 'ready' && resolve(message.url)),
      ),
    ]);
    const load = tsxChild(
      'load.ts',
      [
        `--target=${options.target}`,
        `--url=${url}`,
        `--clients=${options.clients}`,
        `--room-size=${options.roomSize}`,
        `--seconds=${options.seconds}`,
        `--saturated-seconds=${options.saturatedSeconds}`,
        `--think-ms=${options.thinkMs}`,
      ],
      env,
    );
    watchStderr(load, warnings);
    const loadExit = exited(load, 'load generator');
    loadExit.catch(() => undefined);
    const cpuAt: Record<string, Promise<CpuReply>> = {};
    const result = await Promise.race([
      serverExit,
      loadExit,
      new Promise<LoadResult>((resolve) =>
        load.on('message', (message: LoadToParent) => {
          if (message.type === 'window-start') cpuAt[`${message.phase}:start`] = askCpu();
          else if (message.type === 'window-end') cpuAt[`${message.phase}:end`] = askCpu();
          else if (message.type === 'result') resolve(message.result);
        }),
      ),
    ]);
    const serverCpuMs: Record<string, number> = {};
    const serverRssMb: Record<string, number> = {};
    const serverWorkers: Record<string, number> = {};
    const cpu = (r: CpuReply) => r.userMs + r.systemMs;
    for (const phase of result.phases) {
      const start = cpuAt[`${phase.phase}:start`];
      const end = cpuAt[`${phase.phase}:end`];
      if (!start || !end) continue;
      const [atStart, atEnd] = [await start, await end];
      serverCpuMs[phase.phase] = cpu(atEnd) - cpu(atStart);
      serverRssMb[phase.phase] = atEnd.rssBytes / 2 ** 20;
      if (atEnd.workers !== undefined) serverWorkers[phase.phase] = atEnd.workers;
    }
    return { load: result, serverCpuMs, serverRssMb, serverWorkers, serverWarnings: warnings };
  } finally {
    if (server.exitCode === null) {
      server.send({ type: 'stop' });
      const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
      await new Promise((resolve) => server.once('exit', resolve));
      clearTimeout(timer);
    }
  }
}
