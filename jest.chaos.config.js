/** Fault-injection suites (`npm run test:chaos`): they start, kill and restart servers of their own. */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/chaos'],
  globalSetup: '<rootDir>/test/chaos/support/global-setup.ts',
  globalTeardown: undefined,
  testTimeout: 600_000,
};
