// `node limited.js SCRIPT ARGS...` runs `node SCRIPT ARGS...` under a soft limit of
// FCP_TEST_OPEN_FILES descriptors (default 256, the macOS default): bin/fcp, or bin/fcpd (as an
// --fcpd-path, or fcpd -d, whose daemon inherits the limit), for tests of the open-file budget.
// FCP_TEST_INHERITED_FILES descriptors (default 0) are left open to it, as a parent that does not
// close its own (a CI runner, a shell's `exec 9<file`) leaves them. Any other descriptor this
// process was itself left by its parents is closed first, so that the count is the test's: a CI
// runner that left 14 more to the whole test run failed a copy given 28 (FCP_ERR_IO at start-up).
'use strict';
const { openSync } = require('node:fs');
const { spawnSync } = require('node:child_process');

const openFiles = Number(process.env.FCP_TEST_OPEN_FILES ?? 256);
const inherited = Array.from({ length: Number(process.env.FCP_TEST_INHERITED_FILES ?? 0) }, () => openSync('/dev/null', 'r'));
const lastKept = 2 + inherited.length;
const closeOthers = `for fd in /proc/$$/fd/*; do fd=\${fd##*/}; if [ "$fd" -gt ${lastKept} ]; then eval "exec $fd>&-"; fi; done`;
const run = spawnSync('bash', ['-c', `ulimit -n ${openFiles} && ${closeOthers} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(2)], {
  stdio: ['inherit', 'inherit', 'inherit', ...inherited],
});
process.exit(run.status ?? 1);
