/**
 * A rename fcp --watch --two-way makes in a side's directory on this machine (fcp's, or fcpd's for
 * the side it serves): only of an entry (a file, a directory, a symlink) still as last listed, to a
 * free name, never through a symlink. A rename is a shortcut: one that cannot be made leaves the file to be sent.
 */
import * as fs from 'node:fs';
import { FileState, sameState, SideMove, stateOf, under } from './sideListing';

/** Every directory on the way to `path` below `root` is a real directory (not a symlink); `make`: missing ones are made. */
export function realDirsOnTheWay(root: Buffer, path: string, make: boolean): boolean {
  const parts = path.split('/');
  for (let depth = 1; depth < parts.length; depth++) {
    const dir = under(root, parts.slice(0, depth).join('/'));
    const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (stat?.isDirectory()) continue;
    if (stat || !make) return false;
    fs.mkdirSync(dir);
  }
  return true;
}

/**
 * Renames a file of a directory on this machine, only if it is still as listed and the new name
 * is free, never through a symlink (directories on the way to the new name made as needed);
 * whether it was renamed.
 */
export function renameUnchanged(root: Buffer, { from, to }: SideMove, listed: FileState | undefined): boolean {
  try {
    if (!listed || !realDirsOnTheWay(root, from, false) || !sameState(stateOf(under(root, from)), listed)) return false;
    if (fs.lstatSync(under(root, to), { throwIfNoEntry: false }) || !realDirsOnTheWay(root, to, true)) return false;
    fs.renameSync(under(root, from), under(root, to));
    return true;
  } catch {
    // A rename is a shortcut: one that cannot be made leaves the file to be sent.
    return false;
  }
}
