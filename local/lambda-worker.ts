/**
 * A function's worker thread: one warm Lambda execution environment (local/lambda-runtime.ts starts it).
 * It has its own `process.env` (given by the runtime), its own module registry and state, and runs one
 * invocation at a time.
 *
 * Init (the cold start): the packages the Lambda Node.js runtime ships (`@aws-sdk/*`, `@smithy/*`) become
 * resolvable as a fallback after the handler's own `node_modules`; tsx's loader is registered for a
 * TypeScript handler; the runtime's preload modules run (`install(config)`); the handler module loads with
 * `require()` (CommonJS) or `import()` (ES module, top-level `await` included), as Lambda's runtime does.
 * An init error is reported and the runtime ends the worker.
 *
 * Invoke: the handler gets the event and a Lambda context (`getRemainingTimeInMillis`, `done`/`succeed`/
 * `fail`, `callbackWaitsForEmptyEventLoop`); async and callback-style handlers work. The result goes back as
 * JSON text, as Lambda serializes it. An uncaught exception or unhandled rejection ends the worker (Node's
 * default in a thread), as it ends a Lambda runtime process; the runtime fails the invocation and starts a
 * fresh worker on the next one.
 *
 * This file is compiled by esbuild and run with `eval` (it needs no TypeScript loader of its own); it uses
 * Node's built-in modules only.
 */
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type {
  FromWorker,
  InvokeContextFields,
  ToWorker,
  WorkerError,
  WorkerInit,
} from './lambda-worker-protocol';

type Handler = (
  event: unknown,
  context: unknown,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

/** Packages the Lambda Node.js runtime provides (AWS SDK v3 and its Smithy core). */
const RUNTIME_PACKAGES = /^@(aws-sdk|smithy)\//;

const init = workerData as WorkerInit;
const port = parentPort as NonNullable<typeof parentPort>;

function post(message: FromWorker): void {
  port.postMessage(message);
}

function serializeError(error: unknown): WorkerError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  const message = typeof error === 'string' ? error : safeJson(error);
  return { name: 'Error', message };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---- resolution of the runtime's SDK ------------------------------------------------------------------

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

/** CommonJS: a `@aws-sdk/*` or `@smithy/*` the handler's own resolution misses is resolved from the runtime's. */
function installCommonJsSdkFallback(): void {
  const internals = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = internals._resolveFilename;
  const fallbackPaths = [init.runtimeSdkParent];
  internals._resolveFilename = function resolveWithRuntimeSdk(request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (error) {
      if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND' || !RUNTIME_PACKAGES.test(request))
        throw error;
      return original.call(this, request, parent, isMain, { paths: fallbackPaths });
    }
  };
}

let esmFallbackInstalled = false;

/** ES modules: the same fallback as a resolve hook (module.register runs it on the loader's hooks thread). */
function installEsmSdkFallback(): void {
  if (esmFallbackInstalled) return;
  esmFallbackInstalled = true;
  const parentURL = pathToFileURL(init.runtimeSdkParent).href;
  const hooks = `
const PARENT = ${JSON.stringify(parentURL)};
const RUNTIME_PACKAGES = ${RUNTIME_PACKAGES.toString()};
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !RUNTIME_PACKAGES.test(specifier) || context.parentURL === PARENT) throw error;
    return nextResolve(specifier, { ...context, parentURL: PARENT });
  }
}`;
  (Module as unknown as { register: (specifier: string) => void }).register(
    `data:text/javascript,${encodeURIComponent(hooks)}`,
  );
}

// ---- init -----------------------------------------------------------------------------------------------

const importModule = (url: string): Promise<Record<string, unknown>> => import(url);

function registerTsxCommonJs(): void {
  const previous = process.env.TSX_TSCONFIG_PATH;
  if (init.tsconfig) process.env.TSX_TSCONFIG_PATH = init.tsconfig;
  try {
    (createRequire(init.tsxCjsApi)(init.tsxCjsApi) as { register: () => void }).register();
  } finally {
    if (previous === undefined) delete process.env.TSX_TSCONFIG_PATH;
    else process.env.TSX_TSCONFIG_PATH = previous;
  }
}

let tsxEsmRegistered = false;

async function importHandlerModule(): Promise<Record<string, unknown>> {
  if (init.typescript && !tsxEsmRegistered) {
    tsxEsmRegistered = true;
    // tsx's ESM hooks (its loader registers them only on the main thread of Node 20).
    const api = (await importModule(pathToFileURL(init.tsxEsmApi).href)) as {
      register: (options?: { tsconfig?: string }) => unknown;
    };
    api.register(init.tsconfig ? { tsconfig: init.tsconfig } : {});
  }
  installEsmSdkFallback();
  return importModule(pathToFileURL(init.sourceFile).href);
}

async function runPreloads(): Promise<void> {
  for (const preload of init.preload) {
    let exported: { install?: (config: unknown) => unknown };
    if (preload.code !== undefined) {
      exported = compileAs(preload.filename, preload.code) as typeof exported;
    } else {
      exported = createRequire(preload.filename)(preload.filename) as typeof exported;
    }
    if (typeof exported.install !== 'function')
      throw new Error(`preload ${preload.filename} does not export install(config)`);
    await exported.install(preload.config);
  }
}

/** The bundle compiled as the handler's own file: its `require`s resolve from the handler's directory. */
function compileAs(filename: string, code: string): Record<string, unknown> {
  const mod = new Module(filename) as Module & { _compile(code: string, filename: string): void };
  mod.filename = filename;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
    filename.replace(/[\\/][^\\/]*$/, ''),
  );
  mod._compile(code, filename);
  mod.loaded = true;
  return mod.exports as Record<string, unknown>;
}

async function loadHandler(): Promise<Handler> {
  installCommonJsSdkFallback();
  if (init.bundle !== undefined) process.setSourceMapsEnabled(true);
  else if (init.typescript && init.format === 'commonjs') registerTsxCommonJs();
  await runPreloads();
  let mod: Record<string, unknown>;
  if (init.bundle !== undefined) {
    mod = compileAs(init.sourceFile, init.bundle);
  } else if (init.format === 'commonjs') {
    try {
      mod = createRequire(init.sourceFile)(init.sourceFile) as Record<string, unknown>;
    } catch (error) {
      // An ES module after all (Lambda's runtime falls back to import() the same way).
      const code = (error as { code?: string }).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error;
      mod = await importHandlerModule();
    }
  } else {
    mod = await importHandlerModule();
  }
  const fromDefault = (mod.default as Record<string, unknown> | undefined)?.[init.exportName];
  const handler = mod[init.exportName] ?? fromDefault;
  if (typeof handler !== 'function') {
    const error = new Error(
      `${init.sourceFile.replace(/^.*[\\/]/, '')}.${init.exportName} is undefined or not exported`,
    );
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  return handler as Handler;
}

/** Lambda's names for init failures: a missing module, a syntax error; else the error's own. */
function initError(error: unknown): WorkerError {
  const serialized = serializeError(error);
  if (serialized.code === 'MODULE_NOT_FOUND' || serialized.code === 'ERR_MODULE_NOT_FOUND')
    return { ...serialized, name: 'Runtime.ImportModuleError', message: `Error: ${serialized.message}` };
  if (serialized.name === 'SyntaxError')
    return {
      ...serialized,
      name: 'Runtime.UserCodeSyntaxError',
      message: `SyntaxError: ${serialized.message}`,
    };
  return serialized;
}

// ---- invoke ---------------------------------------------------------------------------------------------

/** Resources that keep the loop alive, other than this worker's own message ports. */
function pendingWork(): number {
  return process.getActiveResourcesInfo().filter((type) => type !== 'MessagePort').length;
}

/**
 * With callbackWaitsForEmptyEventLoop, a callback's result goes back once the event loop is empty: checked
 * every 5 ms by one timer, which counts itself while it runs (Node counts a timer until its callback returns).
 */
function emptyEventLoop(deadline: number): Promise<void> {
  return new Promise((resolve) => {
    if (pendingWork() === 0) {
      resolve();
      return;
    }
    const check = () => {
      if (pendingWork() - 1 <= 0 || Date.now() >= deadline) resolve();
      else setTimeout(check, 5);
    };
    setTimeout(check, 5);
  });
}

function invoke(handler: Handler, message: ToWorker): void {
  const fields: InvokeContextFields = message.context;
  let settled = false;
  const finish = (error: unknown, value?: unknown) => {
    if (settled) return;
    settled = true;
    if (error !== undefined && error !== null) {
      post({ type: 'result', id: message.id, ok: false, error: serializeError(error) });
      return;
    }
    let json: string | undefined;
    try {
      json = value === undefined ? undefined : JSON.stringify(value);
    } catch (cause) {
      const marshal = new Error(`Unable to stringify response body: ${(cause as Error).message}`);
      marshal.name = 'Runtime.MarshalError';
      post({ type: 'result', id: message.id, ok: false, error: serializeError(marshal) });
      return;
    }
    post({ type: 'result', id: message.id, ok: true, json });
  };
  const context = {
    ...fields,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: (error?: unknown, result?: unknown) => callback(error, result),
    succeed: (result?: unknown) => callback(null, result),
    fail: (error?: unknown) => callback(error ?? 'handled'),
  };
  let callbackCalled = false;
  let loopEmpty: Promise<void> | undefined;
  const whenLoopEmpty = () => {
    loopEmpty ??= emptyEventLoop(message.deadline);
    return loopEmpty;
  };
  const callback = (error?: unknown, result?: unknown) => {
    if (settled || callbackCalled) return;
    callbackCalled = true;
    if (!context.callbackWaitsForEmptyEventLoop) {
      finish(error, result);
      return;
    }
    void whenLoopEmpty().then(() => finish(error, result));
  };
  try {
    const returned = handler(message.event, context, callback);
    if (returned && typeof (returned as Promise<unknown>).then === 'function') {
      (returned as Promise<unknown>).then(
        (value) => finish(undefined, value),
        (error) => finish(error ?? new Error('handler rejected without a reason')),
      );
    } else {
      // Not a promise: the answer is what the callback (or context.succeed/fail/done) gives; without one,
      // Lambda answers null once the event loop is empty.
      void whenLoopEmpty().then(() => {
        if (!callbackCalled) finish(undefined, undefined);
      });
    }
  } catch (error) {
    finish(error);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  let handler: Handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    post({ type: 'init-error', error: initError(error) });
    return;
  }
  port.on('message', (message: ToWorker) => {
    if (message.type === 'invoke') invoke(handler, message);
  });
  post({ type: 'ready', initMs: Math.round(performance.now() - started) });
}

void main();
