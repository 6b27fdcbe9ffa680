/**
 * What fcp --watch knows of its source tree: every entry's kind, inode and times by path
 * (relative to the source, latin1 spellings of the bytes). Events name paths that may have
 * changed; the snapshot, looked at again there, says which did, and which names only moved
 * (renames.ts). A rescan does the same for the whole tree, for what the events missed.
 */
import * as fs from 'node:fs';
import { PERM_MASK } from '../protocol/constants';
import { detectRenames, Rename, Stamp } from './renames';

export type Snapshot = Map<string, Stamp & { perm: number }>;
type Entry = Stamp & { perm: number };

/** Whether the user's filters leave out the entry at this path (relative to the source). */
export type Excluded = (path: Buffer, isDir: boolean) => boolean;

export interface Changes {
  /** Paths whose entry appeared, vanished, or changed (a directory: its kind or permissions; what it holds is listed on its own). */
  changed: Buffer[];
  renames: Rename[];
}

const latin1 = (path: string): Buffer => Buffer.from(path, 'latin1');

function stampOf(stat: fs.Stats): Entry | undefined {
  const kind = stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : undefined;
  if (!kind) return undefined;
  return { kind, dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, perm: stat.mode & PERM_MASK };
}

function localPath(root: Buffer, rel: string): Buffer {
  return rel.length === 0 ? root : Buffer.concat([root, Buffer.from('/'), latin1(rel)]);
}

/** Adds the entry at `rel` (and, for a directory, all it holds) to `into`. */
function scanInto(root: Buffer, rel: string, into: Snapshot, excluded: Excluded): void {
  const stat = fs.lstatSync(localPath(root, rel), { throwIfNoEntry: false });
  const entry = stat && stampOf(stat);
  if (!entry || (rel.length > 0 && excluded(latin1(rel), entry.kind === 'dir'))) return;
  if (rel.length > 0) into.set(rel, entry);
  if (entry.kind !== 'dir') return;
  let names: Buffer[];
  try {
    names = fs.readdirSync(localPath(root, rel), { encoding: 'buffer' });
  } catch {
    // Unreadable now: its contents are looked at again at the next rescan.
    return;
  }
  for (const name of names) scanInto(root, rel.length === 0 ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`, into, excluded);
}

/** The whole tree below `root`. */
export function scanTree(root: Buffer, excluded: Excluded): Snapshot {
  const snapshot: Snapshot = new Map();
  scanInto(root, '', snapshot, excluded);
  return snapshot;
}

function differs(before: Entry, after: Entry): boolean {
  if (before.kind !== after.kind || before.ino !== after.ino || before.dev !== after.dev || before.perm !== after.perm) return true;
  // A directory's size and mtime change with what it holds, which is listed on its own.
  return before.kind !== 'dir' && (before.size !== after.size || before.mtimeMs !== after.mtimeMs);
}

/** The changes between two views of the same paths. */
export function compare(before: ReadonlyMap<string, Entry>, after: ReadonlyMap<string, Entry>): Changes {
  const vanished = new Map<string, Entry>();
  const appeared = new Map<string, Entry>();
  const changed: string[] = [];
  for (const [path, entry] of before) {
    const now = after.get(path);
    if (!now) vanished.set(path, entry);
    else if (differs(entry, now)) changed.push(path);
  }
  for (const [path, entry] of after) if (!before.has(path)) appeared.set(path, entry);
  return { changed: [...changed, ...vanished.keys(), ...appeared.keys()].map(latin1), renames: detectRenames(vanished, appeared) };
}

/** Whether `key` is below one of `dirs`. */
function underAny(key: string, dirs: ReadonlySet<string>): boolean {
  for (let slash = key.indexOf('/'); slash >= 0; slash = key.indexOf('/', slash + 1)) if (dirs.has(key.slice(0, slash))) return true;
  return false;
}

/**
 * Looks again at `paths` (and below them) after events named them: updates `snapshot` and says
 * what changed there. `paths` must not contain one another (batcher.collapse).
 */
export function refresh(snapshot: Snapshot, root: Buffer, paths: readonly Buffer[], excluded: Excluded): Changes {
  const before = new Map<string, Entry>();
  const after: Snapshot = new Map();
  const dirs = new Set(paths.map((path) => path.toString('latin1')).filter((key) => snapshot.get(key)?.kind === 'dir'));
  for (const path of paths) {
    const key = path.toString('latin1');
    const old = snapshot.get(key);
    if (old) before.set(key, old);
    scanInto(root, key, after, excluded);
  }
  // What was below a directory among them: one pass over the snapshot, only when there was one.
  if (dirs.size > 0) {
    for (const [key, entry] of snapshot) if (underAny(key, dirs)) before.set(key, entry);
  }
  for (const key of before.keys()) snapshot.delete(key);
  for (const [key, entry] of after) snapshot.set(key, entry);
  return compare(before, after);
}
