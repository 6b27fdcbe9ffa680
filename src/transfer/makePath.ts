/**
 * --mkpath (rsync's): the destination's missing directories, made as `mkdir -p` makes them before
 * anything is placed (PROTOCOL.md §7.2). Which directory must exist follows the placement rule:
 * DEST itself where it has to be a directory (written with a trailing slash, or several sources),
 * else the directory DEST is in (DEST itself is then the one source's new name, or made a
 * directory by the placement as without --mkpath). Only names are made: a `..` or `.` among the
 * missing components is refused, so that what fcpd's policy checked (the destination's real path,
 * server/policy.ts) is where the directories go.
 */
import { mkdirSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { FcpError } from '../errors';
import { ModeFlag } from '../protocol/constants';
import { showName } from '../showName';
import { fsError } from './fsError';

const SLASH = 0x2f;
const DOT = Buffer.from('.');
const DOT_DOT = Buffer.from('..');

/** The directory --mkpath makes sure of for a destination and MODE's flags. */
export function directoryToMake(dest: Buffer, flags: number): Buffer {
  if (dest[dest.length - 1] === SLASH || flags & ModeFlag.DEST_IS_DIR) return dest;
  const slash = lastSlash(dest);
  return slash < 0 ? DOT : slash === 0 ? Buffer.from('/') : dest.subarray(0, slash);
}

/** The last slash that is not at the end. */
function lastSlash(path: Buffer): number {
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end--;
  return path.lastIndexOf(SLASH, end - 1);
}

/** An ancestor of the directory to make (itself first), and the components below it, in order. */
export interface Ancestor {
  path: Buffer;
  below: Buffer[];
}

/** `target` and each directory above it as the path names them, nearest first, down to `/` or `.`. */
export function ancestors(target: Buffer): Ancestor[] {
  const absolute = target[0] === SLASH;
  const names: Buffer[] = [];
  for (let start = 0; start <= target.length; ) {
    let end = target.indexOf(SLASH, start);
    if (end < 0) end = target.length;
    if (end > start) names.push(target.subarray(start, end));
    start = end + 1;
  }
  const result: Ancestor[] = [];
  for (let kept = names.length; kept >= 0; kept--) {
    const joined = Buffer.from(names.slice(0, kept).map((name) => name.toString('latin1')).join('/'), 'latin1');
    const path = absolute ? Buffer.concat([Buffer.from('/'), joined]) : kept === 0 ? DOT : joined;
    result.push({ path, below: names.slice(kept) });
  }
  return result;
}

/** Refuses components --mkpath would not make: `.` and `..` (where `..` would lead is not what was checked). */
export function checkNamesToMake(target: Buffer, names: readonly Buffer[]): void {
  if (names.some((name) => name.equals(DOT) || name.equals(DOT_DOT))) {
    throw new FcpError('FCP_ERR_USAGE', `--mkpath: ${showName(target)} has . or .. among the directories it would make`, {
      hint: 'write the destination without . and .. components below its existing part',
    });
  }
}

/**
 * Makes what `target` lacks (mode 0777 less the umask, as mkdir -p), unless `dryRun`; returns the
 * directories made (or that a dry run would make), outermost first. An existing ancestor that is
 * not a directory is FCP_ERR_NOT_DIRECTORY.
 */
export function makeDirectories(target: Buffer, dryRun: boolean): Buffer[] {
  for (const { path, below } of ancestors(target)) {
    let stat: Stats | undefined;
    try {
      stat = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      // ENOTDIR: something above is a file; the nearer ancestors say which.
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw fsError(err, 'access', path);
    }
    if (!stat) continue;
    if (!stat.isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `--mkpath: ${showName(path)} is not a directory`);
    checkNamesToMake(target, below);
    const made = pathsBelow(path, below);
    if (!dryRun) made.forEach(makeOne);
    return made;
  }
  throw new FcpError('FCP_ERR_NOT_FOUND', `--mkpath: no directory above ${showName(target)} exists`);
}

/** The paths of `names` made one inside the other below `base`, outermost first. */
export function pathsBelow(base: Buffer, names: readonly Buffer[]): Buffer[] {
  const paths: Buffer[] = [];
  let at = base;
  for (const name of names) {
    at = at.equals(DOT) ? name : Buffer.concat([at, at[at.length - 1] === SLASH ? Buffer.alloc(0) : Buffer.from('/'), name]);
    paths.push(at);
  }
  return paths;
}

function makeOne(path: Buffer): void {
  try {
    mkdirSync(path);
  } catch (err) {
    // Made meanwhile (another copy's --mkpath): fine if it is a directory.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(path, { throwIfNoEntry: false })?.isDirectory()) return;
    throw fsError(err, 'create directory', path);
  }
}
