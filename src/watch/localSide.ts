/**
 * A side of fcp --watch --two-way whose directory is on this machine: its record (its own
 * database, state/twoWayDb.ts), its listing (sideListing.ts) and its file-system events. fcp runs
 * one for the directory on its machine (two, when both are); fcpd runs one for the side a client
 * opened (server/twoWaySideService.ts), and fcp reaches it through remoteSide.ts. Both answer the
 * rounds the same way: TwoWaySide.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Recorded } from '../state/twoWayDb';
import { TwoWayDb } from '../state/twoWayDb';
import type { PathFilter } from '../sync/filter';
import { makeNode, NodeOp } from './nodeOps';
import { FileState, listSide, renameOrigins, SideListing, SideMove, walkedOf, under, walkFiles } from './sideListing';
import { renameUnchanged } from './sideRename';
import { ChangedPaths, Scope, unionScope } from './scope';
import { SWEEP_SLICES } from './constants';
import { EVERY_PATH } from './pathRange';
import { sweepSide, SweepCycle } from './sweep';
import { EventSource, watchEvents } from './watcher';
import { FcpError } from '../errors';
import { fsError } from '../transfer/fsError';
import { showName } from '../showName';

/**
 * A two-way side is one existing directory (PROTOCOL.md §7.12): anything else is refused before
 * its record is opened, here as by fcpd, with FCP_ERR_NOT_DIRECTORY.
 */
export function checkSideRoot(root: Buffer): void {
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(root, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw fsError(err, 'access', root);
  }
  if (!isDirectory) {
    throw new FcpError('FCP_ERR_NOT_DIRECTORY', `a two-way side is one directory: ${showName(root)} is not`, { hint: 'give two existing directories: make a new side with mkdir first' });
  }
}

/** How a side hears of its file-system events (watcher.ts; a test's own). */
export type WatchEvents = typeof watchEvents;

/** A side as a round uses it. */
export interface TwoWaySide {
  /** The host the side is on: a conflict's copy of its version is named after it. */
  readonly host: string;
  /** The side lists and makes directories and symlinks (TWO_WAY_TREE, with a side on a host). */
  readonly tree: boolean;
  /** Lists the side whole; `tree`: directories and symlinks too (both sides must have `tree`). */
  list(tree: boolean): Promise<SideListing>;
  /**
   * Lists the side narrowed to `asked` and the paths its own events named since its last listing
   * (scope.ts), with `sweep` (or when its events may have been lost) also those where a walk finds
   * it differs from its record (sweep.ts); or whole when it must be (too many paths, a side that
   * cannot narrow, or sweep): the listing and the scope it covers.
   */
  listNarrowed(tree: boolean, asked: ReadonlySet<string>, sweep: boolean): Promise<{ listing: SideListing; scope: Scope }>;
  /** Records what both sides hold now (each row with this side's size and mtime) and forgets paths neither holds. */
  record(put: readonly Recorded[], forget: readonly string[]): Promise<void>;
  /** Renames files, each only if still as last listed and its new name free (sideRename.ts); which were made. */
  rename(moves: readonly SideMove[]): Promise<boolean[]>;
  /** Makes and removes directories and symlinks, in order, each only where safe (nodeOps.ts); which were made. */
  nodes(changes: readonly NodeOp[]): Promise<boolean[]>;
  close(): Promise<void>;
}

export class LocalSide implements TwoWaySide {
  readonly host = os.hostname();
  readonly tree = true;
  /** The files of the last listing: a rename is made only of a file still as listed. */
  private listed: ReadonlyMap<string, FileState> = new Map();
  /** The paths events named since the last listing (whole, without events). */
  private readonly changes = new ChangedPaths();
  private events: EventSource | undefined;
  /** The slices this side's sweeps take in turn. */
  private readonly sweeps = new SweepCycle(SWEEP_SLICES);

  private constructor(
    private readonly root: Buffer,
    private readonly db: TwoWayDb,
    private readonly filter: PathFilter,
  ) {}

  /**
   * Opens the side of directory `root` with its record in `dbFile`; `changed` hears of every
   * file-system event below it (undefined: the caller lists it when it wants, fcp's rescans).
   */
  static async open(root: Buffer, dbFile: string, filter: PathFilter, log: (line: string) => void, changed?: (path: Buffer) => void, events: WatchEvents = watchEvents): Promise<LocalSide> {
    const db = TwoWayDb.open(dbFile, root, log);
    try {
      const side = new LocalSide(root, db, filter);
      const heard = (path: Buffer): void => {
        side.changes.add(path.toString('latin1'));
        changed!(path);
      };
      side.events = changed && (await events(root, heard, log, () => side.changes.markLost()));
      return side;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The pair's id this side's record holds (fcp's side makes it). */
  pairId(): string {
    return this.db.pairId();
  }

  async list(tree: boolean): Promise<SideListing> {
    this.takeChanges();
    return (await this.listIn(tree, 'whole')).listing;
  }

  async listNarrowed(tree: boolean, asked: Scope, sweep: boolean): Promise<{ listing: SideListing; scope: Scope }> {
    // Asked for whole (too many paths), it sweeps for nothing.
    return this.listIn(tree, asked === 'whole' ? (this.takeChanges(), asked) : unionScope(this.ownScope(tree, sweep), asked));
  }

  /** A listing begins: the paths events named since the last one, or whole (no events, or some lost); later events are the next listing's. */
  takeChanges(): Scope {
    const taken = this.changes.take();
    return this.events ? taken : 'whole';
  }

  /**
   * A narrowed listing begins: the paths events named since the last one, with `sweep` those the
   * sweep of the cycle's next slice finds differing from the record, and when they may not be all
   * (no events, some lost) those a sweep of every path finds; whole when a sweep cannot tell
   * (unreadable entries, too many paths, no `tree`).
   */
  ownScope(tree: boolean, sweep: boolean): Scope {
    const named = this.takeChanges();
    if (!sweep && named !== 'whole') return named;
    if (!tree) return 'whole';
    const range = named === 'whole' ? EVERY_PATH : this.sweeps.nextRange(this.db);
    const swept = sweepSide(this.root, this.filter, (visit, lo, hi) => this.db.eachRecorded(visit, lo, hi), range);
    return unionScope(named === 'whole' ? new Set() : named, swept);
  }

  /**
   * Lists the side over `scope` (its changes already taken), and over the old names of renames
   * into it from outside it (renameOrigins): the listing and the scope it covers (`scope` itself
   * when nothing was added).
   */
  async listIn(tree: boolean, scope: Scope): Promise<{ listing: SideListing; scope: Scope }> {
    const recordsIn = (covered: Scope): Map<string, Recorded> => (covered === 'whole' ? this.db.all() : this.db.within(covered));
    let walked = walkFiles(this.root, this.filter, tree, scope);
    let records = recordsIn(scope);
    const origins = scope === 'whole' ? [] : renameOrigins(walked.files, records, scope, (dev, ino) => this.db.recordedAs(dev, ino));
    if (origins.length > 0) {
      scope = unionScope(scope, new Set(origins));
      walked = walkFiles(this.root, this.filter, tree, scope);
      records = recordsIn(scope);
    }
    const { listing, restamped } = await listSide(this.root, this.filter, records, tree, scope, walked);
    this.db.update(restamped);
    this.listed = new Map(listing.files);
    return { listing, scope };
  }

  /** Each row with the device and inode of this side's file when it is the row's (its renames are told by them). */
  async record(put: readonly Recorded[], forget: readonly string[]): Promise<void> {
    const stamped = put.map((row) => {
      const file = walkedOf(under(this.root, row.path));
      return file && file.size === row.size && file.mtimeUs === row.mtimeUs ? { ...row, dev: file.dev, ino: file.ino } : row;
    });
    this.db.update(stamped, forget);
  }

  async rename(moves: readonly SideMove[]): Promise<boolean[]> {
    return moves.map((move) => renameUnchanged(this.root, move, this.listed.get(move.from)));
  }

  async nodes(changes: readonly NodeOp[]): Promise<boolean[]> {
    return changes.map((change) => makeNode(this.root, change));
  }

  async close(): Promise<void> {
    await this.events?.stop();
    this.db.close();
  }
}
