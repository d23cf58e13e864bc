/**
 * Runs the template's functions as Lambda runs them: each function has a pool of worker threads
 * (local/lambda-worker.ts), one worker being one warm execution environment.
 *
 * - A worker has its own `process.env` (the variables Lambda sets, the template's `Environment` with
 *   Globals, then the overrides), its own module registry and module state, kept warm between invocations,
 *   and runs one invocation at a time.
 * - An invocation takes an idle worker of its function; when every worker is busy (or still starting) a new
 *   one is started (a cold start: the handler module loads), up to `maxConcurrency` workers per function
 *   (default 16); beyond that, invocations wait in a queue and their log line says how long.
 * - `Timeout` is enforced from the handler's start: the worker is terminated, as Lambda ends the sandbox,
 *   and the invocation fails with "Task timed out after N seconds". A caller's shorter limit (an
 *   integration timeout) answers the caller at that limit while the function runs on to its own timeout.
 * - A crash (an uncaught exception, an unhandled rejection, `process.exit`, running out of heap) ends only
 *   that worker: the invocation fails and the next one starts a fresh worker. An init error (the module
 *   throws at load, a missing module) fails the invocation the same way.
 * - The AWS SDK v3 packages the Node.js Lambda runtime ships (`@aws-sdk/*`, `@smithy/*`) resolve from this
 *   repository's `node_modules` when the handler's own resolution misses them (`runtimeSdk()` lists them).
 * - TypeScript handlers load with tsx's loader registered in the worker (as `npm run dev` ran them);
 *   JavaScript handlers load with plain Node: `require()` for CommonJS, `import()` for ES modules.
 *
 * `inProcess: true` keeps the former runtime (the bench's baseline): functions loaded in this process,
 * sharing its `process.env` and module state, no crash isolation.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { build, buildSync, version as esbuildVersion } from 'esbuild';
import type {
  FromWorker,
  InvokeContextFields,
  ToWorker,
  WorkerError,
  WorkerInit,
} from './lambda-worker-protocol';
import type { FunctionDef } from './template';

export type Handler = (
  event: unknown,
  context: LambdaContext,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
  done(error?: unknown, result?: unknown): void;
  fail(error: unknown): void;
  succeed(result: unknown): void;
}

export interface InvocationOutcome {
  ok: boolean;
  value?: unknown;
  error?: Error;
  /** The function ran past its `Timeout` (or the caller's shorter limit). */
  timedOut: boolean;
  /** From the call to the outcome: queue, cold start and handler. */
  durationMs: number;
  requestId: string;
  /** A worker was started for this invocation; `initMs` is its init (module load). */
  coldStart?: boolean;
  initMs?: number;
  /** Time spent waiting for a worker (every worker busy at `maxConcurrency`, or cold starts at their limit). */
  queuedMs?: number;
  queuedBecause?: string;
}

/** A module every worker loads before the handler: it exports `install(config)`. */
export interface PreloadModule {
  module: string;
  config?: unknown;
}

export interface RuntimeOptions {
  functions: Map<string, FunctionDef>;
  /** Applied to every function (like the `Parameters` section of SAM's env-vars file). */
  envOverrides?: Record<string, string>;
  /** Per function logical id (like the function sections of SAM's env-vars file). */
  functionEnv?: Record<string, Record<string, string>>;
  /** Defaults below everything else (AWS_REGION…), e.g. dummy credentials. */
  envDefaults?: Record<string, string>;
  /** AWS_REGION / AWS_DEFAULT_REGION (default: envDefaults.AWS_REGION, else us-east-1). */
  region?: string;
  /**
   * Credentials the functions get: the user's (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
   * else AWS_PROFILE) from this process's environment, else dummies (`local`) unless this is false.
   */
  dummyCredentials?: boolean;
  /** Workers per function at most (concurrent invocations); beyond, invocations queue. Default 16. */
  maxConcurrency?: number;
  /**
   * Cold starts in progress at once, over every function (default: the CPU count); a burst's other
   * invocations wait for the first worker that is ready or free.
   */
  maxConcurrentInits?: number;
  /** Init (module load) limit of a worker, as Lambda's 10 s. */
  initTimeoutMs?: number;
  /** Modules each worker runs before loading its handler (e.g. local/aws-endpoints.ts). */
  preload?: PreloadModule[];
  /** The former runtime: functions in this process, shared `process.env` and module state (bench baseline). */
  inProcess?: boolean;
  log: (line: string) => void;
}

export interface FunctionStats {
  /** Live workers (starting, idle or busy). */
  workers: number;
  busy: number;
  idle: number;
  starting: number;
  /** Invocations waiting for a worker. */
  queued: number;
  /** Workers started so far (cold starts), and the most alive at once. */
  coldStarts: number;
  peakWorkers: number;
  /** Workers ended by a timeout, a crash or an init error. */
  timeouts: number;
  crashes: number;
  initErrors: number;
}

export class LambdaTimeoutError extends Error {
  constructor(seconds: number) {
    super(`Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'LambdaTimeoutError';
  }
}

export class FunctionNotRunnableError extends Error {
  constructor(functionId: string, reason: string) {
    super(`function ${functionId} cannot run locally: ${reason}`);
    this.name = 'FunctionNotRunnableError';
  }
}

/** This repository: its `node_modules` provides the runtime's SDK and tsx. */
const REPO_ROOT = resolve(__dirname, '..');
const DEFAULT_MAX_CONCURRENCY = 16;
const DEFAULT_INIT_TIMEOUT_MS = 10_000;
/** The Lambda runtime the emulator stands for when the template names none. */
const DEFAULT_RUNTIME = 'nodejs22.x';
/** Variables of this process the workers get (a Lambda sandbox has PATH and LANG too). */
const HOST_PASSTHROUGH = ['PATH', 'LANG'];

/**
 * The runtime's SDK packages this repository provides, read from its node_modules: every `@aws-sdk/*` and
 * `@smithy/*` package at its top level, by name, with its version.
 */
export function runtimeSdk(): { root: string; packages: Record<string, string> } {
  const packages: Record<string, string> = {};
  const root = join(REPO_ROOT, 'node_modules');
  for (const scope of ['@aws-sdk', '@smithy']) {
    const dir = join(root, scope);
    for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as {
          version?: string;
        };
        packages[`${scope}/${name}`] = manifest.version ?? '?';
      } catch {
        // not a package
      }
    }
  }
  return { root, packages };
}

/** One line for logs and --help: the SDK clients handlers may use without installing them, and versions. */
export function runtimeSdkSummary(): string {
  const { root, packages } = runtimeSdk();
  const clients = Object.entries(packages)
    .filter(([name]) => /^@aws-sdk\/(client-|lib-)/.test(name))
    .map(([name, version]) => `${name.slice('@aws-sdk/'.length)} ${version}`);
  const core = ['@aws-sdk/core', '@smithy/core']
    .filter((name) => packages[name])
    .map((name) => `${name} ${packages[name]}`);
  const count = Object.keys(packages).length;
  return `${clients.length > 0 ? clients.join(', ') : 'no @aws-sdk client'}; ${core.join(', ')} (${count} @aws-sdk/@smithy packages in ${root}; a function's own copy wins)`;
}

let compiledBootstrap: string | undefined;

/**
 * A CommonJS TypeScript handler bundled as `sam build` does (esbuild: bundle, platform node, CommonJS), its
 * own code, its layers (tsconfig paths) and its packages in one file, except the packages the Lambda
 * runtime provides (`@aws-sdk/*`, `@smithy/*`: the function's own copy, else the runtime's). A worker loads
 * one file instead of hundreds: a cold start takes about a third of tsx's. Inline source map without the
 * sources (stack traces name the .ts files and lines).
 *
 * Bundles are kept in memory and in a cache directory (BUNDLE_CACHE_DIR), valid while every input file has
 * its size and mtime: a second gateway (another test file, a restart) reuses them.
 */
async function bundleHandler(
  sourceFile: string,
  tsconfig: string | undefined,
): Promise<{ code: string; cached: boolean }> {
  const key = createHash('sha1')
    .update(JSON.stringify([BUNDLE_FORMAT, sourceFile, tsconfig, esbuildVersion, process.versions.node]))
    .digest('hex');
  const remembered = bundleMemo.get(key) ?? readCachedBundle(key);
  if (remembered && inputsUnchanged(remembered)) {
    bundleMemo.set(key, remembered);
    return { code: remembered.code, cached: true };
  }
  const workingDir = dirname(sourceFile);
  const result = await build({
    entryPoints: [sourceFile],
    // Beside the handler: the map's paths (and __dirname) are relative to its directory.
    outfile: join(workingDir, `${basename(sourceFile)}.bundle.js`),
    absWorkingDir: workingDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    external: ['@aws-sdk/*', '@smithy/*'],
    sourcemap: 'inline',
    sourcesContent: false,
    metafile: true,
    ...(tsconfig ? { tsconfig } : {}),
    write: false,
    logLevel: 'silent',
  });
  const code = (result.outputFiles[0] as { text: string }).text;
  const inputs: Record<string, string> = {};
  for (const input of [...Object.keys(result.metafile.inputs), ...(tsconfig ? [tsconfig] : [])]) {
    const file = resolve(workingDir, input);
    inputs[file] = fileStamp(file);
  }
  const entry: CachedBundle = { code, inputs };
  bundleMemo.set(key, entry);
  writeCachedBundle(key, entry);
  return { code, cached: false };
}

/** Bumped when the bundle options change. */
const BUNDLE_FORMAT = 1;
const BUNDLE_CACHE_DIR = join(tmpdir(), `classroom-emulator-bundles-${process.getuid?.() ?? 'user'}`);

interface CachedBundle {
  code: string;
  /** Input file → size and mtime. */
  inputs: Record<string, string>;
}

const bundleMemo = new Map<string, CachedBundle>();

function fileStamp(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function inputsUnchanged(entry: CachedBundle): boolean {
  return Object.entries(entry.inputs).every(([file, stamp]) => fileStamp(file) === stamp);
}

function readCachedBundle(key: string): CachedBundle | undefined {
  try {
    return JSON.parse(readFileSync(join(BUNDLE_CACHE_DIR, `${key}.json`), 'utf8')) as CachedBundle;
  } catch {
    return undefined;
  }
}

function writeCachedBundle(key: string, entry: CachedBundle): void {
  try {
    mkdirSync(BUNDLE_CACHE_DIR, { recursive: true });
    const file = join(BUNDLE_CACHE_DIR, `${key}.json`);
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, JSON.stringify(entry));
    renameSync(partial, file);
  } catch {
    // A cache only.
  }
}

/** Forgets remembered bundles (a reload): the next build checks its inputs again. */
function forgetBundles(): void {
  bundleMemo.clear();
}

function firstLine(error: unknown): string {
  return (asError(error).message.split('\n')[0] ?? '').slice(0, 200);
}
const compiledPreloads = new Map<string, string>();

/** CommonJS for a TypeScript file and what it imports (packages stay `require()`s), with an inline map. */
function compileTypeScript(file: string): string {
  const result = buildSync({
    entryPoints: [file],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  return (result.outputFiles[0] as { text: string }).text;
}

/**
 * The worker's code. Node runs `eval` code as `node -e` does, with `require`, `module`, `exports`,
 * `__filename` and `__dirname` on `globalThis`: the bootstrap takes them and removes them, so that a handler
 * sees the globals it has on Lambda (an ES module has no `require`).
 */
function workerBootstrap(): string {
  compiledBootstrap ??= `((require, module, exports) => {
  for (const name of ['require', 'module', 'exports', '__filename', '__dirname']) delete globalThis[name];
  (function (require, module, exports) {
${compileTypeScript(join(__dirname, 'lambda-worker.ts'))}
  })(require, module, exports);
})(require, module, exports);
`;
  return compiledBootstrap;
}

const TYPESCRIPT = /\.[cm]?tsx?$/;

let tsxEsmApiPath: string | undefined;

/** `tsx/esm/api` as `import` resolves it (its `require` build cannot register the hooks from a worker). */
function tsxEsmApi(): string {
  if (tsxEsmApiPath) return tsxEsmApiPath;
  const manifestPath = require.resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } | string }>;
  };
  const entry = manifest.exports['./esm/api']?.import;
  const target = typeof entry === 'string' ? entry : (entry?.default ?? './dist/esm/api/index.mjs');
  tsxEsmApiPath = join(dirname(manifestPath), target);
  return tsxEsmApiPath;
}

function packageType(dir: string): 'module' | 'commonjs' {
  for (let current = dir; ; current = dirname(current)) {
    const manifest = join(current, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module'
          ? 'module'
          : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(current) === current) return 'commonjs';
  }
}

/** How Node loads a file: by extension, else by the nearest package.json's `type`. */
export function moduleFormat(file: string): 'module' | 'commonjs' {
  const ext = extname(file);
  if (ext === '.mjs' || ext === '.mts') return 'module';
  if (ext === '.cjs' || ext === '.cts') return 'commonjs';
  return packageType(dirname(file));
}

function nearestTsconfig(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const file = join(current, 'tsconfig.json');
    if (existsSync(file)) return file;
    if (dirname(current) === current) return undefined;
  }
}

/** Flags of this process a worker keeps: not the loaders (`--import tsx`…), which the worker sets up itself. */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (/^--(import|require|loader|experimental-loader)$/.test(arg) || arg === '-r') {
      i++;
      continue;
    }
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) continue;
    if (/^--(enable-source-maps|conditions=|no-warnings|trace-)/.test(arg)) out.push(arg);
  }
  return out;
}

function toError(serialized: WorkerError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}

function asError(error: unknown): Error {
  return error instanceof Error
    ? error
    : new Error(typeof error === 'string' ? error : JSON.stringify(error));
}

function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

// ---- worker pool ----------------------------------------------------------------------------------------

type SlotState = 'starting' | 'idle' | 'busy' | 'dead';

interface Slot {
  n: number;
  worker: Worker;
  state: SlotState;
  ready: Promise<number>;
  logStreamName: string;
  /** The invocation in the worker, if any. */
  current?: { id: number; onResult: (message: FromWorker & { type: 'result' }) => void };
  /** Fails the current invocation, or the init, when the worker ends. */
  onEnd?: (error: Error) => void;
  /** Reload: end the worker once its invocation is done. */
  retired: boolean;
}

interface Job {
  event: unknown;
  requestId: string;
  /** The caller stopped waiting (its own limit): a queued job is dropped. */
  abandoned: () => boolean;
  /** The outcome (ignored once the caller has its answer). */
  finished: (fields: Partial<InvocationOutcome>) => void;
}

/**
 * Cold starts in progress, over every function: at most `limit` at once (default: the CPU count). Module
 * loading is CPU-bound; twenty workers loading at once on two cores each take ten times longer, so
 * invocations of a burst wait for the first worker that is ready or free instead.
 */
class InitGate {
  private running = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly limit: number) {}

  tryAcquire(): boolean {
    if (this.running >= this.limit) return false;
    this.running++;
    return true;
  }

  release(): void {
    this.running--;
    for (const listener of [...this.listeners]) listener();
  }

  onRelease(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

type QueueReason = 'cap' | 'init';

interface Waiter {
  reason: QueueReason;
  take: (slot: Slot | undefined, cold: boolean) => void;
}

class FunctionPool {
  private readonly slots: Slot[] = [];
  /** Invocations waiting for a worker; `take(undefined)` when the runtime closes. */
  private readonly waiting: Waiter[] = [];
  private nextSlot = 1;
  private nextInvocation = 1;
  /** What a new worker gets (built once per code version: the bundle of a TypeScript handler). */
  private init?: WorkerInit;
  private preparing?: Promise<WorkerInit>;
  private closed = false;
  private readonly stopListening: () => void;
  readonly stats: FunctionStats = {
    workers: 0,
    busy: 0,
    idle: 0,
    starting: 0,
    queued: 0,
    coldStarts: 0,
    peakWorkers: 0,
    timeouts: 0,
    crashes: 0,
    initErrors: 0,
  };

  constructor(
    private readonly def: FunctionDef,
    private readonly prepare: () => Promise<WorkerInit>,
    private readonly workerEnv: (logStream: string) => Record<string, string>,
    private readonly cap: number,
    private readonly gate: InitGate,
    private readonly initTimeoutMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.stopListening = gate.onRelease(() => this.pump());
  }

  private live(): Slot[] {
    return this.slots.filter((s) => s.state !== 'dead');
  }

  snapshot(): FunctionStats {
    const live = this.live();
    return {
      ...this.stats,
      workers: live.length,
      busy: live.filter((s) => s.state === 'busy').length,
      idle: live.filter((s) => s.state === 'idle').length,
      starting: live.filter((s) => s.state === 'starting').length,
      queued: this.waiting.length,
    };
  }

  /** The worker init, built on first use and after a reload. */
  private prepared(): Promise<WorkerInit> {
    if (this.init) return Promise.resolve(this.init);
    if (!this.preparing) {
      const preparing = this.prepare().then((init) => {
        if (this.preparing === preparing) this.init = init;
        return init;
      });
      this.preparing = preparing;
      preparing.catch(() => {
        if (this.preparing === preparing) this.preparing = undefined;
      });
    }
    return this.preparing;
  }

  /** Starts a worker (the caller holds an init slot); it is busy (reserved) until its init ends. */
  private start(init: WorkerInit): Slot {
    const stream = logStreamName();
    const worker = new Worker(workerBootstrap(), {
      eval: true,
      workerData: init,
      env: this.workerEnv(stream),
      execArgv: workerExecArgv(),
      resourceLimits: { maxOldGenerationSizeMb: Math.max(this.def.memoryMb, 64) },
    });
    let readyResolve: (ms: number) => void = () => {};
    let readyReject: (error: Error) => void = () => {};
    const ready = new Promise<number>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => {});
    const slot: Slot = {
      n: this.nextSlot++,
      worker,
      state: 'starting',
      ready,
      logStreamName: stream,
      retired: false,
    };
    this.slots.push(slot);
    this.stats.coldStarts++;
    this.stats.peakWorkers = Math.max(this.stats.peakWorkers, this.live().length);
    let initDone = false;
    const endInit = () => {
      if (initDone) return;
      initDone = true;
      clearTimeout(initTimer);
      this.gate.release();
    };
    const initTimer = setTimeout(() => {
      this.stats.initErrors++;
      this.end(slot, new Error(`Init timed out after ${(this.initTimeoutMs / 1000).toFixed(2)} seconds`));
    }, this.initTimeoutMs);
    slot.onEnd = (error) => {
      endInit();
      readyReject(error);
    };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        slot.onEnd = undefined;
        readyResolve(message.initMs);
        this.log(
          `cold start ${this.def.logicalId}: worker ${slot.n} ready in ${message.initMs} ms (${this.live().length} of at most ${this.cap})`,
        );
        endInit();
      } else if (message.type === 'init-error') {
        this.stats.initErrors++;
        this.end(slot, toError(message.error), false);
      } else if (message.type === 'result' && slot.current?.id === message.id) {
        slot.current.onResult(message);
      }
    });
    worker.on('error', (error: Error) => {
      if (slot.state === 'dead') return;
      this.stats.crashes++;
      this.end(slot, error, true);
    });
    worker.on('exit', (code: number) => {
      if (slot.state === 'dead') return;
      this.stats.crashes++;
      const error = new Error(
        code === 0
          ? 'Runtime exited without providing a reason'
          : `Runtime exited with error: exit status ${code}`,
      );
      error.name = 'Runtime.ExitError';
      this.end(slot, error, true);
    });
    return slot;
  }

  /** Ends a worker (terminated if still running) and fails what it was doing with `error`. */
  private end(slot: Slot, error: Error, report = true): void {
    if (slot.state === 'dead') return;
    const wasBusy = slot.state === 'busy' || slot.state === 'starting';
    slot.state = 'dead';
    void slot.worker.terminate().catch(() => {});
    this.slots.splice(this.slots.indexOf(slot), 1);
    const onEnd = slot.onEnd;
    slot.onEnd = undefined;
    onEnd?.(error);
    if (report)
      this.log(
        `${this.def.logicalId}: worker ${slot.n} ended${wasBusy ? '' : ' while idle'} (${error.name}: ${error.message})`,
      );
    this.pump();
  }

  /** Starts workers for queued invocations while under the cap and the cold-start limit. */
  private pump(): void {
    if (this.closed || this.waiting.length === 0) return;
    if (!this.init) {
      // A reload in between: build first.
      void this.prepared().then(
        () => this.pump(),
        (error: unknown) => {
          for (const waiter of this.waiting.splice(0)) waiter.take(undefined, false);
          this.log(`${this.def.logicalId}: ${asError(error).message}`);
        },
      );
      return;
    }
    while (this.waiting.length > 0 && this.live().length < this.cap && this.gate.tryAcquire()) {
      const waiter = this.waiting.shift() as Waiter;
      waiter.take(this.start(this.init), true);
    }
  }

  private acquire(init: WorkerInit): Promise<{ slot?: Slot; cold: boolean; queued?: Queued }> {
    const idle = this.slots.find((s) => s.state === 'idle');
    if (idle) {
      idle.state = 'busy';
      idle.worker.ref();
      return Promise.resolve({ slot: idle, cold: false });
    }
    const underCap = this.live().length < this.cap;
    if (underCap && this.gate.tryAcquire()) return Promise.resolve({ slot: this.start(init), cold: true });
    const since = performance.now();
    const reason: QueueReason = underCap ? 'init' : 'cap';
    return new Promise((resolveSlot) =>
      this.waiting.push({
        reason,
        take: (slot, cold) =>
          resolveSlot({
            slot,
            cold,
            queued: {
              ms: Math.round(performance.now() - since),
              reason:
                reason === 'cap'
                  ? `${this.cap} workers busy`
                  : `cold starts limited to ${this.gate.limit} at a time`,
            },
          }),
      }),
    );
  }

  private release(slot: Slot): void {
    if (slot.state === 'dead') return;
    slot.current = undefined;
    slot.onEnd = undefined;
    if (slot.retired) {
      slot.state = 'dead';
      this.slots.splice(this.slots.indexOf(slot), 1);
      void slot.worker.terminate().catch(() => {});
      this.pump();
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) {
      slot.state = 'busy';
      waiter.take(slot, false);
    } else {
      // An idle worker does not keep the process alive (a busy one does).
      slot.state = 'idle';
      slot.worker.unref();
    }
  }

  /** Starts one worker now (preload); rejects with its init error. */
  async warm(): Promise<void> {
    const init = await this.prepared();
    if (this.live().length >= this.cap) return;
    while (!this.gate.tryAcquire()) {
      await new Promise<void>((resolve) => {
        const stop = this.gate.onRelease(() => {
          stop();
          resolve();
        });
      });
    }
    const slot = this.start(init);
    await slot.ready;
    this.release(slot);
  }

  async run(job: Job): Promise<void> {
    let init: WorkerInit;
    try {
      init = await this.prepared();
    } catch (error) {
      job.finished({ error: asError(error) });
      return;
    }
    const { slot, cold, queued } = await this.acquire(init);
    const queuedMs = queued?.ms;
    const queuedBecause = queued?.reason;
    if (!slot) {
      const closed = new Error('the function runtime is closed');
      closed.name = 'RuntimeClosed';
      job.finished({ error: closed, queuedMs, queuedBecause });
      return;
    }
    if (job.abandoned()) {
      if (cold) await slot.ready.catch(() => {});
      this.release(slot);
      return;
    }
    let initMs: number | undefined;
    if (cold) {
      try {
        initMs = await slot.ready;
      } catch (error) {
        job.finished({ error: asError(error), coldStart: true, queuedMs, queuedBecause });
        return;
      }
      slot.state = 'busy';
    }
    const notes = { coldStart: cold, initMs, queuedMs, queuedBecause };
    const timeoutMs = this.def.timeoutSeconds * 1000;
    const id = this.nextInvocation++;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        slot.onEnd = undefined;
        job.finished({ ...notes, error: new LambdaTimeoutError(this.def.timeoutSeconds), timedOut: true });
        // Lambda ends the sandbox of a timed-out invocation: nothing of it runs on.
        this.end(slot, new LambdaTimeoutError(this.def.timeoutSeconds), false);
        done();
      }, timeoutMs);
      slot.onEnd = (error) => {
        clearTimeout(timer);
        job.finished({ ...notes, error });
        done();
      };
      slot.current = {
        id,
        onResult: (message) => {
          clearTimeout(timer);
          if (message.ok) {
            let value: unknown;
            try {
              value = message.json === undefined ? undefined : JSON.parse(message.json);
            } catch (error) {
              job.finished({ ...notes, error: asError(error) });
              this.release(slot);
              done();
              return;
            }
            job.finished({ ...notes, ok: true, value });
          } else {
            job.finished({ ...notes, error: toError(message.error) });
          }
          this.release(slot);
          done();
        },
      };
      const context: InvokeContextFields = {
        functionName: this.def.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: this.def.arn,
        memoryLimitInMB: String(this.def.memoryMb),
        awsRequestId: job.requestId,
        logGroupName: `/aws/lambda/${this.def.name}`,
        logStreamName: slot.logStreamName,
      };
      const message: ToWorker = {
        type: 'invoke',
        id,
        event: job.event,
        deadline: Date.now() + timeoutMs,
        context,
      };
      try {
        slot.worker.postMessage(message);
      } catch (error) {
        // An event that cannot be cloned.
        clearTimeout(timer);
        slot.current = undefined;
        job.finished({ ...notes, error: asError(error) });
        this.release(slot);
        done();
      }
    });
  }

  /** Ends idle workers now and busy ones after their invocation (their code changed); rebuilds on next use. */
  retireAll(): void {
    this.init = undefined;
    this.preparing = undefined;
    for (const slot of [...this.slots]) {
      if (slot.state === 'idle') {
        slot.state = 'dead';
        this.slots.splice(this.slots.indexOf(slot), 1);
        void slot.worker.terminate().catch(() => {});
      } else {
        slot.retired = true;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopListening();
    const closed = new Error('the function runtime is closed');
    closed.name = 'RuntimeClosed';
    for (const waiter of this.waiting.splice(0)) waiter.take(undefined, false);
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        slot.state = 'dead';
        const onEnd = slot.onEnd;
        slot.onEnd = undefined;
        onEnd?.(closed);
        return slot.worker.terminate().catch(() => {});
      }),
    );
  }
}

interface Queued {
  ms: number;
  reason: string;
}

// ---- the runtime -----------------------------------------------------------------------------------------

export class FunctionRuntime {
  /** What the template and the overrides give each function (template, overrides, per-function overrides). */
  readonly environments = new Map<string, Record<string, string>>();
  private readonly pools = new Map<string, FunctionPool>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly inProcess?: InProcessFunctions;
  private readonly maxConcurrency: number;
  private readonly gate: InitGate;
  private closed = false;

  constructor(private readonly options: RuntimeOptions) {
    for (const [id, def] of options.functions) {
      this.environments.set(id, {
        ...def.environment,
        ...options.envOverrides,
        ...options.functionEnv?.[id],
      });
    }
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY);
    this.gate = new InitGate(Math.max(1, options.maxConcurrentInits ?? availableParallelism()));
    if (options.inProcess) this.inProcess = new InProcessFunctions(options, this.environments);
  }

  get region(): string {
    return this.options.region ?? this.options.envDefaults?.AWS_REGION ?? 'us-east-1';
  }

  /**
   * The whole environment a worker of the function gets (`logStream`: its AWS_LAMBDA_LOG_STREAM_NAME), from
   * lowest to highest precedence: `envDefaults`; PATH, LANG and AWS_SDK_JS_* of this process; credentials
   * (this process's, else dummies); the variables Lambda sets; the template's; the overrides.
   */
  workerEnvironment(functionId: string, logStream = logStreamName()): Record<string, string> {
    const def = this.options.functions.get(functionId);
    if (!def) throw new FunctionNotRunnableError(functionId, 'not a function of the template');
    const extra = def as FunctionDef & { runtime?: string; handler?: string };
    const env: Record<string, string> = { ...this.options.envDefaults };
    for (const name of HOST_PASSTHROUGH) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    // The SDK warns about the host's Node.js version, not the Lambda runtime's.
    env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    for (const [name, value] of Object.entries(process.env)) {
      if (name.startsWith('AWS_SDK_JS_') && value !== undefined) env[name] = value;
    }
    Object.assign(env, this.credentials(env));
    const taskRoot = def.codeDir ?? (def.sourceFile ? dirname(def.sourceFile) : REPO_ROOT);
    const handler =
      extra.handler ??
      (def.sourceFile
        ? `${relative(taskRoot, def.sourceFile).slice(0, -extname(def.sourceFile).length).split(sep).join('/')}.${def.exportName}`
        : `index.${def.exportName}`);
    Object.assign(env, {
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      AWS_LAMBDA_FUNCTION_NAME: def.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(def.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${def.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStream,
      AWS_EXECUTION_ENV: `AWS_Lambda_${extra.runtime ?? DEFAULT_RUNTIME}`,
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: REPO_ROOT,
      LANG: env.LANG ?? 'en_US.UTF-8',
      TZ: ':UTC',
      _HANDLER: handler,
    });
    return { ...env, ...this.environments.get(functionId) };
  }

  private credentials(base: Record<string, string>): Record<string, string> {
    const host = process.env;
    if (host.AWS_ACCESS_KEY_ID && host.AWS_SECRET_ACCESS_KEY) {
      return {
        AWS_ACCESS_KEY_ID: host.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: host.AWS_SECRET_ACCESS_KEY,
        ...(host.AWS_SESSION_TOKEN ? { AWS_SESSION_TOKEN: host.AWS_SESSION_TOKEN } : {}),
      };
    }
    if (host.AWS_PROFILE) {
      const out: Record<string, string> = { AWS_PROFILE: host.AWS_PROFILE };
      for (const name of ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'HOME']) {
        const value = host[name];
        if (value !== undefined) out[name] = value;
      }
      return out;
    }
    if (base.AWS_ACCESS_KEY_ID || this.options.dummyCredentials === false) return {};
    return { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_SESSION_TOKEN: 'local' };
  }

  /** Says how functions run (and, in process, writes the merged environment into `process.env`). */
  applyEnvironment(): void {
    if (this.inProcess) {
      this.inProcess.applyEnvironment();
      this.options.log('functions run in this process (inProcess): shared process.env and module state');
      return;
    }
    this.options.log(
      `functions run in worker threads: up to ${this.maxConcurrency} per function, each with its own environment and module state`,
    );
    this.options.log(`runtime SDK: ${runtimeSdkSummary()}`);
  }

  /** In process: restores `process.env`. Workers: ends them (as `close()`, without waiting). */
  restoreEnvironment(): void {
    this.inProcess?.restoreEnvironment();
    if (!this.inProcess) void this.close();
  }

  /** Reload: every function's workers end (idle ones now, busy ones after their invocation). */
  invalidate(dirs: string[]): void {
    if (this.inProcess) {
      this.inProcess.invalidate(dirs);
      return;
    }
    forgetBundles();
    for (const pool of this.pools.values()) pool.retireAll();
  }

  /** Starts a warm worker now (instead of at the first invocation); rejects with its init error. */
  async preload(functionId: string): Promise<void> {
    if (this.inProcess) {
      this.inProcess.load(functionId);
      return;
    }
    const error = await this.pool(functionId)
      .warm()
      .then(
        () => undefined,
        (e: unknown) => asError(e),
      );
    if (error) throw error;
  }

  /** Workers per function (live, busy, queued, cold starts, crashes…). */
  stats(): Record<string, FunctionStats> {
    return Object.fromEntries([...this.pools].map(([id, pool]) => [id, pool.snapshot()]));
  }

  /** Resolves when every invocation started so far has answered its caller. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Ends every worker (queued invocations fail); in process, restores `process.env`. */
  async close(): Promise<void> {
    this.closed = true;
    this.inProcess?.restoreEnvironment();
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }

  /**
   * Invokes a function. Never rejects: a throw, an init error, a crash or a timeout comes back as
   * `ok: false`. `limitMs` answers the caller at that limit when it is below the function's Timeout (an
   * integration timeout); the function itself runs on to its own Timeout.
   */
  invoke(functionId: string, event: unknown, limitMs?: number): Promise<InvocationOutcome> {
    const promise = this.inProcess
      ? this.inProcess.invoke(functionId, event, limitMs)
      : this.runInWorker(functionId, event, limitMs);
    this.inflight.add(promise);
    void promise.finally(() => this.inflight.delete(promise));
    return promise;
  }

  private pool(functionId: string): FunctionPool {
    const existing = this.pools.get(functionId);
    if (existing) return existing;
    const def = this.options.functions.get(functionId);
    if (!def) throw new FunctionNotRunnableError(functionId, 'not a function of the template');
    if (def.problem || !def.sourceFile)
      throw new FunctionNotRunnableError(functionId, def.problem ?? 'no source file');
    if (this.closed) throw new FunctionNotRunnableError(functionId, 'the runtime is closed');
    const sourceFile = def.sourceFile;
    const pool = new FunctionPool(
      def,
      () => this.workerInit(def, sourceFile),
      (stream) => this.workerEnvironment(functionId, stream),
      this.maxConcurrency,
      this.gate,
      this.options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS,
      this.options.log,
    );
    this.pools.set(functionId, pool);
    return pool;
  }

  /** What a worker of the function gets: for a CommonJS TypeScript handler, its bundle. */
  private async workerInit(def: FunctionDef, sourceFile: string): Promise<WorkerInit> {
    const typescript = TYPESCRIPT.test(sourceFile);
    const format = moduleFormat(sourceFile);
    const tsconfig = typescript ? nearestTsconfig(dirname(sourceFile)) : undefined;
    let bundle: string | undefined;
    if (typescript && format === 'commonjs') {
      const started = performance.now();
      try {
        const bundled = await bundleHandler(sourceFile, tsconfig);
        bundle = bundled.code;
        if (!bundled.cached)
          this.options.log(
            `bundle ${def.logicalId}: ${relative(process.cwd(), sourceFile)} in ${Math.round(performance.now() - started)} ms (${Math.round(bundle.length / 1024)} KB; @aws-sdk/* and @smithy/* from the runtime)`,
          );
      } catch (error) {
        this.options.log(
          `bundle ${def.logicalId}: esbuild could not bundle ${sourceFile} (${firstLine(error)}); it loads with tsx instead`,
        );
      }
    }
    return {
      functionId: def.logicalId,
      sourceFile,
      exportName: def.exportName,
      format,
      typescript,
      tsconfig,
      bundle,
      tsxCjsApi: require.resolve('tsx/cjs/api'),
      tsxEsmApi: tsxEsmApi(),
      runtimeSdkParent: join(REPO_ROOT, 'package.json'),
      preload: (this.options.preload ?? []).map(({ module, config }) => {
        if (!TYPESCRIPT.test(module)) return { filename: module, config };
        let code = compiledPreloads.get(module);
        if (code === undefined) {
          code = compileTypeScript(module);
          compiledPreloads.set(module, code);
        }
        return { filename: module, code, config };
      }),
    };
  }

  private runInWorker(functionId: string, event: unknown, limitMs?: number): Promise<InvocationOutcome> {
    const requestId = randomUUID();
    const started = performance.now();
    return new Promise<InvocationOutcome>((resolveOutcome) => {
      let answered = false;
      let limitTimer: NodeJS.Timeout | undefined;
      const settle = (fields: Partial<InvocationOutcome>) => {
        if (answered) return;
        answered = true;
        clearTimeout(limitTimer);
        resolveOutcome({
          ok: false,
          timedOut: false,
          requestId,
          durationMs: Math.round(performance.now() - started),
          ...fields,
        });
      };
      let pool: FunctionPool;
      try {
        pool = this.pool(functionId);
      } catch (error) {
        settle({ error: asError(error) });
        return;
      }
      const def = this.options.functions.get(functionId) as FunctionDef;
      if (limitMs !== undefined && limitMs < def.timeoutSeconds * 1000) {
        limitTimer = setTimeout(
          () => settle({ error: new LambdaTimeoutError(limitMs / 1000), timedOut: true }),
          limitMs,
        );
      }
      void pool
        .run({ event, requestId, abandoned: () => answered, finished: settle })
        .catch((error: unknown) => settle({ error: asError(error) }));
    });
  }
}

/** The one log line of an invocation: trigger, function, connection, status, duration (queue wait noted). */
export function invocationLine(
  trigger: string,
  functionId: string,
  connectionId: string | undefined,
  status: string,
  durationMs: number,
  outcome?: Pick<InvocationOutcome, 'queuedMs' | 'queuedBecause'>,
): string {
  const queued =
    outcome?.queuedMs !== undefined
      ? ` (queued ${outcome.queuedMs} ms${outcome.queuedBecause ? `: ${outcome.queuedBecause}` : ''})`
      : '';
  return `${trigger} ${functionId}${connectionId ? ` ${connectionId}` : ''}${queued} ${status} ${durationMs}ms`;
}

// ---- the former in-process runtime (inProcess: true) ------------------------------------------------------

/** Makes `require()` of `.ts` files work outside tsx and jest (plain `node`). */
function ensureTypeScriptLoader(): void {
  if (process.env.JEST_WORKER_ID !== undefined) return; // ts-jest transforms required files itself
  if (require.extensions?.['.ts']) return; // already under tsx (or another TS hook)
  (require('tsx/cjs/api') as { register: () => void }).register();
}

/**
 * Functions loaded in this process: the union of every function's environment is written into
 * `process.env` (the first function's value wins a conflict, except while a function's module loads);
 * module state is shared by functions with one source; a timed-out handler runs on in the background.
 */
class InProcessFunctions {
  private readonly loaded = new Map<string, { handler: Handler; logStreamName: string }>();
  private readonly previousEnv = new Map<string, string | undefined>();

  constructor(
    private readonly options: RuntimeOptions,
    private readonly environments: Map<string, Record<string, string>>,
  ) {}

  applyEnvironment(): void {
    const merged: Record<string, string> = { ...this.options.envOverrides };
    for (const env of this.environments.values()) {
      for (const [name, value] of Object.entries(env)) merged[name] ??= value;
    }
    const region = this.options.region ?? this.options.envDefaults?.AWS_REGION ?? 'us-east-1';
    const defaults: Record<string, string> = {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      ...(this.options.dummyCredentials !== false
        ? { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }
        : {}),
      ...this.options.envDefaults,
    };
    const hasCredentials = process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE;
    for (const [name, value] of Object.entries(defaults)) {
      if (hasCredentials && /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)$/.test(name)) continue;
      if (!(name in merged) && process.env[name] === undefined) merged[name] = value;
    }
    for (const [name, value] of Object.entries(merged)) {
      if (!this.previousEnv.has(name)) this.previousEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
  }

  restoreEnvironment(): void {
    for (const [name, value] of this.previousEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    this.previousEnv.clear();
  }

  invalidate(dirs: string[]): void {
    this.loaded.clear();
    const prefixes = dirs.map((d) => (d.endsWith(sep) ? d : d + sep));
    for (const key of Object.keys(require.cache ?? {})) {
      if (prefixes.some((p) => key.startsWith(p))) delete require.cache[key];
    }
  }

  load(functionId: string): { handler: Handler; logStreamName: string } {
    const cached = this.loaded.get(functionId);
    if (cached) return cached;
    const def = this.options.functions.get(functionId);
    if (!def) throw new FunctionNotRunnableError(functionId, 'not a function of the template');
    if (def.problem || !def.sourceFile)
      throw new FunctionNotRunnableError(functionId, def.problem ?? 'no source file');
    ensureTypeScriptLoader();
    // Cold start: this function's own values.
    const own = this.environments.get(functionId) ?? {};
    const swapped = Object.keys(own).map((name) => [name, process.env[name]] as const);
    for (const [name] of swapped) process.env[name] = own[name];
    let mod: Record<string, unknown>;
    try {
      mod = require(def.sourceFile) as Record<string, unknown>;
    } finally {
      for (const [name, value] of swapped) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    const fromDefault = (mod.default as Record<string, unknown> | undefined)?.[def.exportName];
    const handler = (mod[def.exportName] ?? fromDefault) as Handler | undefined;
    if (typeof handler !== 'function') {
      throw new FunctionNotRunnableError(
        functionId,
        `${def.sourceFile} does not export a function "${def.exportName}"`,
      );
    }
    const loaded = { handler, logStreamName: logStreamName() };
    this.loaded.set(functionId, loaded);
    return loaded;
  }

  async invoke(functionId: string, event: unknown, limitMs?: number): Promise<InvocationOutcome> {
    const requestId = randomUUID();
    const started = performance.now();
    const def = this.options.functions.get(functionId);
    const timeoutMs = (def?.timeoutSeconds ?? 3) * 1000;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const outcome = (fields: Partial<InvocationOutcome>): InvocationOutcome => ({
      ok: false,
      timedOut: false,
      requestId,
      durationMs: Math.round(performance.now() - started),
      ...fields,
    });
    try {
      const loaded = this.load(functionId);
      const context = inProcessContext(def as FunctionDef, requestId, deadline, loaded.logStreamName);
      const waitMs = limitMs !== undefined ? Math.min(limitMs, timeoutMs) : timeoutMs;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LambdaTimeoutError(waitMs / 1000)), waitMs);
      });
      const value = await Promise.race([callHandler(loaded.handler, event, context), timeout]);
      return outcome({ ok: true, value });
    } catch (error) {
      const err = asError(error);
      return outcome({ error: err, timedOut: err instanceof LambdaTimeoutError });
    } finally {
      clearTimeout(timer);
    }
  }
}

function inProcessContext(
  def: FunctionDef,
  requestId: string,
  deadline: number,
  stream: string,
): LambdaContext {
  const context: LambdaContext = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: def.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: def.arn,
    memoryLimitInMB: String(def.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${def.name}`,
    logStreamName: stream,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
  return context;
}

/** Calls an async handler, or a callback-style one (three parameters, no promise returned). */
function callHandler(handler: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const callback = (error?: unknown, result?: unknown) => (error ? reject(error) : resolvePromise(result));
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error ?? 'handled');
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolvePromise, reject);
      } else if (handler.length < 3) {
        resolvePromise(returned);
      }
    } catch (error) {
      reject(error);
    }
  });
}
