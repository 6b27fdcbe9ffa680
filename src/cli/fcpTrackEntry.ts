/** The fcp-track command as npm run build bundles it into dist/fcp-track.js, which bin/fcp-track loads. */
import { runCommand } from './entry';
import { main } from './fcpTrack';

export function run(settled?: () => void): void {
  runCommand(main, true, settled);
}
