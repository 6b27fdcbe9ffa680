/**
 * The commands' GC flag (src/cli/gcFlags.ts): it is really set (a code cache made before it no
 * longer fits the flags), and set back it leaves the flags as they were, so that the code cache
 * bin/ saves after a command is accepted by the next start.
 */
import * as vm from 'node:vm';
import { collectOldSpaceWhenFull, defaultMarking } from '../../../src/cli/gcFlags';

const SOURCE = 'function twice(x) { return 2 * x; } twice(21);';

let compiles = 0;
/** Whether V8 takes the code cache `made` under the flags in force now (a new name each time: the isolate's own cache would answer a name it compiled before). */
function accepted(made: Buffer): boolean {
  return !new vm.Script(SOURCE, { filename: `gcFlags-${compiles++}.js`, cachedData: made }).cachedDataRejected;
}

test('the flag is in force while set, and set back the flags a code cache is stamped with are the default ones', () => {
  const script = new vm.Script(SOURCE, { filename: `gcFlags-${compiles++}.js` });
  script.runInThisContext();
  const cache = script.createCachedData();
  expect(accepted(cache)).toBe(true);
  try {
    collectOldSpaceWhenFull();
    expect(accepted(cache)).toBe(false);
  } finally {
    defaultMarking();
  }
  expect(accepted(cache)).toBe(true);
});
