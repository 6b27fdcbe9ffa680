/**
 * Unit tests run in-process; integration tests spawn real fcpd/sshd processes. ts-jest only
 * transpiles (tsc --noEmit is the type check): jest 29 and ts-jest install from a lock file on
 * every platform, where @swc/jest and jest 30 need per-platform native packages.
 */
const os = require('node:os');

module.exports = {
  testEnvironment: 'node',
  // One worker per core, at least two. jest's default (cores - 1, for a busy main thread) is one
  // worker on a 2-core machine, and one worker means every file in band, one after the other. The
  // integration files spend most of their wall time waiting on the processes they start (sshd
  // logins, fcp and fcpd start-up, throttled copies, timeouts they provoke), not on a core, and
  // jest's main thread only collects results. jest starts the longest files first (its timings
  // cache), so the two workers end close together.
  maxWorkers: Math.max(2, os.availableParallelism()),
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // Builds dist/ once per run (bin/fcp and bin/fcpd need it) when integration tests are selected.
  globalSetup: '<rootDir>/test/integration/globalSetup.ts',
};
