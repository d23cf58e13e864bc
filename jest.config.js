/** Jest projects: unit tests touch no network; handler and integration tests use a real redis-server. */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/support/quiet-env.ts'],
  moduleNameMapper: { '^@classroom/shared$': '<rootDir>/layers/shared/src/index.ts' },
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};

module.exports = {
  testTimeout: 20_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'emulator', testMatch: ['<rootDir>/test/emulator/**/*.test.ts'] },
    {
      ...common,
      displayName: 'handlers',
      testMatch: ['<rootDir>/test/handlers/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/integration/support/global-setup.ts',
      globalTeardown: '<rootDir>/integration/support/global-teardown.ts',
    },
    { ...common, displayName: 'client', testMatch: ['<rootDir>/client/test/**/*.test.ts'] },
    { ...common, displayName: 'drills', testMatch: ['<rootDir>/drills/**/*.test.ts'] },
  ],
};
