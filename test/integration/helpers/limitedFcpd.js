// fcpd with a soft limit of OPEN_FILES descriptors (bin/fcpd's arguments passed on), for tests
// of the receiver's open-file budget: run by localLauncher({ fcpdPath }) in place of bin/fcpd.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const OPEN_FILES = 300;
const fcpd = path.join(__dirname, '..', '..', '..', 'bin', 'fcpd');
const run = spawnSync('sh', ['-c', `ulimit -n ${OPEN_FILES} && exec "$0" "$@"`, process.execPath, fcpd, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
