/** Unit tests run in-process; integration tests spawn real fcpd/sshd processes. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testTimeout: 60000,
  // Builds dist/ once per run (bin/fcp and bin/fcpd need it) when integration tests are selected.
  globalSetup: '<rootDir>/test/integration/globalSetup.ts',
};
