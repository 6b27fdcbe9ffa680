// `node limited.js SCRIPT ARGS...` runs `node SCRIPT ARGS...` under a soft limit of
// FCP_TEST_OPEN_FILES descriptors (default 256, the macOS default): bin/fcp, or bin/fcpd (as an
// --fcpd-path, or fcpd -d, whose daemon inherits the limit), for tests of the open-file budget.
'use strict';
const { spawnSync } = require('node:child_process');

const openFiles = Number(process.env.FCP_TEST_OPEN_FILES ?? 256);
const run = spawnSync('sh', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
