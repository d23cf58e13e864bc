/**
 * Skipping a whole test file on a target it cannot apply to, saying why: called at the top of the file
 * (before its hooks and tests), it makes each of its tests register as `skipped: <name> (<reason>)`, a test
 * that prints the reason (console.warn) and passes; the file's hooks are not registered. Only this test
 * file's globals are replaced (each file has its own).
 */
import { testClusterUrl } from './stack-redis';

export function skipFile(reason: string, label: string): void {
  registerAsSkipped(reason, (name) => console.warn(`[${label}] ${name}: skipped: ${reason}`));
}

/**
 * Replaces this test file's `it`/`test` by a test named `skipped: <name> (<reason>)` that calls
 * `warn(name)` and passes, and its hooks by no-ops; returns what puts the real ones back.
 */
export function registerAsSkipped(reason: string, warn: (name: string) => void): () => void {
  const g = globalThis as unknown as Record<string, unknown>;
  const names = ['it', 'test', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach'] as const;
  const saved = Object.fromEntries(names.map((n) => [n, g[n]]));
  const realIt = it;
  const skipped = (name: string) => realIt(`skipped: ${name} (${reason})`, () => warn(name));
  const noop = () => {};
  Object.assign(g, {
    it: skipped,
    test: skipped,
    beforeAll: noop,
    afterAll: noop,
    beforeEach: noop,
    afterEach: noop,
  });
  return () => Object.assign(g, saved);
}

/** `skipFile` on the cluster target (handlers-cluster, integration-cluster). */
export function skipFileOnCluster(reason: string): void {
  if (testClusterUrl()) skipFile(reason, 'cluster target');
}

/** `skipFile` on the DynamoDB target (handlers-dynamodb). */
export function skipFileOnDynamoDB(reason: string): void {
  if (process.env.TEST_STORE === 'dynamodb') skipFile(reason, 'dynamodb target');
}

/**
 * A test that applies to the Redis store only: on the DynamoDB target it registers as
 * `skipped: <name> (<reason>)`, printing the reason, like `skipFile`.
 */
export function itOnRedis(name: string, fn: () => Promise<unknown>, reason: string, timeout?: number): void {
  if (process.env.TEST_STORE !== 'dynamodb') {
    it(name, fn, timeout);
    return;
  }
  it(`skipped: ${name} (${reason})`, () => {
    console.warn(`[dynamodb target] ${name}: skipped: ${reason}`);
  });
}
