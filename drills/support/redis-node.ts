/**
 * redis-server processes the drills control: a fixed port and data directory (so a node restarts where
 * it was, with its append-only file), replicas (`--replicaof`), crash (SIGKILL), hang (SIGSTOP/SIGCONT).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { freePort, hasRedisServer } from '../../test/support/redis-server';

export interface RedisNodeOptions {
  /** Extra redis-server arguments (e.g. `['--appendonly', 'yes']`, `['--replicaof', '127.0.0.1', '6379']`). */
  args?: string[];
}

export class RedisNode {
  private child?: ChildProcess;
  private adminClient?: Redis;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
  ) {}

  static async start(options: RedisNodeOptions = {}): Promise<RedisNode> {
    if (!hasRedisServer()) {
      throw new Error(
        'redis-server is not on PATH (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)',
      );
    }
    const node = new RedisNode(
      await freePort(),
      mkdtempSync(join(tmpdir(), 'classroom-drill-redis-')),
      options.args ?? [],
    );
    await node.spawn();
    return node;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** A direct client to this node (not through the proxy), for the drill's own checks. */
  get admin(): Redis {
    if (!this.adminClient) {
      this.adminClient = new Redis(this.port, '127.0.0.1', {
        maxRetriesPerRequest: 1,
        connectTimeout: 1000,
        retryStrategy: () => 100,
      });
      this.adminClient.on('error', () => undefined);
    }
    return this.adminClient;
  }

  /** Starts (again) on the same port and directory; resolves once it accepts connections. */
  async spawn(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--dir',
        this.dir,
        ...(this.args.includes('--appendonly') ? [] : ['--appendonly', 'no']),
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
    child.stdout?.removeAllListeners('data');
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** A crash: SIGKILL, no shutdown work. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** A hang (the process stops answering, its sockets stay open). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the process and removes its directory. */
  async stop(): Promise<void> {
    this.adminClient?.disconnect();
    this.adminClient = undefined;
    if (this.running) {
      this.child?.kill('SIGCONT');
      await this.signalAndWait('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `INFO replication` as a map. */
  async replication(): Promise<Record<string, string>> {
    const text = await this.admin.info('replication');
    const out: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

/** Waits until `check` holds, polling every `everyMs`; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
