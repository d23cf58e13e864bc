/**
 * Helpers for the third-party fixture tests (test/fixtures/third-party/*): each app is copied out of this
 * repository first (a project elsewhere on disk, with no node_modules of its own: only the runtime's SDK the
 * emulator provides resolves); WebSocket clients with headers; the CLI run as a user runs it; and the
 * conformance recorder, whose observations `npm run conformance` renders into local/README.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export const ROOT = join(__dirname, '..', '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'third-party');
/** Where each test file writes what it observed (one JSON per app; artifacts/ is not committed). */
export const CONFORMANCE_DIR = join(ROOT, 'artifacts', 'conformance', 'emulator');

/** The app copied to a temporary directory outside the repository; `remove()` deletes it. */
export function copyApp(app: string): { dir: string; template: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `third-party-${app}-`));
  cpSync(join(FIXTURES, app), dir, { recursive: true });
  return {
    dir,
    template: join(dir, 'template.yaml'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// ---- conformance ------------------------------------------------------------------------------------------

export interface Observation {
  /** What the emulator did, in the words of local/conformance/aws.json's `answer` for the same id. */
  observed: string;
  /** The test that saw it. */
  test: string;
}

/**
 * Collects what one app's tests observed, by behaviour id (local/conformance/aws.json), and writes it to
 * artifacts/conformance/emulator/{app}.json after the file's tests (only what was observed: a test that failed
 * before recording leaves its row "not observed").
 */
export class Conformance {
  private readonly observations: Record<string, Observation> = {};

  constructor(private readonly app: string) {
    afterAll(() => this.write());
  }

  record(id: string, observed: string | number): void {
    this.observations[id] = { observed: String(observed), test: expect.getState().currentTestName ?? '' };
  }

  private write(): void {
    mkdirSync(CONFORMANCE_DIR, { recursive: true });
    const sorted = Object.fromEntries(
      Object.entries(this.observations).sort(([a], [b]) => a.localeCompare(b)),
    );
    writeFileSync(
      join(CONFORMANCE_DIR, `${this.app}.json`),
      `${JSON.stringify({ app: this.app, observations: sorted }, null, 2)}\n`,
    );
  }
}

// ---- clients --------------------------------------------------------------------------------------------------

export class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`handshake refused with ${status}: ${body}`);
  }
}

export interface Socket {
  ws: WebSocket;
  frames: string[];
  /** The next frame not read yet; fails after `timeoutMs`, naming what came. */
  next(timeoutMs?: number): Promise<string>;
  /** The next frame, parsed. */
  json<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** Resolves true if no frame arrives within `ms`. */
  silentFor(ms: number): Promise<boolean>;
  send(value: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket (headers as a browser cannot, as wscat -H does); rejects with Refused on an HTTP answer. */
export function open(url: string, headers: Record<string, string> = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const frames: string[] = [];
    let read = 0;
    let wake: (() => void) | undefined;
    ws.on('message', (data: Buffer) => {
      frames.push(data.toString('utf8'));
      wake?.();
    });
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      ws.on('close', (code, reason) => done({ code, reason: reason.toString('utf8') })),
    );
    ws.on('error', reject);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      res.on('end', () => reject(new Refused(res.statusCode ?? 0, body)));
    });
    const next = async (timeoutMs = 5000): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      while (read >= frames.length) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no frame within ${timeoutMs} ms (got: ${frames.join(' | ') || 'none'})`);
        await new Promise<void>((done) => {
          const timer = setTimeout(done, left);
          wake = () => {
            clearTimeout(timer);
            done();
          };
        });
      }
      return frames[read++] as string;
    };
    ws.on('open', () =>
      resolve({
        ws,
        frames,
        next,
        json: async <T>(timeoutMs?: number) => JSON.parse(await next(timeoutMs)) as T,
        async silentFor(ms) {
          const before = frames.length;
          await new Promise((done) => setTimeout(done, ms));
          return frames.length === before;
        },
        send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
        closed,
        close() {
          ws.close();
          return closed;
        },
      }),
    );
  });
}

/** The status a refused handshake answered with (and its body); fails if the socket opened. */
export async function refusal(url: string, headers: Record<string, string> = {}): Promise<Refused> {
  try {
    const socket = await open(url, headers);
    await socket.close();
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
  throw new Error(`the handshake to ${url} opened a socket; a refusal was expected`);
}

/** A plain HTTP GET (no upgrade): status, Upgrade header, body. */
export function plainGet(url: string): Promise<{ status: number; upgrade?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upgrade: res.headers.upgrade, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `probe` returns a truthy value; fails naming `what`. */
type Falsy = undefined | null | false | '' | 0;

export async function until<T>(
  probe: () => T | Falsy | Promise<T | Falsy>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

// ---- the command line -----------------------------------------------------------------------------------------

export interface Cli {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** The served URL from the ready line; rejects with the output if the CLI exits first. */
  ready(timeoutMs?: number): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `npm run emulator -- <args>` as a user runs it: the same `tsx local/cli.ts`, spawned directly (npm would add
 * a shell between the test and the process it must stop).
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Cli {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.JEST_WORKER_ID;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'local/cli.ts', ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code) => {
      exitCode = code;
      done(code);
    }),
  );
  return {
    child,
    output: () => text,
    exited,
    async ready(timeoutMs = 15_000) {
      const match = await until(
        () => /ready: (ws:\/\/\S+)/.exec(text) ?? (exitCode !== undefined ? ['', ''] : undefined),
        'the ready line',
        timeoutMs,
      );
      if (!match[1]) throw new Error(`the CLI exited (${exitCode}): ${text}`);
      return match[1];
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}
