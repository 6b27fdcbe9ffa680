/**
 * Directories and symlinks in fcp --watch --two-way (feature TWO_WAY_TREE, PROTOCOL.md §7.12): a
 * side lists them beside its files, and a version tells the kinds apart by the file-type bits of
 * its mode (a file's mode is its permission bits alone, as before). A directory's version is its
 * existence (its permission bits and mtime are not synced: the mtime moves with every change
 * inside); a symlink's is its target, as text (never followed), the digest the sha256 of it.
 */
import { createHash } from 'node:crypto';
import type { FileState } from './sideListing';

/** S_IFDIR and S_IFLNK, in a version's mode. */
export const DIR_MODE = 0o040000;
export const LINK_MODE = 0o120000;
const TYPE_MASK = 0o170000;

export type NodeKind = 'dir' | 'symlink';

/** A directory's digest: none (its version is that it exists). */
export const DIR_HASH = '0'.repeat(64);

/** A directory's state as a side lists it: only its kind. */
export const DIR_STATE: FileState = { size: 0, mtimeUs: 0, mode: DIR_MODE };

/** A symlink's state as a side lists it: only its kind (its version is its target: linkVersionHash, read each listing). */
export const LINK_STATE: FileState = { size: 0, mtimeUs: 0, mode: LINK_MODE };

/** What a mode's type bits name: a directory, a symlink, or (undefined) a regular file. */
export function nodeKindOf(mode: number): NodeKind | undefined {
  const type = mode & TYPE_MASK;
  return type === DIR_MODE ? 'dir' : type === LINK_MODE ? 'symlink' : undefined;
}

export const isNode = (mode: number): boolean => nodeKindOf(mode) !== undefined;

/** A symlink's version digest: the sha256 (hex) of its target's bytes. */
export function linkVersionHash(target: Buffer): string {
  return createHash('sha256').update(target).digest('hex');
}

/** A path's depth (how many `/` it holds): children are removed before their directory, made after it. */
export const depthOf = (path: string): number => path.split('/').length;

/** `path` is `dir` or below it. */
export const within = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
