/**
 * A tracked folder's database (.fcp/track.db, SQLite through better-sqlite3): each tracked file's
 * record (the stat its digest was taken at, the digest, the version at the last sync) and the log
 * of pushes and pulls. The schema is versioned by `PRAGMA user_version` and migrated forward on
 * open; a database that is not one (corrupted, truncated) or that a newer fcp wrote is
 * FCP_ERR_TRACK_STATE, which `fcp-track repair` answers by rebuilding it.
 */
import type Database from 'better-sqlite3';
import { FcpError } from '../errors';
import { showName } from '../showName';
import type { TrackRecord } from '../track/status';
import { openVersioned, VersionedSchema } from './versionedDb';

/** Each migration takes the schema from its index to the next version; never edit one, only append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE files (
     path TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     mtime_ns TEXT NOT NULL,
     ctime_ns TEXT NOT NULL,
     mode INTEGER NOT NULL,
     hash TEXT NOT NULL,
     base_hash TEXT,
     base_mode INTEGER,
     removed INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;
   CREATE TABLE log (
     id INTEGER PRIMARY KEY,
     at TEXT NOT NULL,
     who TEXT NOT NULL,
     action TEXT NOT NULL,
     files INTEGER NOT NULL,
     deleted INTEGER NOT NULL,
     bytes INTEGER NOT NULL
   );
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
];
export const TRACK_SCHEMA_VERSION = MIGRATIONS.length;

/** One push or pull, as `fcp-track log` shows it. */
export interface LogEntry {
  /** ISO 8601 time. */
  at: string;
  /** user@host. */
  who: string;
  action: 'push' | 'pull';
  files: number;
  deleted: number;
  bytes: number;
}

interface FileRow {
  path: string;
  size: number;
  mtime_ns: string;
  ctime_ns: string;
  mode: number;
  hash: string;
  base_hash: string | null;
  base_mode: number | null;
  removed: number;
}

const REPAIR_HINT = 'run fcp-track repair: it rebuilds the database from the folder and the remote record';

const TRACK_SCHEMA: VersionedSchema = {
  migrations: MIGRATIONS,
  what: "the tracked folder's database",
  failure: (message, why, cause) => new FcpError('FCP_ERR_TRACK_STATE', message, { hint: why === 'newer' ? 'use the fcp that made it, or a newer one' : REPAIR_HINT, cause }),
};

function corrupted(file: string, err: unknown): FcpError {
  return TRACK_SCHEMA.failure(`${TRACK_SCHEMA.what} ${showName(file)} cannot be read: ${(err as Error).message}`, 'unreadable', err);
}

function recordOf(row: FileRow): TrackRecord {
  return {
    path: row.path,
    stat: { size: row.size, mtimeNs: BigInt(row.mtime_ns), ctimeNs: BigInt(row.ctime_ns), mode: row.mode },
    hash: row.hash,
    base: row.base_hash === null || row.base_mode === null ? null : { hash: row.base_hash, mode: row.base_mode },
    removed: row.removed !== 0,
  };
}

export class TrackDb {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** Opens (with `create`, creates) the database, checks it and migrates its schema. */
  static open(file: string, create = false): TrackDb {
    return new TrackDb(openVersioned(file, TRACK_SCHEMA, create), file);
  }

  private guarded<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw corrupted(this.file, err);
    }
  }

  records(): TrackRecord[] {
    return this.guarded(() => (this.db.prepare('SELECT * FROM files ORDER BY path').all() as FileRow[]).map(recordOf));
  }

  /** Writes these records and deletes those paths, in one transaction. */
  update(put: readonly TrackRecord[], remove: readonly string[] = []): void {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO files (path, size, mtime_ns, ctime_ns, mode, hash, base_hash, base_mode, removed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const del = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.guarded(() =>
      this.db.transaction(() => {
        for (const r of put) {
          insert.run(r.path, r.stat.size, String(r.stat.mtimeNs), String(r.stat.ctimeNs), r.stat.mode, r.hash, r.base?.hash ?? null, r.base?.mode ?? null, r.removed ? 1 : 0);
        }
        for (const path of remove) del.run(path);
      })(),
    );
  }

  addLog(entry: LogEntry): void {
    this.guarded(() =>
      this.db.prepare('INSERT INTO log (at, who, action, files, deleted, bytes) VALUES (?, ?, ?, ?, ?, ?)').run(entry.at, entry.who, entry.action, entry.files, entry.deleted, entry.bytes),
    );
  }

  log(): LogEntry[] {
    return this.guarded(() => this.db.prepare('SELECT at, who, action, files, deleted, bytes FROM log ORDER BY id').all() as LogEntry[]);
  }

  meta(key: string): string | undefined {
    return this.guarded(() => (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value);
  }

  setMeta(key: string, value: string): void {
    this.guarded(() => this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value));
  }

  close(): void {
    this.db.close();
  }
}
