/**
 * Renames seen by inode, pure: an entry that vanished from one name and one of the same kind,
 * device and inode (a file also of the same size and mtime: a rename changes neither) that
 * appeared under another name is one entry renamed. A renamed directory stands for what it holds:
 * the renames of its contents to the same names below the new name are left out. The two names of
 * one rename may be seen by different looks (an event names one, a rescan slice the other), so
 * what the looks of a batch found is gathered (MoveLedger) before renames are paired.
 */
import { isBelow } from './batcher';

/** What a snapshot holds of an entry. */
export interface Stamp {
  kind: 'file' | 'dir' | 'symlink';
  dev: number;
  ino: number;
  size: number;
  /** Milliseconds with their fraction: plain numbers, as a rescan of 100,000 entries costs half the CPU of bigint stats. */
  mtimeMs: number;
}

export interface Rename {
  /** Paths relative to the watched source, latin1 spellings of their bytes. */
  from: string;
  to: string;
  kind: Stamp['kind'];
}

function identity(stamp: Stamp): string {
  const same = stamp.kind === 'file' ? `:${stamp.size}:${stamp.mtimeMs}` : '';
  return `${stamp.kind}:${stamp.dev}:${stamp.ino}${same}`;
}

/** Whether two stamps are one entry by the rule above (the same kind, device and inode; a file's size and mtime too). */
export const sameEntry = (a: Stamp, b: Stamp): boolean => identity(a) === identity(b);

export function detectRenames(vanished: ReadonlyMap<string, Stamp>, appeared: ReadonlyMap<string, Stamp>): Rename[] {
  const gone = new Map<string, string>();
  for (const [path, stamp] of vanished) {
    const id = identity(stamp);
    // Two vanished names of one inode (hard links): which one moved is not known; neither is taken.
    gone.set(id, gone.has(id) ? '' : path);
  }
  const renames: Rename[] = [];
  for (const [to, stamp] of [...appeared].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const from = gone.get(identity(stamp));
    if (!from) continue;
    gone.set(identity(stamp), '');
    renames.push({ from, to, kind: stamp.kind });
  }
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
  const dirs = renames.filter((rename) => rename.kind === 'dir');
  return renames.filter(
    (rename) =>
      !dirs.some(
        (dir) =>
          dir !== rename &&
          isBelow(latin1(rename.from), latin1(dir.from)) &&
          isBelow(latin1(rename.to), latin1(dir.to)) &&
          rename.from.slice(dir.from.length) === rename.to.slice(dir.to.length),
      ),
  );
}

/**
 * What vanished and what appeared over the looks of one batch, as the destination will see it:
 * an entry that appeared and vanished again within the batch was never there, and one that came
 * back to the name it vanished from did not move.
 */
export class MoveLedger {
  private readonly vanished = new Map<string, Stamp>();
  private readonly appeared = new Map<string, Stamp>();

  /** One look's findings, in the order they were made. */
  note(vanished: ReadonlyMap<string, Stamp>, appeared: ReadonlyMap<string, Stamp>): void {
    for (const [path, stamp] of vanished) this.vanish(path, stamp);
    for (const [path, stamp] of appeared) this.appear(path, stamp);
  }

  private vanish(path: string, stamp: Stamp): void {
    if (this.appeared.delete(path)) return;
    // Vanished twice (it came back as another entry in between): the destination holds the first.
    if (!this.vanished.has(path)) this.vanished.set(path, stamp);
  }

  private appear(path: string, stamp: Stamp): void {
    const before = this.vanished.get(path);
    if (before && identity(before) === identity(stamp)) this.vanished.delete(path);
    else this.appeared.set(path, stamp);
  }

  /** The renames among what the batch found; the ledger is empty after. */
  take(): Rename[] {
    const renames = this.vanished.size === 0 ? [] : detectRenames(this.vanished, this.appeared);
    this.vanished.clear();
    this.appeared.clear();
    return renames;
  }
}
