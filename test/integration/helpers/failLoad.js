// Preloaded (`node -r`) into bin/fcp, bin/fcpd or bin/fcp-track: every read of a file under dist/
// fails with the error code FCP_TEST_FAIL_LOAD names (EMFILE: as in a process out of
// descriptors), as their load of the built code would.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const code = process.env.FCP_TEST_FAIL_LOAD;
const underDist = `${path.sep}dist${path.sep}`;
const readFileSync = fs.readFileSync;
fs.readFileSync = function failingUnderDist(file, ...rest) {
  if (typeof file === 'string' && file.includes(underDist)) throw Object.assign(new Error(`${code}: failed as asked, open '${file}'`), { code });
  return readFileSync.call(this, file, ...rest);
};
