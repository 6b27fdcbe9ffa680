#!/usr/bin/env node
// Prints the plain line CI reads, "N passed, N failed", from jest's --json report; a missing or
// unreadable report counts as one failure, so a run that never reached jest cannot pass.
'use strict';
const fs = require('node:fs');

const file = process.argv[2] || 'test-results.json';
let passed = 0;
let failed = 1;
try {
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed = report.numPassedTests;
  // Suites that fail to load report no tests of their own: count each as a failure.
  failed = report.numFailedTests + report.numRuntimeErrorTestSuites;
  if (report.numTotalTests === 0) failed = Math.max(failed, 1);
} catch (err) {
  console.error(`no readable jest report at ${file}: ${err.message}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
