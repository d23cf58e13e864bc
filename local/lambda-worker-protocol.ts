/**
 * Messages between the function runtime (local/lambda-runtime.ts, the gateway's thread) and a function's
 * worker (local/lambda-worker.ts): one worker is one warm Lambda execution environment.
 */

/** A module the worker runs before the handler's: it exports `install(config)` (may return a promise). */
export interface WorkerPreload {
  /** Absolute path (module resolution of its imports starts there). */
  filename: string;
  /** Compiled CommonJS source when the module is TypeScript (bundled by esbuild); else the file is required. */
  code?: string;
  config: unknown;
}

/** `workerData` of a function's worker. */
export interface WorkerInit {
  functionId: string;
  /** The handler's module (absolute). */
  sourceFile: string;
  /** The exported function (`handler` of `index.handler`). */
  exportName: string;
  /** How Node loads the module: `require()` (CommonJS) or `import()` (ES module). */
  format: 'commonjs' | 'module';
  /** TypeScript source: tsx's loader is registered in the worker before the handler loads. */
  typescript: boolean;
  /**
   * The handler module bundled by the runtime (CommonJS, a TypeScript handler's own code and packages): the
   * worker compiles it as `sourceFile`. Without it, TypeScript loads through tsx.
   */
  bundle?: string;
  /** The tsconfig.json nearest to the handler (paths, jsx…), for tsx. */
  tsconfig?: string;
  /** tsx's CommonJS API (`tsx/cjs/api`) and its ES module API (`tsx/esm/api`, import condition). */
  tsxCjsApi: string;
  tsxEsmApi: string;
  /**
   * A file whose `node_modules` provides the packages the Lambda runtime ships (`@aws-sdk/*`, `@smithy/*`)
   * when the handler's own resolution does not find them (the project's own copy wins).
   */
  runtimeSdkParent: string;
  preload: WorkerPreload[];
}

/** A serialized error (what the Lambda runtime reports: `errorType`, `errorMessage`, `trace`). */
export interface WorkerError {
  name: string;
  message: string;
  stack?: string;
  /** Error codes of Node's module loader (`ERR_MODULE_NOT_FOUND`…), kept for the log. */
  code?: string;
}

export interface InvokeContextFields {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
}

export type ToWorker = {
  type: 'invoke';
  id: number;
  event: unknown;
  /** `Date.now()` at which the function times out (getRemainingTimeInMillis). */
  deadline: number;
  context: InvokeContextFields;
};

export type FromWorker =
  | { type: 'ready'; initMs: number }
  | { type: 'init-error'; error: WorkerError }
  /** `json` is the JSON text of the handler's result (Lambda serializes it); undefined for `undefined`. */
  | { type: 'result'; id: number; ok: true; json?: string }
  | { type: 'result'; id: number; ok: false; error: WorkerError };
