/**
 * A sweep of a two-way side (PROTOCOL.md §7.12, more feature TWO_WAY_SWEEP): the directory walked
 * and each entry compared with the side's own record, naming only the paths where they differ: a file whose size, mtime, permission bits or inode are not the recorded ones, a symlink
 * whose target is not, an entry of another kind, one the record lacks, a recorded path gone.
 * That is every path a whole listing would find changed since the last sync (a whole listing
 * reads a file again only when its size and mtime are not the recorded ones, too), at the cost of
 * a stat per entry: nothing is hashed, sent or decided for a path that is as recorded. The paths
 * then narrow the round as events' paths do (scope.ts). So the rescan that catches what events
 * missed costs a walk on each side, not a listing of every path on both and a decision over them.
 * And not all at once: a rescan round sweeps one slice of the side's paths (pathRange.ts), the
 * next round the next one (SweepCycle), so every minute of an idle watch costs about the same.
 */
import * as fs from 'node:fs';
import type { Recorded } from '../state/twoWayDb';
import type { PathFilter } from '../sync/filter';
import { MAX_NARROWED_PATHS } from './constants';
import { linkVersionHash, nodeKindOf } from './entryKinds';
import { cutIndexes, EVERY_PATH, PathRange, rangesBetween } from './pathRange';
import { Scope, topPaths } from './scope';
import { under, walkFiles, WalkedFile } from './sideListing';

/** The record's rows in a range, row by row (TwoWayDb.eachRecorded). */
export type RecordRows = (visit: (row: Recorded) => void, lo?: string, hi?: string) => void;

/** Whether the entry walked at `path` is the one the record holds there. */
function asRecorded(root: Buffer, path: string, walked: WalkedFile, row: Recorded): boolean {
  const kind = nodeKindOf(walked.mode);
  if (kind !== nodeKindOf(row.mode)) return false;
  if (kind === 'dir') return true;
  if (kind === 'symlink') {
    try {
      return linkVersionHash(fs.readlinkSync(under(root, path), { encoding: 'buffer' })) === row.hash;
    } catch {
      return false;
    }
  }
  const sameInode = row.dev === undefined || row.ino === undefined || (row.dev === walked.dev && row.ino === walked.ino);
  return walked.size === row.size && walked.mtimeUs === row.mtimeUs && walked.mode === row.mode && sameInode;
}

/**
 * The paths below `root` in `range` (files, directories and symlinks the filter leaves in) that
 * differ from the record, as the fewest paths that cover them (a directory new or gone stands for
 * what it holds); whole when some entry could not be read (a path missing from the walk may be
 * there) or when more than MAX_NARROWED_PATHS differ.
 */
export function sweepSide(root: Buffer, filter: PathFilter, records: RecordRows, range: PathRange = EVERY_PATH): Scope {
  const walk = walkFiles(root, filter, true, 'whole', range);
  if (!walk.complete) return 'whole';
  const differing = new Set<string>();
  const unrecorded = walk.files;
  records(
    (row) => {
      const walked = unrecorded.get(row.path);
      if (!walked || !asRecorded(root, row.path, walked, row)) differing.add(row.path);
      unrecorded.delete(row.path);
    },
    range.lo,
    range.hi,
  );
  for (const path of unrecorded.keys()) differing.add(path);
  const covering = topPaths(differing);
  return covering.length > MAX_NARROWED_PATHS ? 'whole' : new Set(covering);
}

/** What a sweep cycle asks of the record when it begins: how many paths, and those at given indexes in byte order (TwoWayDb). */
export interface RecordCuts {
  count(): number;
  pathsAt(indexes: readonly number[]): string[];
}

/**
 * Which slice of a side's paths its next sweep looks at: `slices` slices a cycle, cut at the
 * record's paths when the cycle begins (cutIndexes: a few indexed lookups, not a read of every
 * path), so every path (recorded or new) is swept once a cycle.
 */
export class SweepCycle {
  private ranges: PathRange[] = [];
  private next = 0;

  constructor(private readonly slices: number) {}

  nextRange(record: RecordCuts): PathRange {
    if (this.next >= this.ranges.length) {
      this.ranges = rangesBetween(record.pathsAt(cutIndexes(record.count(), this.slices)));
      this.next = 0;
    }
    return this.ranges[this.next++]!;
  }
}
