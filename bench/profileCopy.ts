/**
 * Profiles one local copy: run as `node --cpu-prof --cpu-prof-dir=DIR dist/bench/profileCopy.js
 * SRC DST [encrypt]`; fcpd is started with the same profiling flags, so DIR gets both profiles.
 * Print a profile's hot spots with scripts/cpuprofile-top.js.
 */
import { copy, localLauncher } from '../src';

const [source, destination, encrypt] = process.argv.slice(2);
const profiling = process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));
copy({
  sources: [source!],
  destination: destination!,
  recursive: true,
  encrypt: encrypt === 'encrypt',
  launcher: localLauncher({ nodeArgs: profiling }),
}).then(
  (summary) => console.log(`${summary.files} files, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s`),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
