/**
 * A tracked folder's database (.fcp/track.db, SQLite through better-sqlite3): each tracked file's
 * record (the stat its digest was taken at, the digest, the version at the last sync, and the
 * xxh64 of each chunk of both, which `fcp-track diff` compares) and the log of pushes and pulls. The schema is versioned by `PRAGMA user_version` and migrated forward on
 * open; a database that is not one (corrupted, truncated) or that a newer fcp wrote is
 * FCP_ERR_TRACK_STATE, which `fcp-track repair` answers by rebuilding it.
 */
import type Database from 'better-sqlite3';
import { FcpError } from '../errors';
import { DEFAULT_CHUNK_SIZE } from '../protocol/constants';
import { showName } from '../showName';
import type { TrackRecord } from '../track/status';
import { openVersioned, VersionedSchema } from './versionedDb';

/** The bytes of a chunk whose hash the database keeps: fcp's chunk. */
export const TRACK_CHUNK_SIZE = DEFAULT_CHUNK_SIZE;
/** The bytes of one chunk hash in a `chunks` blob. */
export const CHUNK_HASH_BYTES = 8;

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
  // The chunk hashes (big-endian xxh64 per chunk of meta's chunk_size bytes) of the content at
  // `hash`, and of the base when it is other content (NULL: the base is `hash`'s, or unknown).
  // Files tracked before have none until they are read again: diff then shows the whole file.
  // log.paths: what moved (a JSON array of the first LOG_PATHS paths), shown by `fcp-track log`.
  // `remote`: the files of the remote record last fetched, which status compares in SQL (at
  // 100,000 files, parsing the record's JSON each time cost a quarter of a status).
  `ALTER TABLE files ADD COLUMN chunks BLOB;
   ALTER TABLE files ADD COLUMN base_chunks BLOB;
   INSERT INTO meta (key, value) VALUES ('chunk_size', '${TRACK_CHUNK_SIZE}');
   ALTER TABLE log ADD COLUMN paths TEXT NOT NULL DEFAULT '[]';
   CREATE TABLE remote (
     path TEXT PRIMARY KEY,
     hash TEXT NOT NULL,
     mode INTEGER NOT NULL,
     size INTEGER NOT NULL
   ) WITHOUT ROWID;`,
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
  /** What moved or was deleted: the first LOG_PATHS paths. */
  paths: string[];
}

/** The paths a log entry keeps (here and in the remote record). */
export const LOG_PATHS = 20;

/** A file of the remote record, as the database keeps it. */
export interface RemoteFile {
  hash: string;
  mode: number;
  size: number;
}

/** The remote record's files where they differ from a path's base: what it holds, or null for nothing. */
const REMOTE_AGAINST_BASE = `
  SELECT r.path, r.hash, r.mode FROM remote r LEFT JOIN files f ON f.path = r.path
    WHERE f.base_hash IS NULL OR f.base_hash <> r.hash OR f.base_mode <> r.mode
  UNION ALL
  SELECT f.path, NULL, NULL FROM files f
    WHERE f.base_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM remote r WHERE r.path = f.path)`;
const REMOTE_KNOWN = 'remote_fetched_at';

/**
 * A files row as records() selects it, raw (an array: 100,000 rows are read per status), the
 * base's hash only where it is not the content's (one string per synced file, not two).
 */
type FileRow = [path: string, size: number, mtimeNs: string, ctimeNs: string, mode: number, hash: string, baseIsHash: number, otherBaseHash: string | null, baseMode: number | null, removed: number];
const SELECT_RECORDS = `SELECT path, size, mtime_ns, ctime_ns, mode, hash, coalesce(base_hash = hash, 0), CASE WHEN base_hash <> hash THEN base_hash END, base_mode, removed
  FROM files ORDER BY path`;

/** The chunk hashes of a file's content now and at its base (null: not known). */
export interface ChunkHashes {
  chunkSize: number;
  now: Buffer | null;
  base: Buffer | null;
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

function recordOf([path, size, mtimeNs, ctimeNs, mode, hash, baseIsHash, otherBaseHash, baseMode, removed]: FileRow): TrackRecord {
  const baseHash = baseIsHash ? hash : otherBaseHash;
  return {
    path,
    stat: { size, mtimeNs: BigInt(mtimeNs), ctimeNs: BigInt(ctimeNs), mode },
    hash,
    base: baseHash === null || baseMode === null ? null : { hash: baseHash, mode: baseMode },
    removed: removed !== 0,
  };
}

/**
 * A record's write: `chunks` (the record's when given, else the row's while its hash stays) and
 * `base_chunks`, kept only while the base is other content than `hash`: the row's old content
 * when that becomes the base, the row's old base chunks while the base stays, else unknown.
 */
const UPSERT = `INSERT INTO files (path, size, mtime_ns, ctime_ns, mode, hash, base_hash, base_mode, removed, chunks)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (path) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, mode = excluded.mode,
    chunks = coalesce(excluded.chunks, CASE WHEN excluded.hash = files.hash THEN files.chunks END),
    base_chunks = CASE
      WHEN excluded.base_hash IS NULL OR excluded.base_hash = excluded.hash THEN NULL
      WHEN excluded.base_hash = files.hash THEN files.chunks
      WHEN excluded.base_hash = files.base_hash THEN coalesce(files.base_chunks, CASE WHEN files.base_hash = files.hash THEN files.chunks END)
    END,
    hash = excluded.hash, base_hash = excluded.base_hash, base_mode = excluded.base_mode, removed = excluded.removed`;

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

  /** Every record, by path (the chunk hashes left out: chunksOf reads them where needed). */
  records(): Map<string, TrackRecord> {
    return this.guarded(() => {
      const records = new Map<string, TrackRecord>();
      const select = this.db.prepare(SELECT_RECORDS).raw();
      for (const row of select.iterate() as IterableIterator<FileRow>) records.set(row[0], recordOf(row));
      return records;
    });
  }

  /** The chunk hashes of these paths' content now and at their base. */
  chunksOf(paths: readonly string[]): Map<string, ChunkHashes> {
    return this.guarded(() => {
      const chunkSize = Number(this.meta('chunk_size'));
      const select = this.db.prepare('SELECT chunks, CASE WHEN base_hash = hash THEN chunks ELSE base_chunks END FROM files WHERE path = ?').raw();
      const out = new Map<string, ChunkHashes>();
      for (const path of paths) {
        const row = select.get(path) as [Buffer | null, Buffer | null] | undefined;
        if (row) out.set(path, { chunkSize, now: row[0], base: row[1] });
      }
      return out;
    });
  }

  /** Writes these records (their chunk hashes as UPSERT keeps them) and deletes those paths, in one transaction. */
  update(put: readonly TrackRecord[], remove: readonly string[] = []): void {
    const insert = this.db.prepare(UPSERT);
    const del = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.guarded(() =>
      this.db.transaction(() => {
        for (const r of put) {
          insert.run(r.path, r.stat.size, String(r.stat.mtimeNs), String(r.stat.ctimeNs), r.stat.mode, r.hash, r.base?.hash ?? null, r.base?.mode ?? null, r.removed ? 1 : 0, r.chunks ?? null);
        }
        for (const path of remove) del.run(path);
      })(),
    );
  }

  /** Replaces the remote record's files kept here. */
  setRemote(files: Readonly<Record<string, RemoteFile>>, fetchedAt: string): void {
    const insert = this.db.prepare('INSERT INTO remote (path, hash, mode, size) VALUES (?, ?, ?, ?)');
    this.guarded(() =>
      this.db.transaction(() => {
        this.db.exec('DELETE FROM remote');
        for (const [path, file] of Object.entries(files)) insert.run(path, file.hash, file.mode, file.size);
        this.setMeta(REMOTE_KNOWN, fetchedAt);
      })(),
    );
  }

  /** Whether a remote record was ever kept here (setRemote). */
  remoteKnown(): boolean {
    return this.meta(REMOTE_KNOWN) !== undefined;
  }

  /** The paths whose version in the remote record kept here is not their base (null: not there); any other path's is its base. */
  remoteAgainstBase(): Map<string, { hash: string; mode: number } | null> {
    return this.guarded(() => {
      const out = new Map<string, { hash: string; mode: number } | null>();
      for (const [path, hash, mode] of this.db.prepare(REMOTE_AGAINST_BASE).raw().iterate() as IterableIterator<[string, string | null, number | null]>) {
        out.set(path, hash === null || mode === null ? null : { hash, mode });
      }
      return out;
    });
  }

  remoteFile(path: string): RemoteFile | undefined {
    return this.guarded(() => this.db.prepare('SELECT hash, mode, size FROM remote WHERE path = ?').get(path) as RemoteFile | undefined);
  }

  addLog(entry: LogEntry): void {
    this.guarded(() =>
      this.db
        .prepare('INSERT INTO log (at, who, action, files, deleted, bytes, paths) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(entry.at, entry.who, entry.action, entry.files, entry.deleted, entry.bytes, JSON.stringify(entry.paths.slice(0, LOG_PATHS))),
    );
  }

  log(): LogEntry[] {
    return this.guarded(() =>
      (this.db.prepare('SELECT at, who, action, files, deleted, bytes, paths FROM log ORDER BY id').all() as (Omit<LogEntry, 'paths'> & { paths: string })[]).map((row) => ({
        ...row,
        paths: JSON.parse(row.paths) as string[],
      })),
    );
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
