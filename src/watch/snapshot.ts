/**
 * What fcp --watch knows of its source tree: every entry's kind, inode and times, by directory
 * (paths relative to the source, latin1 spellings of the bytes). Events name paths that may have
 * changed; the snapshot, looked at again there, says which did, and which names only moved
 * (renames.ts). A rescan does the same for the whole tree, for what the events missed.
 *
 * Why it is shaped for the rescan: an idle watch of 100,000 files spends its CPU there (a pass is
 * 100,000 lstats, and an interval is a minute). So a pass compares each stat with the entry it
 * holds in place (no object is made for an entry that did not change), reuses one buffer for the
 * paths it stats, and is cut into slices: each directory belongs to one slice, and a pass runs
 * one slice per tick, so every directory is looked at once per pass at the same point of it, and
 * the event loop is never held for a whole pass.
 */
import * as fs from 'node:fs';
import { PERM_MASK } from '../protocol/constants';
import { detectRenames, Rename, Stamp } from './renames';

/** What the snapshot holds of an entry; `seen` is the last look at its directory that found it. */
type Entry = Stamp & { perm: number; seen: number };

interface Dir {
  /** Entries by name (latin1). */
  entries: Map<string, Entry>;
  /** The slice of a pass this directory is rescanned in. */
  slice: number;
}

/** Whether the user's filters leave out the entry at this path (relative to the source). */
export type Excluded = (path: Buffer, isDir: boolean) => boolean;

export interface Changes {
  /** Paths whose entry appeared, vanished, or changed (a directory: its kind or permissions; what it holds is listed on its own). */
  changed: Buffer[];
  renames: Rename[];
}

/** What one look found, gathered until it is reported as Changes. */
class Found {
  readonly changed: string[] = [];
  readonly vanished = new Map<string, Stamp>();
  readonly appeared = new Map<string, Stamp>();

  changes(): Changes {
    const paths = [...this.changed, ...this.vanished.keys(), ...this.appeared.keys()];
    return { changed: paths.map((path) => Buffer.from(path, 'latin1')), renames: detectRenames(this.vanished, this.appeared) };
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

  /** Scans the tree below `root`; a rescan pass is cut into `slices` slices. */
  constructor(
    private readonly root: Buffer,
    private readonly excluded: Excluded,
    readonly slices = 1,
  ) {
    this.weights = new Array<number>(slices).fill(0);
    this.scratch = Buffer.alloc(root.length + 1 + 4096);
    root.copy(this.scratch);
    this.scratch[root.length] = 0x2f;
    this.addDir('', new Found());
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
  rescan(): Changes {
    const slice = this.nextSlice;
    this.nextSlice = (slice + 1) % this.slices;
    const found = new Found();
    // The keys first: a look adds and drops directories.
    const keys: string[] = [];
    for (const [key, dir] of this.dirs) if (dir.slice === slice) keys.push(key);
    for (const key of keys) this.rescanDir(key, found);
    return found.changes();
  }

  /** Lists directory `key` again and looks at each name in it (not below: its directories are rescanned in their own slices). */
  private rescanDir(key: string, found: Found): void {
    const dir = this.dirs.get(key);
    if (!dir) return;
    const names = this.list(key);
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
    const dir: Dir = { entries: new Map(), slice };
    this.dirs.set(key, dir);
    // Unreadable now: its names are found when a rescan can list it.
    const names = this.list(key) ?? [];
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

  /** The names in directory `key` (latin1), or undefined when it cannot be listed. */
  private list(key: string): string[] | undefined {
    try {
      return fs.readdirSync(this.bytesOf(key), 'latin1');
    } catch {
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
