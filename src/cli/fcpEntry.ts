/** The fcp command as npm run build bundles it into dist/fcp.js, which bin/fcp loads. */
import { usedSsh } from '../ssh/ssh2Module';
import { trace } from '../trace';
import { runCommand } from './entry';
import { main } from './fcp';

/** `settled(kind)`: bin/fcp's code cache, saved after a copy over SSH as such (src/cli/codeCache.ts). */
export function run(settled?: (kind: string) => void): void {
  trace('bundle loaded');
  runCommand(main, true, () => settled?.(usedSsh() ? 'ssh' : ''));
}
