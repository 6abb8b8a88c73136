/** Fault-injection suites (`npm run test:chaos`): they start, kill and restart servers of their own. */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/chaos'],
  globalSetup: '<rootDir>/test/chaos/support/global-setup.ts',
  globalTeardown: undefined,
  // Above the chaos run's own 10-minute wait for quiescence, plus its publishing and checks.
  testTimeout: 900_000,
};
