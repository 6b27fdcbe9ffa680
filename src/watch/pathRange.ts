/**
 * A slice of a two-way side's paths, pure: the paths from `lo` (inclusive) up to `hi` (exclusive)
 * in byte order (latin1 spellings compare as their bytes do, as the record's BLOB keys), either
 * end open when undefined. A sweep (sweep.ts) looks at one slice a round; the slices of a cycle,
 * cut at the record's own paths, cover every path once whatever was created since.
 */

export interface PathRange {
  lo?: string;
  hi?: string;
}

/** The range every path is in. */
export const EVERY_PATH: PathRange = {};

/** Whether `path` is in `range`. */
export function inRange(path: string, range: PathRange): boolean {
  return (range.lo === undefined || path >= range.lo) && (range.hi === undefined || path < range.hi);
}

/**
 * Whether a path below `dir` may be in `range`: they all lie from `dir/` up to `dir0` (`0` is the
 * byte after `/`), so a walk enters `dir` only when that span meets the range.
 */
export function reachesBelow(dir: string, range: PathRange): boolean {
  return (range.hi === undefined || `${dir}/` < range.hi) && (range.lo === undefined || `${dir}0` > range.lo);
}

/**
 * Where `slices` ranges of `count` sorted paths are cut so that each holds about as many: the
 * i-th range (from 1) starts at the path of index floor(i * count / slices).
 */
export function cutIndexes(count: number, slices: number): number[] {
  return Array.from({ length: slices - 1 }, (_, i) => Math.floor(((i + 1) * count) / slices)).filter((index) => index > 0 && index < count);
}

/** The ranges between `cuts` (paths in byte order, the ones cutIndexes names): every path in one, the first and last open-ended. */
export function rangesBetween(cuts: readonly string[]): PathRange[] {
  const bounds = [...new Set(cuts)];
  return Array.from({ length: bounds.length + 1 }, (_, i) => ({ ...(i > 0 ? { lo: bounds[i - 1] } : {}), ...(i < bounds.length ? { hi: bounds[i] } : {}) }));
}
