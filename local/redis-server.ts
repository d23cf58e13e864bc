/**
 * Starts a real `redis-server` on a loopback port for local runs and tests, and stops it. Used by the dev
 * server (redis-source.ts), the local Redis Cluster (redis-cluster.ts), the jest global setups, the
 * in-process invoker, the drills and the benchmarks (test/support/redis-server.ts re-exports it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisProcess {
  url: string;
  port: number;
  process: ChildProcess;
  /** Its working directory (a temp dir of its own, removed by `stop`). */
  dir: string;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** The port to listen on (default: a free one). */
  port?: number;
  /** How long to wait for "Ready to accept connections" (default 10 s). */
  readyTimeoutMs?: number;
}

export const REDIS_INSTALL_HINT =
  'Debian/Ubuntu: sudo apt-get install -y redis-server (redis-cli comes with it, in redis-tools); macOS: brew install redis';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether nothing listens on 127.0.0.1:`port` (checked by binding it for a moment). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Children still running and their directories: killed and removed when this process exits without
 * stopping them (an uncaught error, process.exit).
 */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function track(child: ChildProcess, dir: string): void {
  running.set(child, dir);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, d] of running) {
        c.kill('SIGKILL');
        rmSync(d, { recursive: true, force: true });
      }
    });
  }
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // A stopped (SIGSTOP) process handles SIGTERM only once continued.
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts redis-server with no persistence on 127.0.0.1 in a temp dir of its own; resolves once it accepts
 * connections. `extraArgs` are more command-line options (e.g. `--cluster-enabled yes`).
 */
export async function startRedisServer(
  extraArgs: string[] = [],
  options: RedisServerOptions = {},
): Promise<RedisProcess> {
  if (!hasRedisServer()) {
    throw new Error(`redis-server is not on PATH. Install it (${REDIS_INSTALL_HINT}) or set REDIS_URL.`);
  }
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'classroom-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child, dir);
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timeoutMs = options.readyTimeoutMs ?? 10_000;
      const timer = setTimeout(
        () =>
          reject(new Error(`redis-server on port ${port} did not start within ${timeoutMs} ms: ${output}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on port ${port} exited with ${code}: ${output.trim()}`));
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
  } catch (error) {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // Keep reading its log so the pipe never fills.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    dir,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
