/**
 * What fcp --watch knows of its source tree: every entry's kind, inode and times, by directory
 * (paths relative to the source, latin1 spellings of the bytes). Events name paths that may have
 * changed; the snapshot, looked at again there, says which did, and which names only moved
 * (renames.ts). A rescan does the same for the whole tree, for what the events missed.
 *
 * Why it is shaped for the rescan: an idle watch of 100,000 files spends its CPU there (a whole
 * pass is 100,000 lstats, 0.6 CPU s here, mostly in the kernel, and an interval is a minute). So
 * most passes are light: a directory is listed again, and what it holds stat'ed, only when its
 * ctime moved since it was last listed (an entry added, removed or renamed in it, or the directory
 * itself changed); what changes a file in place is the events' to report. A whole look, which
 * stats every entry, still comes for each slice every few passes (the caller says which), for
 * in-place changes whose events were lost. Either way a pass compares each stat with the entry it holds in place
 * (no object is made for an entry that did not change), reuses one buffer for the paths it stats,
 * and is cut into slices: each directory belongs to one slice, and a pass runs one slice per tick,
 * so every directory is looked at once per pass at the same point of it, and the event loop is
 * never held for a whole pass.
 */
import * as fs from 'node:fs';
import { PERM_MASK } from '../protocol/constants';
import { RACY_CTIME_MS } from './constants';
import type { Stamp } from './renames';

/** What the snapshot holds of an entry; `seen` is the last look at its directory that found it. */
type Entry = Stamp & { perm: number; seen: number };

interface Dir {
  /** Entries by name (latin1). */
  entries: Map<string, Entry>;
  /** The slice of a pass this directory is rescanned in. */
  slice: number;
  /** The directory's ctime when it was last listed (NaN: it could not be), and the clock then. */
  listedCtimeMs: number;
  listedAt: number;
  /**
   * It appeared after the snapshot was made: looked at whole in light passes too, since the
   * events may not cover it (@parcel/watcher does not watch the subdirectories of a directory
   * moved in from elsewhere).
   */
  young: boolean;
}

/** A light pass stats directories only, and lists again those that changed; a whole pass stats every entry. */
export type PassKind = 'light' | 'whole';

/** Whether the user's filters leave out the entry at this path (relative to the source). */
export type Excluded = (path: Buffer, isDir: boolean) => boolean;

export interface Changes {
  /** Paths whose entry appeared, vanished, or changed (a directory: its kind or permissions; what it holds is listed on its own). */
  changed: Buffer[];
  /** The entries that vanished and appeared, for renames (renames.ts' MoveLedger pairs them over a batch). */
  vanished: ReadonlyMap<string, Stamp>;
  appeared: ReadonlyMap<string, Stamp>;
}

/** What one look found, gathered until it is reported as Changes. */
class Found {
  readonly changed: string[] = [];
  readonly vanished = new Map<string, Stamp>();
  readonly appeared = new Map<string, Stamp>();

  changes(): Changes {
    const paths = [...this.changed, ...this.vanished.keys(), ...this.appeared.keys()];
    return { changed: paths.map((path) => Buffer.from(path, 'latin1')), vanished: this.vanished, appeared: this.appeared };
  }
}

const lstatOptions = { throwIfNoEntry: false } as const;

function kindOf(stat: fs.Stats): Entry['kind'] | undefined {
  return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : undefined;
}

/** Whether `stat` (of an entry of the same kind) says the entry changed. */
function differs(entry: Entry, stat: fs.Stats): boolean {
  if (entry.ino !== stat.ino || entry.dev !== stat.dev || entry.perm !== (stat.mode & PERM_MASK)) return true;
  // A directory's size and mtime change with what it holds, which is listed on its own.
  return entry.kind !== 'dir' && (entry.size !== stat.size || entry.mtimeMs !== stat.mtimeMs);
}

function restamp(entry: Entry, stat: fs.Stats): void {
  entry.dev = stat.dev;
  entry.ino = stat.ino;
  entry.size = stat.size;
  entry.mtimeMs = stat.mtimeMs;
  entry.perm = stat.mode & PERM_MASK;
}

function join(dir: string, name: string): string {
  return dir.length === 0 ? name : `${dir}/${name}`;
}

export class TreeSnapshot {
  /** Every directory's entries, by the directory's path ('' is the source itself). */
  private readonly dirs = new Map<string, Dir>();
  /** Entries held in each slice's directories: a new directory joins the lightest slice. */
  private readonly weights: number[];
  /** The slice the next rescan() runs. */
  private nextSlice = 0;
  /** Counts looks at directories: an entry whose `seen` is not the current look's is gone. */
  private look = 0;
  /** The source's path, a slash, then the path being stat'ed: one buffer for every stat of a pass. */
  private scratch: Buffer;

  /** Whether the directories held now were there when the snapshot was made (not young). */
  private made = false;

  /**
   * Scans the tree below `root`; a rescan pass is cut into `slices` slices. `racyMs`: a directory
   * whose ctime was less than this before it was listed is listed again by the next light pass,
   * as a change in the same tick of the file system's clock would leave its ctime as it was.
   */
  constructor(
    private readonly root: Buffer,
    private readonly excluded: Excluded,
    readonly slices = 1,
    private readonly racyMs = RACY_CTIME_MS,
  ) {
    this.weights = new Array<number>(slices).fill(0);
    this.scratch = Buffer.alloc(root.length + 1 + 4096);
    root.copy(this.scratch);
    this.scratch[root.length] = 0x2f;
    this.addDir('', new Found());
    this.made = true;
  }

  /** The entry at `path` (relative to the source, latin1), as held. */
  stamp(path: string): Readonly<Stamp & { perm: number }> | undefined {
    const slash = path.lastIndexOf('/');
    return this.dirs.get(slash < 0 ? '' : path.slice(0, slash))?.entries.get(path.slice(slash + 1));
  }

  /**
   * Looks again at `paths` (and below them) after events named them: updates the snapshot and says
   * what changed there. A path whose directory the snapshot does not hold is looked at from its
   * closest ancestor that it does (a directory that appeared with it, or one the filters leave out).
   */
  refresh(paths: readonly Buffer[]): Changes {
    const found = new Found();
    for (const path of paths) {
      let key = path.toString('latin1');
      let slash = key.lastIndexOf('/');
      while (slash >= 0 && !this.dirs.has(key.slice(0, slash))) {
        key = key.slice(0, slash);
        slash = key.lastIndexOf('/');
      }
      const dirKey = slash < 0 ? '' : key.slice(0, slash);
      this.lookAt(dirKey, this.dirs.get(dirKey)!, key.slice(slash + 1), found, true);
    }
    return found.changes();
  }

  /** Rescans the next slice's directories (every `slices` calls, the whole tree): what changed since the last look. */
  rescan(kind: PassKind = 'whole'): Changes {
    const slice = this.nextSlice;
    this.nextSlice = (slice + 1) % this.slices;
    const found = new Found();
    // The keys first: a look adds and drops directories.
    const keys: string[] = [];
    for (const [key, dir] of this.dirs) if (dir.slice === slice) keys.push(key);
    for (const key of keys) {
      if (kind === 'light' && !this.relistDue(key)) continue;
      // The directory itself may have changed (its mode): its parent, unchanged, would not say so.
      if (kind === 'light' && key.length > 0) this.refreshEntry(key, found);
      this.rescanDir(key, found);
    }
    return found.changes();
  }

  /** Whether a light pass must list directory `key` again: it is young, or its ctime moved or is racy. */
  private relistDue(key: string): boolean {
    const dir = this.dirs.get(key);
    if (!dir) return false;
    if (dir.young) return true;
    const stat = this.lstat(key);
    return stat?.ctimeMs !== dir.listedCtimeMs || dir.listedAt - dir.listedCtimeMs < this.racyMs;
  }

  /** Looks at the entry of directory `key` in its parent, as a look at the parent would. */
  private refreshEntry(key: string, found: Found): void {
    const slash = key.lastIndexOf('/');
    const parentKey = slash < 0 ? '' : key.slice(0, slash);
    const parent = this.dirs.get(parentKey);
    if (parent) this.lookAt(parentKey, parent, key.slice(slash + 1), found, false);
  }

  /** Lists directory `key` again and looks at each name in it (not below: its directories are rescanned in their own slices). */
  private rescanDir(key: string, found: Found): void {
    const dir = this.dirs.get(key);
    if (!dir) return;
    const names = this.list(key, dir);
    // Unreadable now: what it held stays as it was, and it is listed again at the next pass.
    if (!names) return;
    const look = ++this.look;
    for (const name of names) this.lookAt(key, dir, name, found, false, look);
    for (const [name, entry] of dir.entries) if (entry.seen !== look) this.drop(key, dir, name, entry, found);
  }

  /**
   * Stats `name` in directory `dirKey` and settles its entry: changed in place, added, or dropped.
   * `deep`: a directory that is still one is rescanned whole (an event named it).
   */
  private lookAt(dirKey: string, dir: Dir, name: string, found: Found, deep: boolean, look = ++this.look): void {
    const path = join(dirKey, name);
    const stat = this.lstat(path);
    const kind = stat && kindOf(stat);
    const entry = dir.entries.get(name);
    if (entry && entry.kind === kind) {
      entry.seen = look;
      if (differs(entry, stat!)) {
        restamp(entry, stat!);
        found.changed.push(path);
      }
      if (deep && kind === 'dir') this.rescanBelow(path, found);
      return;
    }
    // A name new to the snapshot (or of another kind now): the filters decide whether it is held.
    const held = kind !== undefined && !this.excluded(Buffer.from(path, 'latin1'), kind === 'dir');
    if (entry) {
      this.drop(dirKey, dir, name, entry, found);
      // The same name, another kind: one change of that path, and what the old directory held vanished.
      if (held) found.vanished.delete(path);
    }
    if (!held) return;
    const added: Entry = { kind, dev: stat!.dev, ino: stat!.ino, size: stat!.size, mtimeMs: stat!.mtimeMs, perm: stat!.mode & PERM_MASK, seen: look };
    dir.entries.set(name, added);
    this.weights[dir.slice]!++;
    if (entry) found.changed.push(path);
    else found.appeared.set(path, added);
    if (kind === 'dir') this.addDir(path, found);
  }

  /** Every directory at or below `path` listed again, now. */
  private rescanBelow(path: string, found: Found): void {
    this.rescanDir(path, found);
    const dir = this.dirs.get(path);
    if (!dir) return;
    for (const [name, entry] of dir.entries) if (entry.kind === 'dir') this.rescanBelow(join(path, name), found);
  }

  /** Holds directory `key` (new) and everything below it, all of it appeared. */
  private addDir(key: string, found: Found): void {
    let slice = 0;
    for (let i = 1; i < this.slices; i++) if (this.weights[i]! < this.weights[slice]!) slice = i;
    const dir: Dir = { entries: new Map(), slice, listedCtimeMs: NaN, listedAt: 0, young: this.made };
    this.dirs.set(key, dir);
    // Unreadable now: its names are found when a rescan can list it.
    const names = this.list(key, dir) ?? [];
    const look = ++this.look;
    for (const name of names) this.lookAt(key, dir, name, found, false, look);
  }

  /** Lets go of `name` in `dirKey` (and, for a directory, of all it held): vanished. */
  private drop(dirKey: string, dir: Dir, name: string, entry: Entry, found: Found): void {
    const path = join(dirKey, name);
    dir.entries.delete(name);
    this.weights[dir.slice]!--;
    found.vanished.set(path, entry);
    if (entry.kind !== 'dir') return;
    const below = this.dirs.get(path);
    if (!below) return;
    this.dirs.delete(path);
    for (const [child, childEntry] of below.entries) this.drop(path, below, child, childEntry, found);
  }

  /** The names in directory `key` (latin1), or undefined when it cannot be listed; `dir` keeps the ctime it had. */
  private list(key: string, dir: Dir): string[] | undefined {
    // The ctime before the names: a change made while they are read moves it again.
    dir.listedCtimeMs = this.lstat(key)?.ctimeMs ?? NaN;
    dir.listedAt = Date.now();
    try {
      return fs.readdirSync(this.bytesOf(key), 'latin1');
    } catch {
      dir.listedCtimeMs = NaN;
      return undefined;
    }
  }

  private lstat(path: string): fs.Stats | undefined {
    return fs.lstatSync(this.bytesOf(path), lstatOptions);
  }

  /** The local path of `path` (relative to the source): a view of the scratch buffer, valid until the next call. */
  private bytesOf(path: string): Buffer {
    if (path.length === 0) return this.root;
    const start = this.root.length + 1;
    if (this.scratch.length < start + path.length) {
      const larger = Buffer.alloc(2 * (start + path.length));
      this.scratch.copy(larger, 0, 0, start);
      this.scratch = larger;
    }
    this.scratch.write(path, start, 'latin1');
    return this.scratch.subarray(0, start + path.length);
  }
}
