/**
 * One side's record of fcp --watch --two-way (SQLite through better-sqlite3): for every path the
 * pair last synced, the version both sides held then (digest and permission bits) and this side's
 * size and mtime then. Each side keeps its own, on its own host: fcp the record of the directory
 * on its machine, fcpd (or fcp, for a second directory on its machine) that of the other
 * (PROTOCOL.md §7.12). A file whose size and mtime are the recorded ones is the recorded version
 * without a read; a path recorded and missing was deleted on this side, or renamed: its device and
 * inode (schema 3) found under an unrecorded name with the recorded size and mtime.
 *
 * A record belongs to one directory: it keeps the directory's device and inode, and a record
 * opened for another directory (the same path made anew, a copied state directory) is emptied,
 * so that the pair syncs as the first time, which deletes nothing. The schema is versioned by
 * `PRAGMA user_version` (versionedDb.ts); an unreadable record is FCP_ERR_TWO_WAY_STATE.
 */
import type Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { FcpError } from '../errors';
import { showName } from '../showName';
import { ensurePrivateDir, fcpStateDir } from './controlSocket';
import { openVersioned, VersionedSchema } from './versionedDb';

const MIGRATIONS: readonly string[] = [
  // 1: one database of the pair on fcp's machine, both sides' stats in it.
  `CREATE TABLE synced (
     path BLOB PRIMARY KEY,
     hash TEXT NOT NULL,
     mode INTEGER NOT NULL,
     here_size INTEGER NOT NULL,
     here_mtime_us INTEGER NOT NULL,
     there_size INTEGER NOT NULL,
     there_mtime_us INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // 2: one record per side; fcp's keeps its own side's stats, the other side starts its record empty.
  `CREATE TABLE side (
     path BLOB PRIMARY KEY,
     hash TEXT NOT NULL,
     mode INTEGER NOT NULL,
     size INTEGER NOT NULL,
     mtime_us INTEGER NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO side SELECT path, hash, mode, here_size, here_mtime_us FROM synced;
   DROP TABLE synced;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // 3: the file's device and inode when recorded (a rename is the same inode under a new name); rows before it have none.
  `ALTER TABLE side ADD COLUMN dev INTEGER;
   ALTER TABLE side ADD COLUMN ino INTEGER;`,
  // 4: rows by inode: a narrowed listing finds the recorded name of an entry renamed from outside its scope.
  `CREATE INDEX side_inode ON side (ino);`,
];
export const TWO_WAY_SCHEMA_VERSION = MIGRATIONS.length;

const SCHEMA: VersionedSchema = {
  migrations: MIGRATIONS,
  what: 'the two-way state database',
  failure: (message, why, cause) =>
    new FcpError('FCP_ERR_TWO_WAY_STATE', message, {
      hint:
        why === 'newer' ? 'use the fcp that made it, or a newer one'
          : why === 'unavailable' ? 'install fcp with npm on that host (fcpd.js copied alone runs copies, not a two-way side)'
            : 'remove it: the next run compares both sides whole, deletes nothing and keeps both versions of any file that differs',
      cause,
    }),
};

/** A path as this side recorded it at the last sync. */
export interface Recorded {
  /** Relative to the synced directory, `/`-separated; the latin1 spelling of its bytes. */
  path: string;
  /** The version's content digest (sha256, hex) and permission bits. */
  hash: string;
  mode: number;
  /** This side's file then: size and mtime in microseconds (what a receiver sets, compare.ts sameTime). */
  size: number;
  mtimeUs: number;
  /** This side's file then: its device and inode, when known (kept on its own host only, never sent). */
  dev?: number;
  ino?: number;
}

/** A row as better-sqlite3 gives it in raw mode (arrays, not an object per row), in ROW_COLUMNS' order. */
type Row = [path: Buffer, hash: string, mode: number, size: number, mtimeUs: number, dev: number | null, ino: number | null];
const ROW_COLUMNS = 'path, hash, mode, size, mtime_us, dev, ino';

function recordedOf([path, hash, mode, size, mtimeUs, dev, ino]: Row): Recorded {
  const text = path.toString('latin1');
  return dev === null || ino === null ? { path: text, hash, mode, size, mtimeUs } : { path: text, hash, mode, size, mtimeUs, dev, ino };
}

function byPath(rows: readonly Row[]): Map<string, Recorded> {
  return new Map(rows.map(recordedOf).map((recorded) => [recorded.path, recorded]));
}

/** fcp's record of the directory on its machine in the pair `here` and `there` (locations as given, local paths made absolute). */
export function twoWayDbFile(here: string, there: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = createHash('sha256').update(here).update('\0').update(there).digest('hex').slice(0, 32);
  return nodePath.join(fcpStateDir(env), 'two-way', `${id}.db`);
}

/** The record of the other side of pair `pair` (hex), directory `root` (its real path), on the host that holds it. */
export function sideDbFile(root: string, pair: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = createHash('sha256').update(root).update('\0').update(pair).digest('hex').slice(0, 32);
  return nodePath.join(fcpStateDir(env), 'two-way', 'sides', `${id}.db`);
}

/** A directory's identity: its device and inode. */
function identityOf(root: Buffer): string {
  const stat = fs.statSync(root, { bigint: true });
  return `${stat.dev}:${stat.ino}`;
}

export class TwoWayDb {
  /** recordedAs's statement, once asked. */
  private byInode: Database.Statement | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /**
   * Opens the record of directory `root` (creating it, and its private directory, when there is
   * none); a record of another directory is emptied first (`log` says so).
   */
  static open(file: string, root: Buffer, log: (line: string) => void): TwoWayDb {
    ensurePrivateDir(nodePath.dirname(file));
    const db = new TwoWayDb(openVersioned(file, SCHEMA, true), file);
    fs.chmodSync(file, 0o600);
    const identity = identityOf(root);
    const held = db.meta('root');
    if (held !== identity) {
      if (held !== undefined) log(`${showName(root)} is not the directory ${showName(file)} recorded: it syncs as the first time (nothing deleted)`);
      db.guarded(() =>
        db.db.transaction(() => {
          if (held !== undefined) db.db.prepare('DELETE FROM side').run();
          db.setMeta('root', identity);
        })(),
      );
    }
    return db;
  }

  private guarded<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      throw SCHEMA.failure(`${SCHEMA.what} ${showName(this.file)} cannot be read: ${(err as Error).message}`, 'unreadable', err);
    }
  }

  private meta(key: string): string | undefined {
    return this.guarded(() => (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value);
  }

  private setMeta(key: string, value: string): void {
    this.guarded(() => this.db.prepare('INSERT OR REPLACE INTO meta VALUES (?, ?)').run(key, value));
  }

  /** The pair's id (64 hex digits), made on first use: the other side keeps its record under it. */
  pairId(): string {
    const held = this.meta('pair');
    if (held) return held;
    const made = randomBytes(32).toString('hex');
    this.setMeta('pair', made);
    return made;
  }

  /** Every recorded path, by path. */
  all(): Map<string, Recorded> {
    return byPath(this.guarded(() => this.db.prepare(`SELECT ${ROW_COLUMNS} FROM side`).raw(true).all() as Row[]));
  }

  /** Every recorded path from `lo` (inclusive) up to `hi` (exclusive) in byte order, either end open when undefined, one at a time (a sweep compares them with a walk without holding them all). */
  eachRecorded(visit: (row: Recorded) => void, lo?: string, hi?: string): void {
    const bounds = [...(lo === undefined ? [] : ['path >= ?']), ...(hi === undefined ? [] : ['path < ?'])];
    const args = [lo, hi].filter((bound): bound is string => bound !== undefined).map((bound) => Buffer.from(bound, 'latin1'));
    this.guarded(() => {
      const select = this.db.prepare(`SELECT ${ROW_COLUMNS} FROM side${bounds.length > 0 ? ` WHERE ${bounds.join(' AND ')}` : ''}`).raw(true);
      for (const row of select.iterate(...args) as IterableIterator<Row>) visit(recordedOf(row));
    });
  }

  /** The recorded paths at these indexes of the record in byte order (ascending indexes; one past the end gives none). */
  pathsAt(indexes: readonly number[]): string[] {
    return this.guarded(() => {
      const select = this.db.prepare('SELECT path FROM side ORDER BY path LIMIT 1 OFFSET ?').pluck();
      return indexes.map((index) => select.get(index) as Buffer | undefined).filter((path): path is Buffer => path !== undefined).map((path) => path.toString('latin1'));
    });
  }

  /** How many paths are recorded. */
  count(): number {
    return this.guarded(() => this.db.prepare('SELECT count(*) FROM side').pluck().get() as number);
  }

  /** The recorded paths that are one of `paths` or below one (a narrowed listing's rows), by path. */
  within(paths: Iterable<string>): Map<string, Recorded> {
    // Below `p`: from `p/` up to `p0` ('0' is the byte after '/'), as the BLOB keys compare.
    const select = this.db.prepare(`SELECT ${ROW_COLUMNS} FROM side WHERE path = ? OR (path >= ? AND path < ?)`).raw(true);
    const rows: Row[] = [];
    this.guarded(() => {
      for (const path of paths) rows.push(...(select.all(Buffer.from(path, 'latin1'), Buffer.from(`${path}/`, 'latin1'), Buffer.from(`${path}0`, 'latin1')) as Row[]));
    });
    return byPath(rows);
  }

  /** The rows recorded with this device and inode (one, or none; more for hard links). Asked for every new entry of a narrowed listing: prepared once. */
  recordedAs(dev: number, ino: number): Recorded[] {
    return this.guarded(() => {
      this.byInode ??= this.db.prepare(`SELECT ${ROW_COLUMNS} FROM side WHERE ino = ? AND dev = ?`).raw(true);
      return (this.byInode.all(ino, dev) as Row[]).map(recordedOf);
    });
  }

  /** Writes these paths and forgets those, in one transaction. */
  update(put: readonly Recorded[], forget: readonly string[] = []): void {
    if (put.length === 0 && forget.length === 0) return;
    const insert = this.db.prepare('INSERT OR REPLACE INTO side (path, hash, mode, size, mtime_us, dev, ino) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const remove = this.db.prepare('DELETE FROM side WHERE path = ?');
    this.guarded(() =>
      this.db.transaction(() => {
        for (const p of put) insert.run(Buffer.from(p.path, 'latin1'), p.hash, p.mode, p.size, p.mtimeUs, p.dev ?? null, p.ino ?? null);
        for (const path of forget) remove.run(Buffer.from(path, 'latin1'));
      })(),
    );
  }

  close(): void {
    this.db.close();
  }
}
