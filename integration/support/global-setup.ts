/**
 * Jest global setup of the integration project. Only for INTEGRATION_TARGET=containers with a container
 * runtime: starts Redis and LocalStack once for the whole run and hands their addresses to the test files
 * (INTEGRATION_REDIS_URL, INTEGRATION_SQS_ENDPOINT). Without it each test file starts its own containers.
 */
import { type Containers, containerRuntimeUnavailable, startContainers } from './containers';
import { TARGET } from './target-name';

export default async function globalSetup(): Promise<void> {
  if (TARGET !== 'containers' || containerRuntimeUnavailable()) return;
  if (process.env.INTEGRATION_REDIS_URL && process.env.INTEGRATION_SQS_ENDPOINT) return;
  const containers = await startContainers();
  process.env.INTEGRATION_REDIS_URL = containers.redisUrl;
  process.env.INTEGRATION_SQS_ENDPOINT = containers.sqsEndpoint;
  (globalThis as { __integrationContainers?: Containers }).__integrationContainers = containers;
}
