/**
 * The sender's view of its sources: entries in pre-order (a directory before what it holds,
 * names sorted bytewise), each with the entry path the receiver will see and the local path to
 * read, found as the sender asks for them (WalkStream) or all at once (walkSources). Uses the
 * synchronous fs calls: the sender walks a few thousand entries at a time between
 * announcements, and lstatSync is several times faster than its promise form.
 */
import { constants, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { FcpError } from '../errors';
import { INLINE_MAX, MAX_FILE_SIZE, MAX_PATH_BYTES, PERM_MASK } from '../protocol/constants';
import { namesContents, requestedName } from '../protocol/paths';
import { openBound, readdirTyped } from './boundFs';
import { closeQuietly, fsError } from './fsError';
import { leanFstat, leanOf, leanStat, type LeanStat } from './leanStat';
import { showName } from '../showName';
import type { PathFilter } from '../sync/filter';
import type { ListedTree } from '../sync/filesFrom';
import type { SmallFileRead } from './smallFile';

/** Who owns an entry, by number (a walk of this machine's files records it; the SFTP walk does not). */
export interface EntryIds { uid: number; gid: number }

/** What the walk's lstat said of a file beyond its entry: the sender checks a small file it read against it (sourceCheck.ts unchangedSinceWalk). */
export interface WalkedFile { ctimeNs: bigint; ino: bigint }

export type Entry =
  | { kind: 'dir'; path: Buffer; perm: number; mtimeNs: bigint; ids?: EntryIds }
  | {
      kind: 'file';
      path: Buffer;
      source: Buffer;
      perm: number;
      size: number;
      mtimeNs: bigint;
      ids?: EntryIds;
      walked?: WalkedFile;
      /** A small file read while a push's login waited (smallFile.ts readAhead), until it is announced. */
      readAhead?: SmallFileRead;
    }
  /** ino: the link's own, when walked here, which --remove-source-files checks before it removes the source. */
  | { kind: 'symlink'; path: Buffer; source: Buffer; target: Buffer; mtimeNs: bigint; ino?: bigint; ids?: EntryIds }
  /** -H: another name of the file walked earlier as `target` (both entry paths), of that file's size, mtime and inode. */
  | { kind: 'hardlink'; path: Buffer; source: Buffer; target: Buffer; size: number; mtimeNs: bigint; ino?: bigint };

type FileEntry = Extract<Entry, { kind: 'file' }>;

/**
 * Reads a small file the walk found and holds open (its entry made from an fstat of it) into its
 * entry's readAhead: undefined when it cannot (it is then read when announced, and reported then).
 */
export type OpenFileReader = (fd: number, entry: FileEntry) => SmallFileRead | undefined;

/** How a file the directory's listing says is regular is opened to be stat'ed and read: never following a link, never waiting on a FIFO put in its place since. */
const OPEN_LISTED_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface WalkOptions {
  recursive: boolean;
  /** -L: send what symlinks inside the sources point to instead of the links (the sources themselves are always followed). */
  followSymlinks: boolean;
  /** Why an entry (its local path, its entry path, whether it is a symlink sent as one) may not be sent: fcpd's policy. */
  refuse?: (source: Buffer, path: Buffer, isLink: boolean) => FcpError | undefined;
  /** -H: a file with several links reached again is a hardlink entry to the first name it was walked under. */
  hardLinks?: boolean;
  /** -x: a directory on another file system than its source's is sent, not entered (rsync -x: a mount point arrives empty). */
  oneFileSystem?: boolean;
  /** --exclude/--include and --max-depth: entries it leaves out are not sent, excluded directories not read. */
  filter?: PathFilter;
  /**
   * --files-from: only these paths below the one source (a directory), with the directories above
   * them; `recursive` then says whether a listed directory is sent with its contents.
   */
  listed?: ListedTree;
  /**
   * --remove-source-files: a file read as it was found keeps the stat it was checked against,
   * whose inode the removal checks (a copy renamed over its own source has the same size and mtime).
   */
  keepsInodes?: boolean;
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

/** A directory the walk entered: its local path and its entry path. */
interface Place {
  readonly source: Buffer;
  readonly path: Buffer;
}

/**
 * A file found inside a directory the walk entered. It is held from the walk until the receiver
 * answers for it (a window of thousands of files, long enough that V8 moves it to the old
 * generation, where it stays until a full collection): it keeps its name and its directory, and
 * makes its two paths when asked (a short-lived Buffer each, which dies young), rather than
 * holding both (two Buffers that a million-file push promoted 35 MB of per 200,000 files). The
 * walk's stat (its lstat, or the fstat of a file it opened) that a small file's read is checked
 * against is held here too (`walked`), until the walk has read the file: a file read as it was
 * found then holds none of it in flight (its two BigInts die young instead of being copied by
 * the scavenges and promoted with the entry).
 */
class FileInDirectory {
  readonly kind = 'file' as const;
  readAhead: SmallFileRead | undefined = undefined;
  /** Bytes the walk read into readAhead, counted in WalkStream.heldBytes until the entry is taken. */
  heldBytes = 0;

  constructor(
    private readonly dir: Place,
    private readonly name: string,
    readonly perm: number,
    readonly size: number,
    readonly mtimeNs: bigint,
    readonly ids: EntryIds,
    public walked: WalkedFile | undefined,
  ) {}

  get path(): Buffer {
    return join(this.dir.path, this.name);
  }

  get source(): Buffer {
    return join(this.dir.source, this.name);
  }
}

/**
 * Feature STREAM: entries the walk finds ahead of the announcements, at most. Each FILE_COUNT
 * counts the files among them; the walk holds no more of the tree than these and the directory
 * listings above them.
 */
export const WALK_AHEAD = 4096;

/** Taken entries after which the walk's array drops their slots, once they are at least half of it. */
const COMPACT_AFTER = 1024;

/** What a file of this type is called when it is skipped (rsync skips them too). */
function specialKind(stat: LeanStat): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'not a regular file, directory or symlink';
}

/** `dir/name`; a name as a latin1 string is its bytes (the walk lists directories so: a string costs a quarter of a Buffer). */
function join(dir: Buffer, name: Buffer | string): Buffer {
  if (typeof name !== 'string') return Buffer.concat([dir, SLASH, name]);
  const joined = Buffer.allocUnsafe(dir.length + 1 + name.length);
  joined.set(dir);
  joined[dir.length] = 0x2f;
  // By hand: Buffer.write's call into C++ cost more than the copy of a name of tens of bytes (2.7 % of a push's sender).
  for (let i = 0, at = dir.length + 1; i < name.length; i++, at++) joined[at] = name.charCodeAt(i);
  return joined;
}

/**
 * The name a source is sent under: its last component, as scp names it; for `.`, `..` or `/`
 * the name of the directory they stand for (requestedName tells when the path alone says it).
 */
export function sourceName(source: Buffer): Buffer {
  const name = requestedName(source);
  if (name) return Buffer.from(name);
  return Buffer.from(basename(realpathSync(source.length > 0 ? withoutTrailingSlashes(source) : SLASH)));
}

/** `dir/` as `dir` (and `/` as it is): what the walk joins names to, so that they read `dir/a`, not `dir//a`. */
export function withoutTrailingSlashes(source: Buffer): Buffer {
  let end = source.length;
  while (end > 1 && source[end - 1] === 0x2f) end--;
  return end === source.length ? source : source.subarray(0, end);
}

/** A directory whose children the walk is going through: the frames of a walk are the directories above the next entry. */
interface Frame {
  source: Buffer;
  path: Buffer;
  /** The children's names (their bytes as latin1 strings), sorted bytewise; `next` indexes the next one to visit. */
  names: string[];
  /** Those of the names the listing did not say are regular files (directories, links, others, unknown): the others are opened and read as they are walked (readWhileWalking). */
  others?: Set<string>;
  next: number;
  /** Levels below the source named on the command line (--max-depth) of the children. */
  depth: number;
  /** dev:ino of this directory, in `ancestors` while its children are walked (-L's loop check); none for --files-from's directories above listed paths. */
  id?: string;
  /** --files-from: the listed paths below this directory, when only those are walked. */
  listed?: ListedTree;
}

/** A source named on the command line, checked when the walk was set up, walked when its turn comes. */
interface PendingSource {
  source: Buffer;
  name: Buffer;
  stat: LeanStat;
  /** The bytes of entry path above the transfer root the filter sees (filterRoot). */
  filterRoot: number;
  listed?: ListedTree;
}

/**
 * The walk of a transfer's sources, entry by entry as they are asked for: it holds the entries
 * found and not yet taken, the directory listings above the next entry, and (with -H) the first
 * name of each multiply linked file, never the whole tree. Sources are checked when it is made (a
 * missing source fails the transfer before any login); the rest is read as the sender announces.
 * `listing()` holds a walk done at once instead, for what needs every entry (--follow, --checksum).
 */
export class WalkStream {
  /** Files found so far and the sum of their sizes: the final counts once `complete`. */
  fileCount = 0;
  totalBytes = 0;
  /**
   * Entries that could not be read or cannot be sent, by entry path; the transfer goes on without
   * them and tells the receiver (ENTRY_ERROR), so that both sides count them.
   */
  readonly skipped: SkippedEntry[] = [];
  /** Entries found, from `head` on not yet taken. */
  private found: Entry[] = [];
  private head = 0;
  private readonly frames: Frame[] = [];
  private readonly pending: PendingSource[];
  /** dev:ino of the directories being walked, to stop -L from looping through a symlink cycle. */
  private readonly ancestors = new Set<string>();
  /** With -H, the entry path each multiply linked file was first walked under, by dev:ino. */
  private readonly firstNames: Map<string, Buffer> | undefined;
  /** The bytes of entry path above the transfer root the filter sees, for the source being walked. */
  private filterRoot = 0;
  /** -x: the device of the source being walked; a directory on another is not entered. */
  private sourceDevice: bigint | undefined;
  /** The owner of the entry walked last (idsOf). */
  private lastIds: EntryIds | undefined;
  /** A full listing (listing(), whole()): taken entries stay in `found`, which is the listing's array. */
  private keeps: boolean;
  /** Reads small files as they are walked (readWhileWalking), while heldBytes is under readBound. */
  private reader: OpenFileReader | undefined;
  private readBound = 0;
  /** Bytes of small files read into entries found and not yet taken. */
  heldBytes = 0;
  /**
   * Something reads an entry's path as the entry is walked (the filter, fcpd's policy, -H's first
   * names): a file opened as found (visitOpened) is walked without it otherwise, one Buffer a file fewer.
   */
  private readonly readsEntryPaths: boolean;

  constructor(sources: readonly Buffer[], private readonly options: WalkOptions, listing?: WalkResult) {
    this.firstNames = options.hardLinks ? new Map() : undefined;
    this.readsEntryPaths = options.filter !== undefined || options.refuse !== undefined || options.hardLinks === true;
    this.keeps = listing !== undefined;
    if (listing) {
      this.found = listing.entries;
      this.fileCount = listing.fileCount;
      this.totalBytes = listing.totalBytes;
      this.skipped = listing.skipped;
    }
    this.pending = sources.map((source) => this.checkSource(source));
  }

  /** A walk already done (walkSources, walkNarrowed), as the sender takes it. */
  static listing(result: WalkResult): WalkStream {
    return new WalkStream([], { recursive: true, followSymlinks: false }, result);
  }

  /** The whole listing, when this is one (listing()). */
  get entries(): Entry[] | undefined {
    return this.keeps ? this.found : undefined;
  }

  /** Every source has been walked: fileCount and totalBytes are final. */
  get complete(): boolean {
    return this.frames.length === 0 && this.pending.length === 0;
  }

  /** Entries found and not yet taken. */
  get buffered(): number {
    return this.found.length - this.head;
  }

  /** The entry `index` places after the next one, among those found and not yet taken. */
  at(index: number): Entry | undefined {
    return this.found[this.head + index];
  }

  /** The next entry, walking as far as it takes to find one; undefined once the walk is over. */
  peek(): Entry | undefined {
    while (this.head === this.found.length) if (!this.step()) return undefined;
    return this.found[this.head];
  }

  /**
   * From now on reads each small regular file it finds in a directory (a listing with types says
   * which names are regular files) as it finds it, while the bytes read into entries not taken yet
   * are under `bound`: the file is opened, its fstat is the walk's stat of it, and it is read and
   * checked there (`reader`), so that its path is looked up once, not twice (the lstat, then the
   * open when it is announced). None: stat first, read when announced.
   */
  readWhileWalking(reader: OpenFileReader | undefined, bound: number): void {
    this.reader = reader;
    this.readBound = bound;
  }

  /** Takes the entry peek() returned: the walk holds it no longer. */
  take(): void {
    const taken = this.found[this.head];
    if (taken instanceof FileInDirectory) this.heldBytes -= taken.heldBytes;
    if (this.keeps) {
      this.head++;
      return;
    }
    this.found[this.head++] = undefined as unknown as Entry;
    if (this.head === this.found.length) {
      this.found = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && 2 * this.head >= this.found.length) {
      // A sender that keeps the walk a window ahead never takes the last entry found: without this
      // the array would keep a slot for every entry of the tree (8 MB for a million).
      this.found = this.found.slice(this.head);
      this.head = 0;
    }
  }

  /** Walks until `count` entries are found and not taken, or the walk is over. */
  fill(count: number): void {
    while (this.buffered < count && this.step()) continue;
  }

  /** Walks everything there is to walk. */
  finish(): void {
    while (this.step()) continue;
  }

  /** Walks everything there is to walk; the entries not taken yet, as a listing. */
  drain(): WalkResult {
    this.finish();
    return this.result();
  }

  /**
   * The whole walk held at once, for what needs every entry (--follow, --checksum, SFTP): walks
   * what is left, and from now on keeps every entry (the listing's array) as they are taken.
   */
  whole(): WalkResult {
    if (!this.keeps) {
      this.finish();
      this.found = this.found.slice(this.head);
      this.head = 0;
      this.keeps = true;
    }
    return { entries: this.found, fileCount: this.fileCount, totalBytes: this.totalBytes, skipped: this.skipped };
  }

  private checkSource(source: Buffer): PendingSource {
    const { options } = this;
    // A symlink named as a source is followed (as scp, cp -H and rsync's "link/" do); the links
    // found inside a tree stay links unless -L.
    const stat = statOf(source, true, 'read');
    const name = sourceName(source);
    if (options.listed) {
      if (!stat.isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(source)} is not a directory: --files-from lists paths below one`);
      // The listed paths are relative to the source: so is the transfer root, as in rsync.
      return { source: withoutTrailingSlashes(source), name, stat, filterRoot: name.length + 1, listed: options.listed };
    }
    if (stat.isDirectory() && !options.recursive) {
      throw new FcpError('FCP_ERR_IS_DIRECTORY', `${showName(source)} is a directory`, { hint: 'use -r to copy directories' });
    }
    // The trailing slash has said what it says (filterRoot; the CONTENTS placement was read before).
    return { source: withoutTrailingSlashes(source), name, stat, filterRoot: filterRoot(source, name, stat.isDirectory()) };
  }

  /** One step of the walk: the next source, the next child of the innermost directory, or leaving it; false when there is nothing left. */
  private step(): boolean {
    const frame = this.frames[this.frames.length - 1];
    if (!frame) {
      const next = this.pending.shift();
      if (!next) return false;
      this.filterRoot = next.filterRoot;
      this.sourceDevice = next.stat.dev;
      if (next.listed) this.visitListed(next.source, next.name, next.stat, next.listed);
      else this.visit(next.source, next.name, next.stat, 0);
      return true;
    }
    if (frame.next === frame.names.length) {
      this.frames.pop();
      if (frame.id) this.ancestors.delete(frame.id);
      return true;
    }
    const name = frame.names[frame.next++]!;
    const child = join(frame.source, name);
    if (this.reader && frame.others && !frame.others.has(name) && this.heldBytes < this.readBound && this.visitOpened(child, frame, name)) return true;
    const childPath = join(frame.path, name);
    let childStat: LeanStat;
    try {
      childStat = statOf(child, this.options.followSymlinks, 'read');
    } catch (err) {
      this.skip(childPath, err as FcpError);
      return true;
    }
    const listedChild = frame.listed?.children.get(name);
    if (listedChild) this.visitListed(child, childPath, childStat, listedChild);
    else this.visit(child, childPath, childStat, frame.depth, frame, name);
    return true;
  }

  private skip(path: Buffer, error: FcpError): void {
    const fits = path.length <= MAX_PATH_BYTES ? path : path.subarray(0, path.lastIndexOf(0x2f, MAX_PATH_BYTES));
    this.skipped.push({ path: fits, error });
  }

  /**
   * --files-from: a listed path is walked as any source is (a directory's contents only with -r); a
   * directory above listed paths is sent, then only its listed children. A listed path that is
   * missing is skipped with its error, as rsync does.
   */
  private visitListed(source: Buffer, path: Buffer, stat: LeanStat, node: ListedTree): void {
    if (node.listed && (this.options.recursive || !stat.isDirectory())) return this.visit(source, path, stat, 0);
    if (!stat.isDirectory()) {
      this.skip(path, new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(source)} is not a directory: the paths listed below it are skipped`));
      return;
    }
    if (!this.admitted(source, path, true, false)) return;
    this.found.push({ kind: 'dir', path, perm: stat.mode & PERM_MASK, mtimeNs: stat.mtimeNs, ids: { uid: stat.uid, gid: stat.gid } });
    // A latin1 string's UTF-16 code units are its bytes: the default sort is bytewise.
    const names = [...node.children.keys()].sort();
    this.frames.push({ source, path, names, next: 0, depth: 0, listed: node });
  }

  /** Whether an entry is sent: not left out by the filter, not too long, not refused (those two skipped with their error). */
  private admitted(source: Buffer, path: Buffer, isDirectory: boolean, isLink: boolean): boolean {
    // Before anything that could report the entry: what the rules leave out is no failure.
    if (this.leftOut(path, isDirectory)) return false;
    if (path.length > MAX_PATH_BYTES) {
      this.skip(path, new FcpError('FCP_ERR_BAD_PATH', `${showName(source)}: path longer than ${MAX_PATH_BYTES} bytes; skipped`));
      return false;
    }
    const refusal = this.options.refuse?.(source, path, isLink);
    if (refusal) this.skip(path, refusal);
    return refusal === undefined;
  }

  /** Whether the filter leaves an entry out; never the transfer root itself (rsync never leaves out `.`). */
  private leftOut(path: Buffer, isDirectory: boolean): boolean {
    const { filter } = this.options;
    return filter !== undefined && path.length > this.filterRoot && filter.excludes(path.subarray(this.filterRoot), isDirectory);
  }

  /**
   * Records the entry at `source` (entry path `path`), found as `name` in `dir` when it was found in
   * a directory; a directory's children are walked by the steps that follow.
   */
  private visit(source: Buffer, path: Buffer, stat: LeanStat, depth: number, dir?: Place, name?: string): void {
    if (!this.admitted(source, path, stat.isDirectory(), stat.isSymbolicLink())) return;
    const perm = stat.mode & PERM_MASK;
    const mtimeNs = stat.mtimeNs;
    const ids = this.idsOf(stat);
    if (stat.isSymbolicLink()) {
      try {
        this.found.push({ kind: 'symlink', path, source, target: readlinkSync(source, { encoding: 'buffer' }), mtimeNs, ino: stat.ino, ids });
      } catch (err) {
        this.skip(path, fsError(err, 'read symlink', source));
      }
    } else if (stat.isFile()) {
      this.visitFile(source, path, stat, { perm, mtimeNs, ids }, dir, name);
    } else if (stat.isDirectory()) {
      const id = `${stat.dev}:${stat.ino}`;
      if (this.ancestors.has(id)) {
        this.skip(path, new FcpError('FCP_ERR_BAD_PATH', `${showName(source)}: symlink loop, skipped`));
        return;
      }
      this.found.push({ kind: 'dir', path, perm, mtimeNs, ids });
      if (this.options.filter && !this.options.filter.descends(depth)) return;
      if (!this.entersDevice(stat.dev)) return;
      let names: string[];
      const others = new Set<string>();
      try {
        let isFile: boolean[];
        ({ names, isFile } = readdirTyped(source));
        for (let i = 0; i < names.length; i++) if (!isFile[i]) others.add(names[i]!);
        names.sort();
      } catch (err) {
        this.skip(path, fsError(err, 'read directory', source));
        return;
      }
      this.ancestors.add(id);
      this.frames.push({ source, path, names, others, next: 0, depth: depth + 1, id });
    } else {
      this.skip(path, new FcpError('FCP_ERR_IO', `${showName(source)} is ${specialKind(stat)}; skipped`));
    }
  }

  /**
   * A child the directory's listing says is a regular file, while the walk reads as it goes
   * (readWhileWalking): opened, its fstat in place of the lstat, and if small read and checked
   * before it is closed. False when it must be stat'ed the usual way (it cannot be opened, or it
   * is no longer a regular file), which then says what is wrong with it.
   */
  private visitOpened(source: Buffer, dir: Place, name: string): boolean {
    // The entry path only where something reads it as the file is walked: FileInDirectory makes it when it is sent.
    const path = this.readsEntryPaths || dir.path.length + 1 + name.length > MAX_PATH_BYTES ? join(dir.path, name) : undefined;
    // What visit() asks first, of a regular file: one left out, refused or too long is not opened.
    if (path !== undefined && !this.admitted(source, path, false, false)) return true;
    let fd: number;
    try {
      fd = openBound(source, OPEN_LISTED_FILE);
    } catch {
      return false;
    }
    try {
      let stat: LeanStat;
      try {
        stat = leanFstat(fd);
      } catch {
        return false;
      }
      if (!stat.isFile()) return false;
      const found = this.found.length;
      // A file read right away is checked against this very fstat (leanStat.ts fstatStillMatches): its `walked` until read.
      const readsNow = stat.size <= INLINE_MAX && this.heldBytes + stat.size <= this.readBound;
      this.visitFile(source, path, stat, { perm: stat.mode & PERM_MASK, mtimeNs: stat.mtimeNs, ids: this.idsOf(stat), walked: readsNow ? stat : undefined }, dir, name);
      const entry = this.found[found];
      if (readsNow && entry instanceof FileInDirectory) {
        entry.readAhead = this.reader!(fd, entry);
        if (entry.readAhead) {
          entry.heldBytes = entry.size;
          this.heldBytes += entry.size;
          // Read and checked: what it was checked against is not needed again, but for a removal.
          if (!this.options.keepsInodes) entry.walked = undefined;
        }
      }
      return true;
    } finally {
      closeQuietly(fd);
    }
  }

  /**
   * The owner of an entry, as the entry before's object when it is the same owner (nearly always):
   * entries are held from the walk until the receiver answers, a window of thousands of them.
   */
  private idsOf(stat: LeanStat): EntryIds {
    const { uid, gid } = stat;
    const last = this.lastIds;
    if (last?.uid === uid && last.gid === gid) return last;
    return (this.lastIds = { uid, gid });
  }

  /** An entry's path: `path`, or joined for a file found in `dir` as `name` and walked without it (visitOpened). */
  private entryPath(path: Buffer | undefined, dir: Place | undefined, name: string | undefined): Buffer {
    return path ?? join(dir!.path, name!);
  }

  /**
   * Records a regular file. `path` is its entry path, which a file found in a directory (`dir`,
   * `name`) is walked without unless something reads it (readsEntryPaths): joined here only to
   * report it.
   */
  private visitFile(source: Buffer, path: Buffer | undefined, stat: LeanStat, meta: { perm: number; mtimeNs: bigint; ids: EntryIds; walked?: WalkedFile }, dir?: Place, name?: string): void {
    const size = stat.size;
    if (size > MAX_FILE_SIZE) {
      this.skip(this.entryPath(path, dir, name), new FcpError('FCP_ERR_IO', `${showName(source)} is larger than fcp's 32 TiB limit; skipped`));
      return;
    }
    if (this.firstNames && stat.nlink > 1) {
      const id = `${stat.dev}:${stat.ino}`;
      const first = this.firstNames.get(id);
      if (first) {
        this.found.push({ kind: 'hardlink', path: this.entryPath(path, dir, name), source, target: first, size, mtimeNs: meta.mtimeNs, ino: stat.ino });
        return;
      }
      this.firstNames.set(id, this.entryPath(path, dir, name));
    }
    const { perm, mtimeNs, ids } = meta;
    const walked = meta.walked ?? { ctimeNs: stat.ctimeNs, ino: stat.ino };
    this.found.push(
      dir && name !== undefined
        ? new FileInDirectory(dir, name, perm, size, mtimeNs, ids, walked)
        : { kind: 'file', path: this.entryPath(path, dir, name), source, size, perm, mtimeNs, ids, walked, readAhead: undefined },
    );
    this.fileCount++;
    this.totalBytes += size;
  }

  /** walkNarrowed: a directory entry of its own (not walked), and one path walked whole, each in order with what was found before. */
  addDirectory(entry: Extract<Entry, { kind: 'dir' }>): void {
    this.found.push(entry);
  }

  walkOne(source: Buffer, path: Buffer, stat: LeanStat, depth: number): void {
    this.visit(source, path, stat, depth);
    while (this.frames.length > 0) this.step();
  }

  /** Whether the walk enters a directory on device `dev`: not another file system than its source's with -x. */
  entersDevice(dev: bigint): boolean {
    return !this.options.oneFileSystem || this.sourceDevice === undefined || dev === this.sourceDevice;
  }

  /** The device of the source walked from now on (walkNarrowed: its one source). */
  setSourceDevice(dev: bigint | undefined): void {
    this.sourceDevice = dev;
  }

  /** Whether the filter leaves out the directory at entry path `path` (walkNarrowed). */
  leavesOut(path: Buffer): boolean {
    return this.leftOut(path, true);
  }

  /** The walk so far as a listing (walkSources, walkNarrowed: walked whole). */
  result(): WalkResult {
    return { entries: this.found.slice(this.head), fileCount: this.fileCount, totalBytes: this.totalBytes, skipped: this.skipped };
  }

  setFilterRoot(bytes: number): void {
    this.filterRoot = bytes;
  }
}

/** The whole walk at once: for what needs every entry before the transfer (--follow, --checksum, fcp --watch). */
export function walkSources(sources: Buffer[], options: WalkOptions): WalkResult {
  return streamSources(sources, options).drain();
}

/** The walk of the sources entry by entry, as the sender asks for them (WalkStream). */
export function streamSources(sources: Buffer[], options: WalkOptions): WalkStream {
  if (options.listed && sources.length !== 1) throw new FcpError('FCP_ERR_USAGE', '--files-from takes one source directory', { hint: 'list the paths relative to it' });
  return new WalkStream(sources, options);
}

function statOf(path: Buffer, follow: boolean, operation: string): LeanStat {
  try {
    return leanStat(path, follow);
  } catch (err) {
    throw fsError(err, operation, path);
  }
}

/**
 * rsync's transfer root, where a filter's leading `/` anchors: a source written `dir/` (or `dir/.`)
 * is its contents, so the filter sees `x` for dir/x; any other source, the directory holding it (`dir/x`).
 * The bytes of entry path above it.
 */
function filterRoot(source: Buffer, name: Buffer, isDirectory: boolean): number {
  return isDirectory && namesContents(source) ? name.length + 1 : 0;
}

/**
 * The walk of one source narrowed to `paths` below it (fcp --watch's rounds): the source and the
 * directories above each path as bare directory entries, each path that still exists walked as
 * walkSources walks a source's contents (a directory with all it holds). Paths are relative to
 * the source, `/`-separated; a path the filter leaves out, or below a directory it leaves out, is
 * not walked. Entries come in walkSources' order (a directory before what it holds).
 */
export function walkNarrowed(source: Buffer, paths: readonly Buffer[], options: WalkOptions): WalkResult {
  const name = sourceName(source);
  const sourceStat = statSync(source, { bigint: true, throwIfNoEntry: false });
  const walk = new WalkStream([], options);
  walk.setFilterRoot(filterRoot(source, name, sourceStat?.isDirectory() ?? false));
  walk.setSourceDevice(sourceStat?.dev);
  const announced = new Set<string>();
  /** Announces directory `rel` (entry path `path`) once; false when it is not a directory the walk may enter. */
  const announce = (local: Buffer, path: Buffer): boolean => {
    const key = path.toString('latin1');
    if (announced.has(key)) return true;
    const stat = statSync(local, { bigint: true, throwIfNoEntry: false });
    if (!stat?.isDirectory() || walk.leavesOut(path) || !walk.entersDevice(stat.dev)) return false;
    announced.add(key);
    walk.addDirectory({ kind: 'dir', path, perm: Number(stat.mode) & PERM_MASK, mtimeNs: stat.mtimeNs, ids: { uid: Number(stat.uid), gid: Number(stat.gid) } });
    return true;
  };
  if (!announce(source, name)) return walk.result();
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
    const stat = lstatSync(join(local, last), { bigint: true, throwIfNoEntry: false });
    const followed = stat?.isSymbolicLink() && options.followSymlinks ? statSync(join(local, last), { bigint: true, throwIfNoEntry: false }) : stat;
    if (followed && !announced.has(join(path, last).toString('latin1'))) walk.walkOne(join(local, last), join(path, last), leanOf(followed), parts.length);
  }
  return walk.result();
}
