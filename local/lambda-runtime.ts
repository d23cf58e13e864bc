/**
 * Runs the template's functions in this process, like warm Lambda containers: each handler module is
 * loaded once (its module state persists across invocations), invocations run concurrently, the
 * function's `Timeout` is enforced and a Lambda-like `context` is passed.
 *
 * Environment rule: functions share this process's `process.env`. At start the union of every
 * function's resolved `Environment` (plus overrides) is written into `process.env`. When two functions
 * give one variable different values, that is reported as a conflict; `process.env` then holds the first
 * function's value, except while a function's module is being loaded (its cold start), when it holds
 * that function's own value. So code that must see its function's own value reads it at module scope.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sep } from 'node:path';
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
  durationMs: number;
  requestId: string;
}

export interface EnvConflict {
  name: string;
  /** function logical id -> its value */
  values: Record<string, string>;
}

export interface RuntimeOptions {
  functions: Map<string, FunctionDef>;
  /** Applied to every function (like the `Parameters` section of SAM's env-vars file). */
  envOverrides?: Record<string, string>;
  /** Per function logical id (like the function sections of SAM's env-vars file). */
  functionEnv?: Record<string, Record<string, string>>;
  /** Extra process-wide defaults, set only when the variable is not set yet (AWS_REGION…). */
  envDefaults?: Record<string, string>;
  log: (line: string) => void;
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

/** Makes `require()` of `.ts` files work outside tsx and jest (plain `node`). */
function ensureTypeScriptLoader(): void {
  if (process.env.JEST_WORKER_ID !== undefined) return; // ts-jest transforms required files itself
  if (require.extensions?.['.ts']) return; // already under tsx (or another TS hook)
  (require('tsx/cjs/api') as { register: () => void }).register();
}

interface LoadedFunction {
  handler: Handler;
  logStreamName: string;
}

export class FunctionRuntime {
  /** Effective environment of each function: template, then overrides, then per-function overrides. */
  readonly environments = new Map<string, Record<string, string>>();
  readonly conflicts: EnvConflict[] = [];
  private readonly loaded = new Map<string, LoadedFunction>();
  private readonly previousEnv = new Map<string, string | undefined>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly options: RuntimeOptions) {
    for (const [id, def] of options.functions) {
      this.environments.set(id, {
        ...def.environment,
        ...options.envOverrides,
        ...options.functionEnv?.[id],
      });
    }
    const seen = new Map<string, { id: string; value: string }>();
    const conflicts = new Map<string, EnvConflict>();
    for (const [id, env] of this.environments) {
      for (const [name, value] of Object.entries(env)) {
        const first = seen.get(name);
        if (!first) seen.set(name, { id, value });
        else if (first.value !== value) {
          const conflict = conflicts.get(name) ?? { name, values: { [first.id]: first.value } };
          conflict.values[id] = value;
          conflicts.set(name, conflict);
        }
      }
    }
    this.conflicts.push(...conflicts.values());
  }

  /** Writes the merged environment into `process.env` (undone by `restoreEnvironment`). */
  applyEnvironment(): void {
    const merged: Record<string, string> = { ...this.options.envOverrides };
    for (const env of this.environments.values()) {
      for (const [name, value] of Object.entries(env)) merged[name] ??= value;
    }
    for (const [name, value] of Object.entries(this.options.envDefaults ?? {})) {
      if (!(name in merged) && process.env[name] === undefined) merged[name] = value;
    }
    for (const [name, value] of Object.entries(merged)) this.setEnv(name, value);
    for (const conflict of this.conflicts) {
      const detail = Object.entries(conflict.values)
        .map(([id, v]) => `${id}=${JSON.stringify(v)}`)
        .join(', ');
      this.options.log(
        `env conflict: ${conflict.name} differs between functions (${detail}); each sees its own value only at cold start`,
      );
    }
  }

  restoreEnvironment(): void {
    for (const [name, value] of this.previousEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    this.previousEnv.clear();
  }

  /** Forgets loaded modules (and, outside jest, their require cache entries under `dirs`). */
  invalidate(dirs: string[]): void {
    this.loaded.clear();
    const prefixes = dirs.map((d) => (d.endsWith(sep) ? d : d + sep));
    for (const key of Object.keys(require.cache ?? {})) {
      if (prefixes.some((p) => key.startsWith(p))) delete require.cache[key];
    }
  }

  /** Loads a function now (instead of at its first invocation); throws its init error. */
  preload(functionId: string): void {
    this.load(functionId);
  }

  /** Resolves when every invocation started so far has finished or timed out. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Invokes a function. Never rejects: a throw, an init error or a timeout comes back as `ok: false`.
   * `limitMs` caps the wait below the function's own Timeout (an integration timeout).
   */
  invoke(functionId: string, event: unknown, limitMs?: number): Promise<InvocationOutcome> {
    const promise = this.run(functionId, event, limitMs);
    this.inflight.add(promise);
    void promise.finally(() => this.inflight.delete(promise));
    return promise;
  }

  private async run(functionId: string, event: unknown, limitMs?: number): Promise<InvocationOutcome> {
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
      const context = this.context(def as FunctionDef, requestId, deadline, loaded.logStreamName);
      const waitMs = limitMs !== undefined ? Math.min(limitMs, timeoutMs) : timeoutMs;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LambdaTimeoutError(waitMs / 1000)), waitMs);
      });
      const value = await Promise.race([callHandler(loaded.handler, event, context), timeout]);
      return outcome({ ok: true, value });
    } catch (error) {
      const err =
        error instanceof Error ? error : new Error(typeof error === 'string' ? error : JSON.stringify(error));
      return outcome({ error: err, timedOut: err instanceof LambdaTimeoutError });
    } finally {
      clearTimeout(timer);
    }
  }

  private load(functionId: string): LoadedFunction {
    const cached = this.loaded.get(functionId);
    if (cached) return cached;
    const def = this.options.functions.get(functionId);
    if (!def) throw new FunctionNotRunnableError(functionId, 'not a function of the template');
    if (def.problem || !def.sourceFile)
      throw new FunctionNotRunnableError(functionId, def.problem ?? 'no source file');
    ensureTypeScriptLoader();
    // Cold start: this function's own values of conflicting variables.
    const own = this.environments.get(functionId) ?? {};
    const swapped = this.conflicts
      .filter((c) => c.name in own)
      .map((c) => [c.name, process.env[c.name]] as const);
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
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
    const loaded = { handler, logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}` };
    this.loaded.set(functionId, loaded);
    return loaded;
  }

  private context(
    def: FunctionDef,
    requestId: string,
    deadline: number,
    logStreamName: string,
  ): LambdaContext {
    const deprecated = () => {
      throw new Error('context.done/fail/succeed are not supported: return a value or a promise');
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: def.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: def.arn,
      memoryLimitInMB: String(def.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${def.name}`,
      logStreamName,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: deprecated,
      fail: deprecated,
      succeed: deprecated,
    };
  }

  private setEnv(name: string, value: string): void {
    if (!this.previousEnv.has(name)) this.previousEnv.set(name, process.env[name]);
    process.env[name] = value;
  }
}

/** Calls an async handler, or a callback-style one (three parameters, no promise returned). */
function callHandler(handler: Handler, event: unknown, context: LambdaContext): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (error?: unknown, result?: unknown) => (error ? reject(error) : resolve(result));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then(resolve, reject);
      } else if (handler.length < 3) {
        resolve(returned);
      }
    } catch (error) {
      reject(error);
    }
  });
}

/** One log line per invocation: trigger, function, connection, status, duration. */
export function invocationLine(
  trigger: string,
  functionId: string,
  connectionId: string | undefined,
  status: string,
  durationMs: number,
): string {
  return `${trigger} ${functionId}${connectionId ? ` ${connectionId}` : ''} ${status} ${durationMs}ms`;
}
