/** The fcp command as npm run build bundles it into dist/fcp.js, which bin/fcp loads. */
import type { Worker } from 'node:worker_threads';
import { usedSsh } from '../ssh/ssh2Module';
import { trace } from '../trace';
import { runCommand } from './entry';
import { main, startedCopy } from './fcp';
import { adoptWatchdogThread } from './watchdog';

/**
 * `settled(kind)`: bin/fcp's code cache, saved after a copy over SSH or another copy as such (src/cli/codeCache.ts).
 * `watchdogThread`: the watchdog's thread, which bin/fcp started before it loaded the bundle (src/cli/watchdogThread.ts).
 */
export function run(settled?: (kind: string) => void, watchdogThread?: Worker): void {
  trace('bundle loaded');
  if (watchdogThread) adoptWatchdogThread(watchdogThread);
  runCommand(main, true, () => settled?.(usedSsh() ? 'ssh' : startedCopy() ? 'copy' : ''));
}
