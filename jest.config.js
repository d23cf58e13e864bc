/**
 * Jest projects: unit tests touch no network; handler and integration tests use a real redis-server, and
 * run a second time against a local Redis Cluster (3 masters + 3 replicas of redis-server, started once
 * for both by test/support/cluster-global-setup.ts) as the projects `handlers-cluster` and
 * `integration-cluster`. Files named *.cluster.test.ts run on the cluster target only.
 * The handler tests run a third time on the DynamoDB store (project `handlers-dynamodb`: a local DynamoDB
 * with template.yaml's table, test/support/dynamodb-global-setup.ts); *.dynamodb.test.ts run there only.
 */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/support/quiet-env.ts'],
  moduleNameMapper: {
    '^@classroom/shared$': '<rootDir>/layers/shared/src/index.ts',
    '^@classroom/shared/auth$': '<rootDir>/layers/shared/src/auth-entry.ts',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};

const handlerTests = ['<rootDir>/test/handlers/**/*.test.ts'];
const integrationTests = ['<rootDir>/integration/**/*.test.ts'];
const clusterOnly = ['\\.cluster\\.test\\.ts$'];
const dynamodbOnly = ['\\.dynamodb\\.test\\.ts$'];

/** The cluster target: the run's local Redis Cluster becomes each test file's TEST_REDIS_URL. */
const cluster = {
  ...common,
  setupFiles: [...common.setupFiles, '<rootDir>/test/support/cluster-target.ts'],
  globalSetup: '<rootDir>/test/support/cluster-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/cluster-global-teardown.ts',
};

module.exports = {
  // Generous: waits for what must happen are bounded by the test, and a busy machine must not fail it.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'emulator', testMatch: ['<rootDir>/test/emulator/**/*.test.ts'] },
    {
      ...common,
      displayName: 'handlers',
      testMatch: handlerTests,
      testPathIgnorePatterns: ['/node_modules/', ...clusterOnly, ...dynamodbOnly],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...cluster,
      displayName: 'handlers-cluster',
      testMatch: handlerTests,
      testPathIgnorePatterns: ['/node_modules/', ...dynamodbOnly],
    },
    {
      ...common,
      displayName: 'handlers-dynamodb',
      testMatch: handlerTests,
      testPathIgnorePatterns: ['/node_modules/', ...clusterOnly],
      setupFiles: [...common.setupFiles, '<rootDir>/test/support/dynamodb-target.ts'],
      globalSetup: '<rootDir>/test/support/dynamodb-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/dynamodb-global-teardown.ts',
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: integrationTests,
      testPathIgnorePatterns: ['/node_modules/', ...clusterOnly],
      globalSetup: '<rootDir>/integration/support/global-setup.ts',
      globalTeardown: '<rootDir>/integration/support/global-teardown.ts',
    },
    { ...cluster, displayName: 'integration-cluster', testMatch: integrationTests },
    // The integration suite and the client tests on the DynamoDB store (TEST_STORE=dynamodb: the run's local
    // table; Redis-only tests are skipped with the reason).
    {
      ...common,
      displayName: 'integration-dynamodb',
      testMatch: integrationTests,
      testPathIgnorePatterns: ['/node_modules/', ...clusterOnly],
      setupFiles: [...common.setupFiles, '<rootDir>/test/support/dynamodb-target.ts'],
      globalSetup: '<rootDir>/test/support/dynamodb-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/dynamodb-global-teardown.ts',
    },
    { ...common, displayName: 'client', testMatch: ['<rootDir>/client/test/**/*.test.ts'] },
    {
      ...common,
      displayName: 'client-dynamodb',
      testMatch: ['<rootDir>/client/test/**/*.integration.test.ts'],
      setupFiles: [...common.setupFiles, '<rootDir>/test/support/dynamodb-target.ts'],
      globalSetup: '<rootDir>/test/support/dynamodb-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/dynamodb-global-teardown.ts',
    },
    { ...common, displayName: 'drills', testMatch: ['<rootDir>/drills/**/*.test.ts'] },
  ],
};
