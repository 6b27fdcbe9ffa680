/**
 * A side of fcp --watch --two-way as the rounds see it: its regular files (by path relative to its
 * directory: latin1 spellings of the bytes, `/`-separated) with size, mtime and permission bits,
 * and each file's version: the recorded one when size and mtime are the recorded ones, else the
 * file's sha256, read here. With `tree` (both sides speak TWO_WAY_TREE) its directories and
 * symlinks too (entryKinds.ts: a directory's version is its existence, a symlink's its target). The same code lists fcp's side and fcpd's (PROTOCOL.md §7.12), each
 * against its own record (state/twoWayDb.ts). A recorded file gone from its name and found under
 * an unrecorded one (the same device and inode, size and mtime: renames.ts) was renamed: the
 * listing says so, and the file's version is the recorded one, not read again.
 */
import * as fs from 'node:fs';
import { asFcpError, FcpError } from '../errors';
import { PERM_MASK } from '../protocol/constants';
import { showName } from '../showName';
import type { Recorded } from '../state/twoWayDb';
import { FilterRule, PathFilter } from '../sync/filter';
import { hashFile } from '../track/folder';
import { DIR_HASH, DIR_STATE, isNode, LINK_STATE, linkVersionHash, NodeKind, nodeKindOf } from './entryKinds';
import { detectRenames, sameEntry, Stamp } from './renames';
import { EVERY_PATH, inRange, PathRange, reachesBelow } from './pathRange';
import { inScope, Scope, topPaths } from './scope';

/** A file as a side holds it; mtime in microseconds (what a receiver sets: compare.ts sameTime). */
export interface FileState {
  size: number;
  mtimeUs: number;
  mode: number;
}

/** An entry with its version's digest (a file's content sha256, hex; a symlink's target's); a symlink's target (latin1 spelling). */
export type SideFile = FileState & { hash: string; target?: string };

/** A file as a walk finds it: its state, and its device and inode (renames are told by them). */
export type WalkedFile = FileState & { dev: number; ino: number };

/** A rename a side's listing saw (paths as in its listing). */
export interface SideMove {
  from: string;
  to: string;
}

export interface SideListing {
  files: Map<string, SideFile>;
  /** The side's record: what it held at the last sync, by path. */
  records: Map<string, Recorded>;
  /** Recorded files found under another name: each `to` is listed, each `from` is not. */
  moved: SideMove[];
  /**
   * false: some entries could not be read (a directory, a file): a path missing from the listing
   * may be there still, and is not taken for deleted.
   */
  complete: boolean;
}

const SLASH = Buffer.from('/');

/**
 * What no side lists: an interrupted transfer's partial files and their journals and locks
 * (state/partialFile.ts), and the temporaries a transfer writes a file under before it renames it
 * into place (`.NAME.fcp-PID-N`, fileWriter.ts; `.NAME.fcp-sftp-...` over SFTP): a listing taken
 * while the other direction wrote would send one back, to be deleted on the next round.
 */
const PARTIAL_RULES: readonly FilterRule[] = ['.*.fcp-part', '.*.fcp-part.*', '.*.fcp-*-*'].map((pattern) => ({ kind: 'exclude', pattern: Buffer.from(pattern) }));

/** The user's filters, after the rules that keep partial files out of every listing. */
export function sideFilter(user: PathFilter | undefined): PathFilter {
  return new PathFilter([...PARTIAL_RULES, ...(user?.rules ?? [])], user?.maxDepth);
}

export function microseconds(mtimeNs: bigint): number {
  return Number(mtimeNs / 1000n);
}

/** A directory's path joined with a relative one (latin1 spelling), as bytes. */
export function under(root: Buffer, rel: string): Buffer {
  return rel.length === 0 ? root : Buffer.concat([root, SLASH, Buffer.from(rel, 'latin1')]);
}

/** An entry's state: a file's size, mtime and permission bits; a directory's or symlink's kind alone. */
function stateOfStat(stat: fs.BigIntStats): FileState {
  if (stat.isDirectory()) return DIR_STATE;
  if (stat.isSymbolicLink()) return LINK_STATE;
  return { size: Number(stat.size), mtimeUs: microseconds(stat.mtimeNs), mode: Number(stat.mode) & PERM_MASK };
}

const listable = (stat: fs.BigIntStats | undefined): stat is fs.BigIntStats => !!stat && (stat.isFile() || stat.isDirectory() || stat.isSymbolicLink());

/** An entry's state with its device and inode, as one object (a walk makes one for every entry). */
function walkedOfStat(stat: fs.BigIntStats): WalkedFile {
  const { size, mtimeUs, mode } = stateOfStat(stat);
  return { size, mtimeUs, mode, dev: Number(stat.dev), ino: Number(stat.ino) };
}

/** An entry's state with its device and inode now (undefined: nothing a side lists there). */
export function walkedOf(file: Buffer): WalkedFile | undefined {
  const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return listable(stat) ? walkedOfStat(stat) : undefined;
}

/** An entry's state now, not following a symlink (undefined: nothing a side lists there). */
export function stateOf(file: Buffer): FileState | undefined {
  const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return listable(stat) ? stateOfStat(stat) : undefined;
}

export const sameState = (a: FileState | undefined, b: FileState | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.size === b.size && a.mtimeUs === b.mtimeUs && a.mode === b.mode;

/** Every directory on the way to `path` (not `path` itself) is a real directory (lstat) the filter leaves in. */
function onRealDirs(root: Buffer, path: string, filter: PathFilter): boolean {
  for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
    const dir = path.slice(0, slash);
    if (!fs.lstatSync(under(root, dir), { throwIfNoEntry: false })?.isDirectory() || filter.excludes(Buffer.from(dir, 'latin1'), true)) return false;
  }
  return true;
}

/**
 * The regular files below `root` the filter leaves in (directories it excludes are not entered); with `tree`, its directories and symlinks too.
 * With a scope (a narrowed listing), only the entries at its paths and below them, each reached through real directories only.
 * With a range (a whole walk's slice: pathRange.ts), only the entries whose paths are in it: nothing else is stat'ed, and a
 * directory is entered only when something below it may be.
 */
export function walkFiles(root: Buffer, filter: PathFilter, tree = false, scope: Scope = 'whole', range: PathRange = EVERY_PATH): { files: Map<string, WalkedFile>; complete: boolean } {
  const found = { files: new Map<string, WalkedFile>(), complete: true };
  /** The entry at `path` (stat'ed, not followed), and what is below it when it is a directory. */
  const take = (path: string, stat: fs.BigIntStats | undefined): void => {
    if (stat?.isDirectory()) {
      if (filter.excludes(Buffer.from(path, 'latin1'), true)) return;
      if (tree && inRange(path, range)) found.files.set(path, { ...DIR_STATE, dev: Number(stat.dev), ino: Number(stat.ino) });
      if (reachesBelow(path, range)) visit(path);
    } else if ((stat?.isFile() || (tree && stat?.isSymbolicLink())) && inRange(path, range) && !filter.excludes(Buffer.from(path, 'latin1'), false)) {
      found.files.set(path, walkedOfStat(stat));
    }
  };
  const visit = (rel: string): void => {
    let names: Buffer[];
    try {
      names = fs.readdirSync(under(root, rel), { encoding: 'buffer' });
    } catch (err) {
      if (rel.length === 0) throw new FcpError('FCP_ERR_IO', `cannot read ${showName(root)}: ${(err as Error).message}`);
      // Unreadable (not just gone): what it holds is looked at again in the next round.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') found.complete = false;
      return;
    }
    for (const name of names) {
      const path = rel.length === 0 ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
      if (inRange(path, range) || reachesBelow(path, range)) take(path, fs.lstatSync(under(root, path), { bigint: true, throwIfNoEntry: false }));
    }
  };
  if (scope === 'whole') {
    visit('');
    return found;
  }
  // The root must be there, as for a whole listing.
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new FcpError('FCP_ERR_IO', `cannot read ${showName(root)}: not a directory`);
  for (const path of topPaths(scope)) {
    if (onRealDirs(root, path, filter)) take(path, fs.lstatSync(under(root, path), { bigint: true, throwIfNoEntry: false }));
  }
  return found;
}

/** A symlink as listed: its target read (never followed) and its version; undefined when it is gone. */
async function linkEntry(root: Buffer, path: string, state: FileState): Promise<SideFile | undefined> {
  let target: Buffer;
  try {
    target = fs.readlinkSync(under(root, path), { encoding: 'buffer' });
  } catch {
    return undefined;
  }
  return { ...state, hash: linkVersionHash(target), target: target.toString('latin1') };
}

/** The sha256 (hex) of a file; undefined when it is gone. */
export async function digestOf(file: Buffer): Promise<string | undefined> {
  try {
    return await hashFile(file);
  } catch (err) {
    if (!fs.existsSync(file)) return undefined;
    throw asFcpError(err);
  }
}

const STAMP_KIND: Record<NodeKind | 'file', Stamp['kind']> = { file: 'file', dir: 'dir', symlink: 'symlink' };
const stampOf = (file: { dev: number; ino: number; size: number; mtimeUs: number; mode: number }): Stamp => ({
  kind: STAMP_KIND[nodeKindOf(file.mode) ?? 'file'],
  dev: file.dev,
  ino: file.ino,
  size: file.size,
  mtimeMs: file.mtimeUs / 1000,
});

/** Recorded files (with their inodes) missing from the walk, found under names the record lacks. */
export function movesOf(walked: ReadonlyMap<string, WalkedFile>, records: ReadonlyMap<string, Recorded>): SideMove[] {
  const vanished = new Map<string, Stamp>();
  for (const [path, row] of records) if (!walked.has(path) && row.dev !== undefined && row.ino !== undefined) vanished.set(path, stampOf({ ...row, dev: row.dev, ino: row.ino }));
  const appeared = new Map<string, Stamp>();
  for (const [path, file] of walked) if (!records.has(path)) appeared.set(path, stampOf(file));
  return vanished.size === 0 ? [] : detectRenames(vanished, appeared).map(({ from, to }) => ({ from, to }));
}

/**
 * The recorded paths outside a narrowed walk's scope whose entry the walk found under another name
 * in it, unrecorded or recorded for another entry (renames.ts: the same kind, device and inode; a
 * file's size and mtime too): renames whose old name no event of this listing named. The events
 * of one rename can fall in two rounds (a directory made and named in one, an entry moved into it
 * before the round walked it), so a listing takes these paths in rather than see a new file, and
 * the old name's deletion next round.
 * `recordedAs`: the record's rows of a device and inode.
 */
export function renameOrigins(walked: ReadonlyMap<string, WalkedFile>, records: ReadonlyMap<string, Recorded>, scope: ReadonlySet<string>, recordedAs: (dev: number, ino: number) => readonly Recorded[]): string[] {
  const origins: string[] = [];
  for (const [path, file] of walked) {
    // A name recorded for another entry counts too: a rename can land on a name whose entry moved away first.
    const own = records.get(path);
    if (own && own.dev === file.dev && own.ino === file.ino) continue;
    for (const row of recordedAs(file.dev, file.ino)) {
      if (!inScope(row.path, scope) && sameEntry(stampOf({ ...row, dev: file.dev, ino: file.ino }), stampOf(file))) origins.push(row.path);
    }
  }
  return origins;
}

/** The recorded row each path a rename brought in was recorded under: a renamed directory's contents are their recorded selves below its new name. */
function movedRows(moved: readonly SideMove[], records: ReadonlyMap<string, Recorded>): Map<string, Recorded> {
  const rows = new Map<string, Recorded>();
  for (const { from, to } of moved) {
    rows.set(to, records.get(from)!);
    if (!isNode(records.get(from)!.mode)) continue;
    for (const [path, row] of records) if (path.startsWith(`${from}/`)) rows.set(to + path.slice(from.length), row);
  }
  return rows;
}

/**
 * Lists a side: its files (with `tree`, directories and symlinks too), each with its version (read
 * when its stat is not the recorded one), its record and its renames; and `restamped`, the record's
 * rows whose file is the one recorded but under another inode or none known (written before schema
 * 3, or after the file was renamed again): the side writes them, so that a later rename is told.
 * Without `tree` the record's rows of directories and symlinks are left out (a peer without
 * TWO_WAY_TREE): they are neither listed nor taken for deleted. With a scope, `allRecords` are
 * the rows within it, and only its paths are walked (a narrowed listing, scope.ts); `walked`: that
 * walk, when the caller made it already.
 */
export async function listSide(root: Buffer, filter: PathFilter, allRecords: Map<string, Recorded>, tree = false, scope: Scope = 'whole', walked = walkFiles(root, filter, tree, scope)): Promise<{ listing: SideListing; restamped: Recorded[] }> {
  const records = tree ? allRecords : new Map([...allRecords].filter(([, row]) => !isNode(row.mode)));
  const moved = movesOf(walked.files, records);
  const movedFrom = movedRows(moved, records);
  const listing: SideListing = { files: new Map(), records, moved, complete: walked.complete };
  const restamped: Recorded[] = [];
  for (const [path, { dev, ino, ...state }] of walked.files) {
    const kind = nodeKindOf(state.mode);
    if (kind) {
      const node = kind === 'dir' ? { ...state, hash: DIR_HASH } : await linkEntry(root, path, state);
      if (!node) continue;
      listing.files.set(path, node);
      const own = records.get(path);
      if (own && own.mode === state.mode && (own.dev !== dev || own.ino !== ino)) restamped.push({ ...own, dev, ino });
      continue;
    }
    // A renamed file is the version recorded under its old name.
    const own = records.get(path);
    const recorded = own ?? movedFrom.get(path);
    if (recorded && recorded.size === state.size && recorded.mtimeUs === state.mtimeUs) {
      listing.files.set(path, { ...state, hash: recorded.hash });
      if (own && (own.dev !== dev || own.ino !== ino)) restamped.push({ ...own, dev, ino });
      continue;
    }
    let hash: string | undefined;
    try {
      hash = await digestOf(under(root, path));
    } catch {
      // Unreadable now: not known, so not taken for deleted either.
      listing.complete = false;
    }
    // Gone since the walk: deleted, as far as this listing knows.
    if (hash !== undefined) listing.files.set(path, { ...state, hash });
  }
  return { listing, restamped };
}
