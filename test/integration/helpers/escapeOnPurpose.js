'use strict';
// Preloaded (node --require) by cli.test.ts: a bug that escapes every handler, in the program
// FCP_TEST_ESCAPE_IN names (fcp or fcpd; a child fcpd inherits the environment). On the next tick,
// so once the program's synchronous start (and its last-resort handlers) is done.
// FCP_TEST_ESCAPE=throw throws; =reject leaves a rejection unhandled.
if (require('node:path').basename(process.argv[1] ?? '') === process.env.FCP_TEST_ESCAPE_IN) {
  process.nextTick(() => {
    if (process.env.FCP_TEST_ESCAPE === 'reject') void Promise.reject(new Error('escaped on purpose'));
    else throw new Error('escaped on purpose');
  });
}
