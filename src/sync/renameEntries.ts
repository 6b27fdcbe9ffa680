/**
 * RENAME at the receiver (PROTOCOL.md §7.9): before a push's listing, entries the sender saw move
 * are renamed in place, so that their bytes need not cross the wire again. Only inside the
 * destination: both names below the transfer's top-level entry and under the same one, every
 * directory on the way a real directory (never a symlink), the old name there, the new one free,
 * and fcpd's policy allowing the new one. A rename that cannot be made is left out: the listing
 * that follows sends whatever is not at the destination then, as if no RENAME had come.
 */
import * as fs from 'node:fs';
import type { RenameMessage } from '../protocol/messages';
import { showName } from '../showName';
import type { Destination } from '../transfer/destination';

const SLASH = 0x2f;

/** Why the rename cannot be made, or undefined when it can. */
function problem(destination: Destination, from: Buffer, to: Buffer): string | undefined {
  const top = (path: Buffer): Buffer | undefined => {
    const slash = path.indexOf(SLASH);
    return slash < 0 ? undefined : path.subarray(0, slash);
  };
  const fromTop = top(from);
  if (!fromTop || !top(to)?.equals(fromTop)) return 'not two names below one top-level entry';
  for (const path of [from, to]) {
    for (let slash = path.indexOf(SLASH); slash >= 0; slash = path.indexOf(SLASH, slash + 1)) {
      const dir = fs.lstatSync(destination.localPath(path.subarray(0, slash)), { throwIfNoEntry: false });
      if (!dir?.isDirectory()) return `${showName(path.subarray(0, slash))} is not a directory there`;
    }
  }
  if (!fs.lstatSync(destination.localPath(from), { throwIfNoEntry: false })) return 'the old name is not there';
  if (fs.lstatSync(destination.localPath(to), { throwIfNoEntry: false })) return 'the new name is taken';
  return destination.refusal?.(destination.localPath(to), to)?.message;
}

/** Makes the renames that can be made, in order; returns how many were. */
export function applyRenames(destination: Destination, renames: readonly RenameMessage[], log: (line: string) => void): number {
  let made = 0;
  for (const { from, to } of renames) {
    const why = problem(destination, from, to);
    if (why === undefined) {
      try {
        fs.renameSync(destination.localPath(from), destination.localPath(to));
        made++;
        continue;
      } catch (err) {
        log(`rename ${showName(from)} -> ${showName(to)} not made (${(err as Error).message}): sent instead`);
        continue;
      }
    }
    log(`rename ${showName(from)} -> ${showName(to)} not made (${why}): sent instead`);
  }
  return made;
}
