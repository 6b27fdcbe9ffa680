/**
 * What dead runs left in a destination directory, swept by the next run that writes into it
 * (README "Interrupted copies"). Each directory a run writes an entry into is listed once (and its
 * --partial-dir, when one is given), before the first entry; in it:
 *
 *  - a private temporary `.NAME.fcp-<pid>-<n>` (fileWriter.ts) whose pid no longer runs on this
 *    host goes: no run can resume it;
 *  - a part file `.NAME.fcp-part` (partialFile.ts) whose lock a running process holds stays: a
 *    run is writing it;
 *  - any other part file is resume state, kept for a rerun, unless it has no journal, its
 *    journal has not been written for STALE_PARTIAL_DAYS, or the run was given --no-resume: then
 *    it goes with its journal and lock, as do a journal and a lock left without their part file.
 *    (A journal that does not parse is left to the run that writes that name: it tells the user.)
 *
 * A pid is local to the host: two hosts writing one NFS directory at once are not told apart,
 * as with part files' locks.
 */
import * as fs from 'node:fs';
import { discardPaths, newTally, PARTIAL_NAME } from './discardPartials';
import { partCompanions, partialPaths } from './partialFile';
import { isRunning } from './running';

/** A part file whose journal has not been written for this many days is no longer resume state. */
export const STALE_PARTIAL_DAYS = 7;
const DAY_MS = 86_400_000;
/** A private temporary's name: `.<name>.fcp-<pid in base 36>-<n in base 36>`; group 1 is the pid. */
const PRIVATE_TEMP = /^\..*\.fcp-([0-9a-z]+)-[0-9a-z]+$/s;
const SLASH = 0x2f;

export interface SweepRules {
  /** --no-resume: part files not in use go too. */
  discardPartials: boolean;
  /** --partial-dir, relative to each destination directory. */
  partialDir: Buffer | undefined;
}

export class OrphanSweeper {
  private readonly swept = new Set<string>();
  /** Part files the sweeps left as resume state (latin1 paths): usually none. */
  private readonly keptParts = new Set<string>();
  /** The directory of the last entry: most entries come after another of the same directory. */
  private lastDir = Buffer.alloc(0);

  constructor(private readonly rules: SweepRules) {}

  /** `final` (a path with a directory part) is about to be written: its directory is swept once. */
  sweep(final: Buffer): void {
    const end = final.lastIndexOf(SLASH) + 1;
    if (end === this.lastDir.length && final.compare(this.lastDir, 0, end, 0, end) === 0) return;
    this.lastDir = Buffer.from(final.subarray(0, end));
    const key = this.lastDir.toString('latin1');
    if (this.swept.has(key)) return;
    this.swept.add(key);
    const dir = end > 0 ? this.lastDir : Buffer.from('./');
    this.sweepDirectory(dir);
    if (this.rules.partialDir) this.sweepDirectory(Buffer.concat([dir, this.rules.partialDir, Buffer.of(SLASH)]));
  }

  /** Sweeps `dir` (ending in a slash); a directory that cannot be listed is left alone. */
  private sweepDirectory(dir: Buffer): void {
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir, { encoding: 'buffer' });
    } catch {
      return;
    }
    const parts = new Set<string>();
    for (const raw of names) {
      const name = raw.toString('latin1');
      const temp = PRIVATE_TEMP.exec(name);
      if (temp && !isRunning(Number.parseInt(temp[1]!, 36))) fs.rmSync(Buffer.concat([dir, raw]), { force: true });
      const part = temp ? null : PARTIAL_NAME.exec(name);
      if (part) parts.add(part[1]!);
    }
    for (const part of parts) {
      const paths = partCompanions(Buffer.concat([dir, Buffer.from(part, 'latin1')]));
      if (this.rules.discardPartials || !this.isResumeState(paths.part, paths.journal)) discardPaths(paths, newTally());
      else this.keptParts.add(paths.part.toString('latin1'));
    }
  }

  /**
   * `final` (swept before) is in place, written without partial state (a file of one chunk): the
   * resume state an earlier run left for it, which no run would use now, goes, unless a running
   * process holds its lock.
   */
  dropPartOf(final: Buffer): void {
    if (this.keptParts.size === 0) return;
    const paths = partialPaths(final, this.rules.partialDir);
    if (!this.keptParts.delete(paths.part.toString('latin1'))) return;
    try {
      discardPaths(paths, newTally());
      // Emptied, a --partial-dir goes, as when a part file in it is committed.
      if (paths.dir) fs.rmdirSync(paths.dir);
    } catch {
      // The file is in place: state that cannot be removed now goes by a later sweep's rules; a directory still used stays.
    }
  }

  /**
   * Whether a part file is resume state: it has its journal, written in the last STALE_PARTIAL_DAYS.
   * Whether the journal parses is for the run that writes that name to tell (PARTIAL_STALE).
   */
  private isResumeState(part: Buffer, journal: Buffer): boolean {
    const stat = fs.lstatSync(journal, { throwIfNoEntry: false });
    if (!stat?.isFile() || !fs.lstatSync(part, { throwIfNoEntry: false })?.isFile()) return false;
    return Date.now() - stat.mtimeMs <= STALE_PARTIAL_DAYS * DAY_MS;
  }
}
