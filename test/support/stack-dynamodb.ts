/**
 * The DynamoDB store of a local test stack (test/support/local-stack.ts, the integration suite's local target)
 * on the DynamoDB targets (TEST_STORE=dynamodb: the jest projects integration-dynamodb and client-dynamodb):
 * 1. the jest run's table: TEST_DYNAMODB_ENDPOINT and TEST_TABLE_NAME, set by the global setup
 *    (test/support/dynamodb-global-setup.ts), shared by the run's test files (every test uses rooms of its own),
 *    left running;
 * 2. else a local DynamoDB of its own (local/dynamodb.ts: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else a
 *    moto server from the venv) with template.yaml's table of the Store=DynamoDB configuration.
 */
import { randomBytes } from 'node:crypto';
import { DYNAMODB_PARAMETERS, startLocalDynamoDB } from '../../local/dynamodb';

/** The store the local test stacks run on: TEST_STORE=dynamodb, else Redis. */
export function testStore(): 'redis' | 'dynamodb' {
  return process.env.TEST_STORE === 'dynamodb' ? 'dynamodb' : 'redis';
}

/** The template parameters of the test store's configuration (none for Redis: the template's defaults). */
export function storeParameters(): Record<string, string> {
  return testStore() === 'dynamodb' ? { ...DYNAMODB_PARAMETERS } : {};
}

export interface StackDynamoDB {
  endpoint: string;
  tableName: string;
  /** Stops what was started for the stack (nothing for the run's shared table). */
  stop(): Promise<void>;
}

export async function stackDynamoDB(): Promise<StackDynamoDB> {
  const endpoint = process.env.TEST_DYNAMODB_ENDPOINT;
  const tableName = process.env.TEST_TABLE_NAME;
  if (endpoint && tableName) return { endpoint, tableName, stop: async () => undefined };
  const local = await startLocalDynamoDB({ stackName: `test-${randomBytes(4).toString('hex')}` });
  return { endpoint: local.endpoint, tableName: local.tableName, stop: () => local.stop() };
}
