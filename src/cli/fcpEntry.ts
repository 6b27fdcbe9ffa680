/** The fcp command as npm run build bundles it into dist/fcp.js, which bin/fcp loads. */
import { trace } from '../trace';
import { runCommand } from './entry';
import { main } from './fcp';

export function run(settled?: () => void): void {
  trace('bundle loaded');
  runCommand(main, true, settled);
}
