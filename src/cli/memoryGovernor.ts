/**
 * Keeps fcp's and fcpd's resident memory near their live data. V8 collects lazily: a copy of
 * 100,000 small files keeps about 35 MB live but let RSS grow past 220 MB before a full
 * collection. A few times a second, when RSS is above the threshold, this runs one. The commands
 * start it; the library does not, since there the heap belongs to the program that uses it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MB = 1024 * 1024;
/**
 * How often RSS is read (about 20 us from /proc): a million-file copy makes old-space garbage at
 * 15-30 MB a second, so checking once a second let RSS overshoot the threshold by as much before
 * the collection came (fcp pushing peaked at 190-211 MB).
 */
const CHECK_MS = 250;
/** RSS above which a collection runs: fcp and fcpd start at 65-80 MB, and hold 30-60 MB live at most over a million files. */
export const RSS_THRESHOLD = 150 * MB;
/**
 * Growth since the last collection left RSS that another one waits for: a process whose live data
 * is above the threshold (a listing held whole: --checksum, --follow) collects as its data grows,
 * not at every check.
 */
export const RSS_GROWTH = 16 * MB;

/** Whether to collect now: RSS is above the threshold and has grown by RSS_GROWTH since the last collection left it at `afterLast` (0 before the first). */
export function collectionDue(rss: number, afterLast: number): boolean {
  return rss > Math.max(RSS_THRESHOLD, afterLast + RSS_GROWTH);
}

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
  let afterLast = 0;
  /** A collection ran at the last check: RSS is read as what it left at this one (V8 gives its freed pages back after gc() returns). */
  let collected = false;
  const timer = setInterval(() => {
    const rss = residentBytes();
    if (collected) {
      collected = false;
      afterLast = rss;
      return;
    }
    if (!collectionDue(rss, afterLast)) return;
    (gc ??= exposedGc())();
    collected = true;
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
