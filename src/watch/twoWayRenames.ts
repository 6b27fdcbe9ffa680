/**
 * Renames in fcp --watch --two-way, pure: a rename one side's listing saw (sideListing.ts) is made
 * as a rename on the other side, rather than a deletion there and the file sent again, when that is
 * the whole story: both records agree on the old name's version (the base), the side that renamed
 * still holds it under the new name, the other side holds it unchanged under the old name, and the
 * new name is free on both sides and in both records. Anything else (the file edited on the other
 * side, the new name taken) is left to the round's plan, which keeps every version: the edit stays
 * under the old name and the renamed file is sent under the new one.
 *
 * A directory renamed on one side is renamed on the other as one rename (what it holds goes with
 * it) when that is the whole story for everything below it too: the other side holds, below the
 * old name, exactly what both records agree on (nothing added, changed or deleted there), and
 * nothing is recorded or held below the new name. What the renaming side changed inside the
 * directory after (or before) renaming it is the plan's, under the new names.
 *
 * After a rename is made, applyRename brings both listings to what the sides hold then, so that the
 * round's plan sees nothing left to do for either name.
 */
import type { Recorded } from '../state/twoWayDb';
import { sameVersion, Version } from '../track/reconcile';
import { DIR_MODE, within } from './entryKinds';
import type { SideFile, SideListing, SideMove } from './sideListing';

export type SideName = 'here' | 'there';

/** A rename to make on side `on`, seen on the other. */
export interface PlannedRename extends SideMove {
  on: SideName;
}

const versionOf = (file: SideFile | Recorded | undefined): Version | null => (file ? { hash: file.hash, mode: file.mode } : null);

/** The renames each side saw that the other can make as renames, in the order seen (here's first). */
export function renamesToMake(here: SideListing, there: SideListing): PlannedRename[] {
  const planned: PlannedRename[] = [];
  const sides = { here, there };
  for (const [seen, on] of [['here', 'there'], ['there', 'here']] as const) {
    const renamed = sides[seen];
    const other = sides[on];
    for (const { from, to } of renamed.moved) {
      const base = versionOf(renamed.records.get(from));
      const free = !other.files.has(to) && !renamed.records.has(to) && !other.records.has(to);
      if (base && free && sameVersion(base, versionOf(other.records.get(from))) && sameVersion(base, versionOf(renamed.files.get(to))) && sameVersion(base, versionOf(other.files.get(from)))) {
        if (base.mode !== DIR_MODE || wholeDirectory(from, to, renamed, other)) planned.push({ on, from, to });
      }
    }
  }
  return planned;
}

/** Every path at or below `dir` in these maps. */
function below(dir: string, ...maps: ReadonlyMap<string, unknown>[]): Set<string> {
  const paths = new Set<string>();
  for (const map of maps) for (const path of map.keys()) if (within(path, dir)) paths.add(path);
  return paths;
}

/** A directory's rename is the whole story: the other side holds below `from` what both records agree on, and `to` is free below too. */
function wholeDirectory(from: string, to: string, renamed: SideListing, other: SideListing): boolean {
  if (below(to, other.files, renamed.records, other.records).size > 0) return false;
  for (const path of below(from, renamed.records, other.records, other.files)) {
    const base = versionOf(renamed.records.get(path));
    if (!base || !sameVersion(base, versionOf(other.records.get(path))) || !sameVersion(base, versionOf(other.files.get(path)))) return false;
  }
  return true;
}

/** `path` at or below `from`, moved below `to`. */
const moved = (path: string, from: string, to: string): string => to + path.slice(from.length);

/** A map's keys at or below `from` moved below `to` (values kept, each re-keyed by `rekey`). */
function rekeyBelow<T>(map: Map<string, T>, from: string, to: string, rekey: (value: T, path: string) => T): [string, T][] {
  const out: [string, T][] = [];
  for (const [path, value] of [...map]) {
    if (!within(path, from)) continue;
    map.delete(path);
    const next = moved(path, from, to);
    const kept = rekey(value, next);
    map.set(next, kept);
    out.push([path, kept]);
  }
  return out;
}

/**
 * The directory rename `from` -> `to` was made on the side whose listing is `madeOn`: both
 * listings brought to it (everything below re-keyed), the rows each record takes (each recorded
 * row under its new path) and the old paths both forget.
 */
export function applyDirRename(rename: SideMove, madeOn: SideListing, seenOn: SideListing): { madeOnRows: Recorded[]; seenOnRows: Recorded[]; forget: string[] } {
  const { from, to } = rename;
  rekeyBelow(madeOn.files, from, to, (file) => file);
  const rows = (listing: SideListing): Recorded[] => rekeyBelow(listing.records, from, to, (row, path) => ({ ...row, path })).map(([, row]) => row);
  const madeOnRows = rows(madeOn);
  const seenOnRows = rows(seenOn);
  const forget = [...new Set([...madeOnRows, ...seenOnRows].map((row) => from + row.path.slice(to.length)))];
  return { madeOnRows, seenOnRows, forget };
}

/** A record row of `path` for this version at this side's file. */
const rowAt = (path: string, file: SideFile): Recorded => ({ path, hash: file.hash, mode: file.mode, size: file.size, mtimeUs: file.mtimeUs });

/**
 * The rename `from` -> `to` was made on the side whose listing is `madeOn` (seen on `seenOn`'s):
 * each listing brought to it, the rows both records take (`to` with each side's file, `from` forgotten).
 */
export function applyRename(rename: SideMove, madeOn: SideListing, seenOn: SideListing): { madeOnRow: Recorded; seenOnRow: Recorded } {
  const { from, to } = rename;
  const file = madeOn.files.get(from)!;
  madeOn.files.delete(from);
  madeOn.files.set(to, file);
  const madeOnRow = rowAt(to, file);
  const seenOnRow = rowAt(to, seenOn.files.get(to)!);
  for (const [listing, row] of [[madeOn, madeOnRow], [seenOn, seenOnRow]] as const) {
    listing.records.delete(from);
    listing.records.set(to, row);
  }
  return { madeOnRow, seenOnRow };
}
