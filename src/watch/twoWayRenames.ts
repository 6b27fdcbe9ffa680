/**
 * Renames in fcp --watch --two-way, pure: a rename one side's listing saw (sideListing.ts) is made
 * as a rename on the other side, rather than a deletion there and the file sent again, when that is
 * the whole story: both records agree on the old name's version (the base), the side that renamed
 * still holds it under the new name, the other side holds it unchanged under the old name, and the
 * new name is free on both sides and in both records. Anything else (the file edited on the other
 * side, the new name taken) is left to the round's plan, which keeps every version: the edit stays
 * under the old name and the renamed file is sent under the new one.
 *
 * After a rename is made, applyRename brings both listings to what the sides hold then, so that the
 * round's plan sees nothing left to do for either name.
 */
import type { Recorded } from '../state/twoWayDb';
import { sameVersion, Version } from '../track/reconcile';
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
        planned.push({ on, from, to });
      }
    }
  }
  return planned;
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
