/**
 * fcp --watch --two-way's state database (SQLite through better-sqlite3, under
 * $XDG_STATE_HOME/fcp/two-way/, one per pair of directories): for every path both sides held
 * after the last sync, the version they held (digest and permission bits) and each side's size
 * and mtime then. A side's file with the same size and mtime is that version without a read;
 * a path the database has and a side lacks was deleted there. The schema is versioned by
 * `PRAGMA user_version` (versionedDb.ts); an unreadable database is FCP_ERR_TWO_WAY_STATE.
 */
import type Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { createHash } from 'node:crypto';
import { FcpError } from '../errors';
import { showName } from '../showName';
import { ensurePrivateDir, fcpStateDir } from './controlSocket';
import { openVersioned, VersionedSchema } from './versionedDb';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE synced (
     path BLOB PRIMARY KEY,
     hash TEXT NOT NULL,
     mode INTEGER NOT NULL,
     here_size INTEGER NOT NULL,
     here_mtime_us INTEGER NOT NULL,
     there_size INTEGER NOT NULL,
     there_mtime_us INTEGER NOT NULL
   ) WITHOUT ROWID;`,
];
export const TWO_WAY_SCHEMA_VERSION = MIGRATIONS.length;

const SCHEMA: VersionedSchema = {
  migrations: MIGRATIONS,
  what: 'the two-way state database',
  failure: (message, why, cause) =>
    new FcpError('FCP_ERR_TWO_WAY_STATE', message, {
      hint: why === 'newer' ? 'use the fcp that made it, or a newer one' : 'remove it: the next run compares both sides whole and keeps both versions of any file that differs',
      cause,
    }),
};

/** A file's size and mtime (microseconds: what a receiver sets, compare.ts sameTime) on one side. */
export interface SideStat {
  size: number;
  mtimeUs: number;
}

/** A path as both sides held it after the last sync. */
export interface SyncedPath {
  /** Relative to the synced directories, `/`-separated; the latin1 spelling of its bytes. */
  path: string;
  hash: string;
  mode: number;
  here: SideStat;
  there: SideStat;
}

interface Row {
  path: Buffer;
  hash: string;
  mode: number;
  here_size: number;
  here_mtime_us: number;
  there_size: number;
  there_mtime_us: number;
}

/** The database of the pair `here` and `there` (locations as given, local paths made absolute). */
export function twoWayDbFile(here: string, there: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = createHash('sha256').update(here).update('\0').update(there).digest('hex').slice(0, 32);
  return nodePath.join(fcpStateDir(env), 'two-way', `${id}.db`);
}

export class TwoWayDb {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** Opens the database, creating it (and its private directory) when there is none. */
  static open(file: string): TwoWayDb {
    ensurePrivateDir(nodePath.dirname(file));
    const db = openVersioned(file, SCHEMA, true);
    fs.chmodSync(file, 0o600);
    return new TwoWayDb(db, file);
  }

  private guarded<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw SCHEMA.failure(`${SCHEMA.what} ${showName(this.file)} cannot be read: ${(err as Error).message}`, 'unreadable', err);
    }
  }

  /** Every synced path, by path. */
  all(): Map<string, SyncedPath> {
    const rows = this.guarded(() => this.db.prepare('SELECT * FROM synced').all() as Row[]);
    return new Map(
      rows.map((row) => {
        const path = row.path.toString('latin1');
        const here = { size: row.here_size, mtimeUs: row.here_mtime_us };
        return [path, { path, hash: row.hash, mode: row.mode, here, there: { size: row.there_size, mtimeUs: row.there_mtime_us } }];
      }),
    );
  }

  /** Writes these paths and forgets those, in one transaction. */
  update(put: readonly SyncedPath[], forget: readonly string[] = []): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO synced VALUES (?, ?, ?, ?, ?, ?, ?)');
    const remove = this.db.prepare('DELETE FROM synced WHERE path = ?');
    this.guarded(() =>
      this.db.transaction(() => {
        for (const p of put) insert.run(Buffer.from(p.path, 'latin1'), p.hash, p.mode, p.here.size, p.here.mtimeUs, p.there.size, p.there.mtimeUs);
        for (const path of forget) remove.run(Buffer.from(path, 'latin1'));
      })(),
    );
  }

  close(): void {
    this.db.close();
  }
}
