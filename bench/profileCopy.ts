/**
 * Profiles one local copy: run as `node --cpu-prof --cpu-prof-dir=DIR dist/bench/profileCopy.js
 * SRC DST [in-process|plain|encrypt]`. in-process (the default) profiles fcp's own process; plain
 * and encrypt go through a local fcpd started with the same profiling flags, so DIR gets both
 * profiles. Print a profile's hot spots with scripts/cpuprofile-top.js.
 */
import { copy, localLauncher } from '../src';

const [source, destination, shape = 'in-process'] = process.argv.slice(2);
const profiling = process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));
copy({
  sources: [source!],
  destination: destination!,
  recursive: true,
  encrypt: shape === 'encrypt',
  launcher: shape === 'in-process' ? undefined : localLauncher({ nodeArgs: profiling }),
}).then(
  (summary) => console.log(`${summary.files} files, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s (${summary.mode})`),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
