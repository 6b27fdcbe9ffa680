/**
 * Unit tests run in-process; integration tests spawn real fcpd/sshd processes. ts-jest only
 * transpiles (tsc --noEmit is the type check): jest 29 and ts-jest install from a lock file on
 * every platform, where @swc/jest and jest 30 need per-platform native packages.
 */
const os = require('node:os');

module.exports = {
  testEnvironment: 'node',
  // One worker per core, at least two. jest's default (cores - 1, for a busy main thread) is one
  // worker on a 2-core machine, and one worker means every file in band, one after the other,
  // while jest's main thread only collects results. Many integration files mostly wait on the
  // processes they start (sshd logins, throttled copies, timeouts they provoke: jobs.test used 37
  // CPU s in its 80 s, rsyncOptions 38 in 64), so one file leaves a core idle. jest starts the
  // longest files first (its timings cache; the largest files without one), so the two workers
  // end close together.
  maxWorkers: Math.max(2, os.availableParallelism()),
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // Builds dist/ once per run (bin/fcp and bin/fcpd need it) when integration tests are selected.
  globalSetup: '<rootDir>/test/integration/globalSetup.ts',
};
