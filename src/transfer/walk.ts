/**
 * The sender's view of its sources: a pre-order list of entries (a directory before what it
 * holds), each with the entry path the receiver will see and the local path to read. Uses the
 * synchronous fs calls: the walk runs before the transfer starts, and lstatSync is several
 * times faster than its promise form for trees of 100,000 files.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { FcpError } from '../errors';
import { MAX_FILE_SIZE, MAX_PATH_BYTES, PERM_MASK } from '../protocol/constants';
import { requestedName } from '../protocol/paths';
import { fsError } from './fsError';
import { showName } from '../showName';
import type { PathFilter } from '../sync/filter';
import type { ListedTree } from '../sync/filesFrom';

/** Who owns an entry, by number (a walk of this machine's files records it; the SFTP walk does not). */
export interface EntryIds { uid: number; gid: number }

export type Entry =
  | { kind: 'dir'; path: Buffer; perm: number; mtimeNs: bigint; ids?: EntryIds }
  | { kind: 'file'; path: Buffer; source: Buffer; perm: number; size: number; mtimeNs: bigint; ids?: EntryIds }
  | { kind: 'symlink'; path: Buffer; source: Buffer; target: Buffer; mtimeNs: bigint; ids?: EntryIds }
  /** -H: another name of the file walked earlier as `target` (both entry paths), of that file's size and mtime. */
  | { kind: 'hardlink'; path: Buffer; source: Buffer; target: Buffer; size: number; mtimeNs: bigint };

export interface WalkOptions {
  recursive: boolean;
  /** -L: send what symlinks inside the sources point to instead of the links (the sources themselves are always followed). */
  followSymlinks: boolean;
  /** Why an entry (its local path, its entry path, whether it is a symlink sent as one) may not be sent: fcpd's policy. */
  refuse?: (source: Buffer, path: Buffer, isLink: boolean) => FcpError | undefined;
  /** -H: a file with several links reached again is a hardlink entry to the first name it was walked under. */
  hardLinks?: boolean;
  /** --exclude/--include and --max-depth: entries it leaves out are not sent, excluded directories not read. */
  filter?: PathFilter;
  /**
   * --files-from: only these paths below the one source (a directory), with the directories above
   * them; `recursive` then says whether a listed directory is sent with its contents.
   */
  listed?: ListedTree;
}

export interface WalkResult {
  entries: Entry[];
  fileCount: number;
  totalBytes: number;
  /**
   * Entries that could not be read or cannot be sent, by entry path; the transfer goes on without
   * them and tells the receiver (ENTRY_ERROR), so that both sides count them.
   */
  skipped: SkippedEntry[];
}

export interface SkippedEntry {
  /** The entry path, or for one too long for the protocol the deepest directory above it that fits. */
  path: Buffer;
  error: FcpError;
}

const SLASH = Buffer.from('/');

/** What a file of this type is called when it is skipped (rsync skips them too). */
function specialKind(stat: fs.BigIntStats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'not a regular file, directory or symlink';
}

function skip(result: WalkResult, path: Buffer, error: FcpError): void {
  const fits = path.length <= MAX_PATH_BYTES ? path : path.subarray(0, path.lastIndexOf(0x2f, MAX_PATH_BYTES));
  result.skipped.push({ path: fits, error });
}

function join(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, SLASH, name]);
}

/**
 * The name a source is sent under: its last component, as scp names it; for `.`, `..` or `/`
 * the name of the directory they stand for (requestedName tells when the path alone says it).
 */
export function sourceName(source: Buffer): Buffer {
  const name = requestedName(source);
  if (name) return Buffer.from(name);
  let end = source.length;
  while (end > 1 && source[end - 1] === 0x2f) end--;
  return Buffer.from(nodePath.basename(fs.realpathSync(end > 0 ? source.subarray(0, end) : SLASH)));
}

/**
 * Walk state beside the result: with -H, the entry path each multiply linked file was first walked
 * under, by dev:ino; `filterRoot`, the bytes of entry path above the transfer root the filter sees.
 */
interface WalkState {
  result: WalkResult;
  options: WalkOptions;
  firstNames: Map<string, Buffer> | undefined;
  filterRoot: number;
}

export function walkSources(sources: Buffer[], options: WalkOptions): WalkResult {
  const result: WalkResult = { entries: [], fileCount: 0, totalBytes: 0, skipped: [] };
  const state: WalkState = { result, options, firstNames: options.hardLinks ? new Map() : undefined, filterRoot: 0 };
  if (options.listed) {
    if (sources.length !== 1) throw new FcpError('FCP_ERR_USAGE', '--files-from takes one source directory', { hint: 'list the paths relative to it' });
    const source = sources[0]!;
    const stat = statOf(source, true, 'read');
    if (!stat.isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(source)} is not a directory: --files-from lists paths below one`);
    const name = sourceName(source);
    // The listed paths are relative to the source: so is the transfer root, as in rsync.
    state.filterRoot = name.length + 1;
    visitListed(state, source, name, stat, options.listed);
    return result;
  }
  for (const source of sources) {
    // A symlink named as a source is followed (as scp, cp -H and rsync's "link/" do); the links
    // found inside a tree stay links unless -L.
    const stat = statOf(source, true, 'read');
    if (stat.isDirectory() && !options.recursive) {
      throw new FcpError('FCP_ERR_IS_DIRECTORY', `${showName(source)} is a directory`, {
        hint: 'use -r to copy directories',
      });
    }
    const name = sourceName(source);
    state.filterRoot = filterRoot(source, name, stat.isDirectory());
    visit(state, source, name, stat, new Set(), 0);
  }
  return result;
}

/**
 * --files-from: a listed path is walked as any source is (a directory's contents only with -r); a
 * directory above listed paths is sent, then only its listed children. A listed path that is
 * missing is skipped with its error, as rsync does.
 */
function visitListed(state: WalkState, source: Buffer, path: Buffer, stat: fs.BigIntStats, node: ListedTree): void {
  const { result, options } = state;
  if (node.listed && (options.recursive || !stat.isDirectory())) return visit(state, source, path, stat, new Set(), 0);
  if (!stat.isDirectory()) {
    skip(result, path, new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(source)} is not a directory: the paths listed below it are skipped`));
    return;
  }
  if (!admitted(state, source, path, stat)) return;
  result.entries.push({ kind: 'dir', path, perm: Number(stat.mode) & PERM_MASK, mtimeNs: stat.mtimeNs, ids: { uid: Number(stat.uid), gid: Number(stat.gid) } });
  const names = [...node.children.keys()].map((key) => Buffer.from(key, 'latin1')).sort(Buffer.compare);
  forEachChild(state, source, path, names, (child, childPath, childStat, name) => visitListed(state, child, childPath, childStat, node.children.get(name.toString('latin1'))!));
}

/** Each of `names` in the directory `source` (entry path `path`), stat'ed as the walk follows links; one that cannot be is skipped with its error. */
function forEachChild(state: WalkState, source: Buffer, path: Buffer, names: Buffer[], each: (child: Buffer, childPath: Buffer, stat: fs.BigIntStats, name: Buffer) => void): void {
  for (const name of names) {
    const child = join(source, name);
    let childStat: fs.BigIntStats;
    try {
      childStat = statOf(child, state.options.followSymlinks, 'read');
    } catch (err) {
      skip(state.result, join(path, name), err as FcpError);
      continue;
    }
    each(child, join(path, name), childStat, name);
  }
}

function statOf(path: Buffer, follow: boolean, operation: string): fs.BigIntStats {
  try {
    return follow ? fs.statSync(path, { bigint: true }) : fs.lstatSync(path, { bigint: true });
  } catch (err) {
    throw fsError(err, operation, path);
  }
}

/** Whether an entry is sent: not left out by the filter, not too long, not refused (those two skipped with their error). */
function admitted(state: WalkState, source: Buffer, path: Buffer, stat: fs.BigIntStats): boolean {
  const { result, options } = state;
  // Before anything that could report the entry: what the rules leave out is no failure.
  if (leftOut(state, path, stat.isDirectory())) return false;
  if (path.length > MAX_PATH_BYTES) {
    skip(result, path, new FcpError('FCP_ERR_BAD_PATH', `${showName(source)}: path longer than ${MAX_PATH_BYTES} bytes; skipped`));
    return false;
  }
  const refusal = options.refuse?.(source, path, stat.isSymbolicLink());
  if (refusal) skip(result, path, refusal);
  return refusal === undefined;
}

/**
 * rsync's transfer root, where a filter's leading `/` anchors: a source written `dir/` is its
 * contents, so the filter sees `x` for dir/x; any other source, the directory holding it (`dir/x`).
 * The bytes of entry path above it.
 */
function filterRoot(source: Buffer, name: Buffer, isDirectory: boolean): number {
  return isDirectory && source.length > 1 && source[source.length - 1] === 0x2f ? name.length + 1 : 0;
}

/** Whether the filter leaves an entry out; never the transfer root itself (rsync never leaves out `.`). */
function leftOut(state: WalkState, path: Buffer, isDirectory: boolean): boolean {
  const { filter } = state.options;
  return filter !== undefined && path.length > state.filterRoot && filter.excludes(path.subarray(state.filterRoot), isDirectory);
}

function visit(
  state: WalkState,
  source: Buffer,
  path: Buffer,
  stat: fs.BigIntStats,
  /** dev:ino of the directories above, to stop -L from looping through a symlink cycle. */
  ancestors: Set<string>,
  /** Levels below the source named on the command line (--max-depth). */
  depth: number,
): void {
  const { result, options } = state;
  if (!admitted(state, source, path, stat)) return;
  const perm = Number(stat.mode) & PERM_MASK;
  const mtimeNs = stat.mtimeNs;
  const ids = { uid: Number(stat.uid), gid: Number(stat.gid) };
  if (stat.isSymbolicLink()) {
    try {
      result.entries.push({ kind: 'symlink', path, source, target: fs.readlinkSync(source, { encoding: 'buffer' }), mtimeNs, ids });
    } catch (err) {
      skip(result, path, fsError(err, 'read symlink', source));
    }
  } else if (stat.isFile()) {
    const size = Number(stat.size);
    if (size > MAX_FILE_SIZE) {
      skip(result, path, new FcpError('FCP_ERR_IO', `${showName(source)} is larger than fcp's 32 TiB limit; skipped`));
      return;
    }
    if (state.firstNames && stat.nlink > 1n) {
      const id = `${stat.dev}:${stat.ino}`;
      const first = state.firstNames.get(id);
      if (first) {
        result.entries.push({ kind: 'hardlink', path, source, target: first, size, mtimeNs });
        return;
      }
      state.firstNames.set(id, path);
    }
    result.entries.push({ kind: 'file', path, source, perm, size, mtimeNs, ids });
    result.fileCount++;
    result.totalBytes += size;
  } else if (stat.isDirectory()) {
    const id = `${stat.dev}:${stat.ino}`;
    if (ancestors.has(id)) {
      skip(result, path, new FcpError('FCP_ERR_BAD_PATH', `${showName(source)}: symlink loop, skipped`));
      return;
    }
    result.entries.push({ kind: 'dir', path, perm, mtimeNs, ids });
    if (options.filter && !options.filter.descends(depth)) return;
    let names: Buffer[];
    try {
      names = fs.readdirSync(source, { encoding: 'buffer' }).sort(Buffer.compare);
    } catch (err) {
      skip(result, path, fsError(err, 'read directory', source));
      return;
    }
    ancestors.add(id);
    forEachChild(state, source, path, names, (child, childPath, childStat) => visit(state, child, childPath, childStat, ancestors, depth + 1));
    ancestors.delete(id);
  } else {
    skip(result, path, new FcpError('FCP_ERR_IO', `${showName(source)} is ${specialKind(stat)}; skipped`));
  }
}

/**
 * The walk of one source narrowed to `paths` below it (fcp --watch's rounds): the source and the
 * directories above each path as bare directory entries, each path that still exists walked as
 * walkSources walks a source's contents (a directory with all it holds). Paths are relative to
 * the source, `/`-separated; a path the filter leaves out, or below a directory it leaves out, is
 * not walked. Entries come in walkSources' order (a directory before what it holds).
 */
export function walkNarrowed(source: Buffer, paths: readonly Buffer[], options: WalkOptions): WalkResult {
  const result: WalkResult = { entries: [], fileCount: 0, totalBytes: 0, skipped: [] };
  const name = sourceName(source);
  const sourceStat = fs.statSync(source, { bigint: true, throwIfNoEntry: false });
  const state: WalkState = { result, options, firstNames: options.hardLinks ? new Map() : undefined, filterRoot: filterRoot(source, name, sourceStat?.isDirectory() ?? false) };
  const announced = new Set<string>();
  /** Announces directory `rel` (entry path `path`) once; false when it is not a directory the walk may enter. */
  const announce = (local: Buffer, path: Buffer): boolean => {
    const key = path.toString('latin1');
    if (announced.has(key)) return true;
    const stat = fs.statSync(local, { bigint: true, throwIfNoEntry: false });
    if (!stat?.isDirectory() || leftOut(state, path, true)) return false;
    announced.add(key);
    result.entries.push({ kind: 'dir', path, perm: Number(stat.mode) & PERM_MASK, mtimeNs: stat.mtimeNs, ids: { uid: Number(stat.uid), gid: Number(stat.gid) } });
    return true;
  };
  if (!announce(source, name)) return result;
  for (const rel of [...paths].sort(Buffer.compare)) {
    const parts = rel.toString('latin1').split('/').map((part) => Buffer.from(part, 'latin1'));
    let local = source;
    let path = name;
    let reachable = true;
    for (const part of parts.slice(0, -1)) {
      local = join(local, part);
      path = join(path, part);
      if (!(reachable = announce(local, path))) break;
    }
    if (!reachable) continue;
    const last = parts[parts.length - 1]!;
    const stat = fs.lstatSync(join(local, last), { bigint: true, throwIfNoEntry: false });
    const followed = stat?.isSymbolicLink() && options.followSymlinks ? fs.statSync(join(local, last), { bigint: true, throwIfNoEntry: false }) : stat;
    if (followed && !announced.has(join(path, last).toString('latin1'))) visit(state, join(local, last), join(path, last), followed, new Set(), parts.length);
  }
  return result;
}
