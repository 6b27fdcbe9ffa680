/**
 * A side of fcp --watch --two-way whose directory is on this machine: its record (its own
 * database, state/twoWayDb.ts), its listing (sideListing.ts) and its file-system events. fcp runs
 * one for the directory on its machine (two, when both are); fcpd runs one for the side a client
 * opened (server/twoWaySideService.ts), and fcp reaches it through remoteSide.ts. Both answer the
 * rounds the same way: TwoWaySide.
 */
import * as os from 'node:os';
import type { Recorded } from '../state/twoWayDb';
import { TwoWayDb } from '../state/twoWayDb';
import type { PathFilter } from '../sync/filter';
import { listSide, SideListing } from './sideListing';
import { EventSource, watchEvents } from './watcher';

/** A side as a round uses it. */
export interface TwoWaySide {
  /** The host the side is on: a conflict's copy of its version is named after it. */
  readonly host: string;
  list(): Promise<SideListing>;
  /** Records what both sides hold now (each row with this side's size and mtime) and forgets paths neither holds. */
  record(put: readonly Recorded[], forget: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export class LocalSide implements TwoWaySide {
  readonly host = os.hostname();

  private constructor(
    private readonly root: Buffer,
    private readonly db: TwoWayDb,
    private readonly filter: PathFilter,
    private readonly events: EventSource | undefined,
  ) {}

  /**
   * Opens the side of directory `root` with its record in `dbFile`; `changed` hears of every
   * file-system event below it (undefined: the caller lists it when it wants, fcp's rescans).
   */
  static async open(root: Buffer, dbFile: string, filter: PathFilter, log: (line: string) => void, changed?: (path: Buffer) => void): Promise<LocalSide> {
    const db = TwoWayDb.open(dbFile, root, log);
    try {
      const events = changed && (await watchEvents(root, changed, log));
      return new LocalSide(root, db, filter, events);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The pair's id this side's record holds (fcp's side makes it). */
  pairId(): string {
    return this.db.pairId();
  }

  list(): Promise<SideListing> {
    return listSide(this.root, this.filter, this.db.all());
  }

  async record(put: readonly Recorded[], forget: readonly string[]): Promise<void> {
    this.db.update(put, forget);
  }

  async close(): Promise<void> {
    await this.events?.stop();
    this.db.close();
  }
}
