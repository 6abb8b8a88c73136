/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/unit', '<rootDir>/test/workflows', '<rootDir>/test/integration'],
  testMatch: ['**/*.test.ts'],
  // Type checking is `npm run build`'s job; tests transpile only, which keeps them fast.
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    '/node_modules/(jose|cookie)/.+\\.js$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  // jose and cookie ship as ES modules only; Node 20.19+ requires them natively, jest needs them transpiled.
  transformIgnorePatterns: ['/node_modules/(?!(jose|cookie)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  // Integration suites share one broker and its fixed platform queues: they run one at a time.
  maxWorkers: 1,
};
