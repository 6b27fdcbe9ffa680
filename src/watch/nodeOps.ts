/**
 * The directory and symlink changes fcp --watch --two-way makes in a side's directory on this
 * machine (fcp's, or fcpd's for the side it serves: TWO_WAY_NODE_OP, PROTOCOL.md §7.12). Each is
 * made only where it is safe: never through a symlink (every directory on the way is a real one),
 * a new entry only under a free name, a removal only of what is still as listed (a directory only
 * when empty, a symlink only while it holds the listed target). A symlink's target is text: it is
 * written as it came and never followed. One that cannot be made is left to the next round.
 */
import * as fs from 'node:fs';
import { DIR_HASH, linkVersionHash } from './entryKinds';
import { under } from './sideListing';
import { realDirsOnTheWay } from './sideRename';

/** A directory or symlink made or removed on a side (paths and targets: latin1 spellings of their bytes). */
export type NodeOp =
  | { op: 'mkdir'; path: string }
  | { op: 'symlink'; path: string; target: string }
  /** `hash`: the version listed (DIR_HASH: an empty directory; else a symlink whose target has this digest). */
  | { op: 'remove'; path: string; hash: string };

function removeNode(file: Buffer, hash: string): boolean {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (hash === DIR_HASH) {
    if (!stat?.isDirectory()) return false;
    // Fails on a directory that is not empty (something the filters leave out, or added since): kept.
    fs.rmdirSync(file);
    return true;
  }
  if (!stat?.isSymbolicLink() || linkVersionHash(fs.readlinkSync(file, { encoding: 'buffer' })) !== hash) return false;
  fs.unlinkSync(file);
  return true;
}

/** Makes one change below `root`; whether it was made. */
export function makeNode(root: Buffer, change: NodeOp): boolean {
  try {
    const file = under(root, change.path);
    if (change.op === 'remove') return realDirsOnTheWay(root, change.path, false) && removeNode(file, change.hash);
    if (fs.lstatSync(file, { throwIfNoEntry: false }) || !realDirsOnTheWay(root, change.path, true)) return false;
    if (change.op === 'mkdir') fs.mkdirSync(file);
    else fs.symlinkSync(Buffer.from(change.target, 'latin1'), file);
    return true;
  } catch {
    return false;
  }
}
