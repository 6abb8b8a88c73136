/** The fast workflow specs alone (`npm run test:workflows`): Temporal and in-memory activities, no other server. */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/workflows'],
  globalSetup: '<rootDir>/test/workflows/support/global-setup.ts',
};
