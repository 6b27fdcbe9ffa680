/**
 * Keeps fcp's and fcpd's resident memory near their live data. V8 collects lazily: a copy of
 * 100,000 small files keeps about 35 MB live but let RSS grow past 220 MB before a full
 * collection. Once a second, when RSS is above the threshold, this runs one. The commands start
 * it; the library does not, since there the heap belongs to the program that uses it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const CHECK_MS = 1000;
const RSS_THRESHOLD = 160 * 1024 * 1024;

/**
 * V8's gc(), taken the first time it is needed: a context costs milliseconds at every start, and
 * most runs never need it.
 */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  // A fresh context created after the flag is set has gc(); the main context was made before.
  const gc = runInNewContext('gc') as () => void;
  // Set back at once (gc() stays): V8 stamps a code cache with a hash of its flags, and one made
  // under --expose-gc is rejected by the next start (bin/'s codeCache.ts), which compiles it all again.
  setFlagsFromString('--no-expose-gc');
  return gc;
}

export function startMemoryGovernor(): void {
  let gc: (() => void) | undefined;
  const timer = setInterval(() => {
    if (residentBytes() > RSS_THRESHOLD) (gc ??= exposedGc())();
  }, CHECK_MS);
  timer.unref();
}

/** RSS, or 0 when it cannot be read: Linux reads it from /proc/self/stat, which fails with EMFILE when the process is out of descriptors. */
function residentBytes(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return 0;
  }
}
