/**
 * The fcpd command as npm run build bundles it into dist/fcpd.js, which bin/fcpd loads and which
 * runs on its own where fcp installed it on a host without fcpd (`node fcpd.js`).
 */
import { trace } from '../trace';
import { runCommand } from './entry';
import { main } from './fcpd';

/** `settled(kind)`: bin/fcpd's code cache, saved after fcpd --serve as such (src/cli/codeCache.ts). */
export function run(settled?: (kind: string) => void): void {
  trace('bundle loaded');
  runCommand(main, false, () => settled?.(process.argv.includes('--serve') ? 'serve' : ''));
}

// Run as a program (`node fcpd.js`), not loaded by bin/fcpd: in the bundle `module` is the
// bundler's, so the file names are compared.
if (require.main?.filename === __filename) run();
