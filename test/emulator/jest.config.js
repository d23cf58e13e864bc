/**
 * Temporary stand-alone config for the emulator's conformance tests (until the root jest.config.js has
 * an `emulator` project): `npx jest -c test/emulator/jest.config.js`.
 */
const path = require('node:path');

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  displayName: 'emulator',
  preset: 'ts-jest',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/emulator/**/*.test.ts'],
  moduleNameMapper: { '^@classroom/shared$': '<rootDir>/layers/shared/src/index.ts' },
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 15000,
};
