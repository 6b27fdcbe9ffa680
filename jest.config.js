/**
 * Unit tests run in-process; integration tests spawn real fcpd/sshd processes. ts-jest only
 * transpiles (tsc --noEmit is the type check): jest 29 and ts-jest install from a lock file on
 * every platform, where @swc/jest and jest 30 need per-platform native packages.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 60000,
  // Builds dist/ once per run (bin/fcp and bin/fcpd need it) when integration tests are selected.
  globalSetup: '<rootDir>/test/integration/globalSetup.ts',
};
