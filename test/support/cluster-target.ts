/**
 * Setup file of the cluster projects (`handlers-cluster`, `integration-cluster`), run before each test
 * file: the file's Redis is the run's local Redis Cluster (test/support/cluster-global-setup.ts), so the
 * harness gives the handlers REDIS_CLUSTER=true and a cluster client for `h.redis`, and the integration
 * suite's local target runs on it (test/support/stack-redis.ts). Each test file has its own process.env.
 */
const url = process.env.TEST_CLUSTER_URL;
if (!url)
  throw new Error(
    'TEST_CLUSTER_URL is not set: run through the jest "handlers-cluster" or "integration-cluster" project',
  );
process.env.TEST_REDIS_URL = url;
process.env.TEST_REDIS_CLUSTER = 'true';
