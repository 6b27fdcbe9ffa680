/**
 * A better-sqlite3 database with a versioned schema (`PRAGMA user_version`): migrated forward on
 * open, refused when a newer fcp wrote it. fcp-track's database and
 * fcp --watch --two-way's both open through here; each gives its migrations and its error.
 */
import type Database from 'better-sqlite3';
import { FcpError } from '../errors';
import { showName } from '../showName';

export interface VersionedSchema {
  /** Each migration takes the schema from its index to the next version; never edit one, only append. */
  migrations: readonly string[];
  /** What the database is, for messages ("the tracked folder's database"). */
  what: string;
  /** The error for a database that cannot be read (unreadable), that a newer fcp wrote, or that this installation cannot open (no better-sqlite3), with its hint. */
  failure(message: string, why: 'unreadable' | 'newer' | 'unavailable', cause?: unknown): FcpError;
}

/**
 * better-sqlite3, loaded when a database is first opened: fcpd.js, which fcp copies alone to a
 * host without fcpd, starts without it, and only a two-way side needs it there.
 */
function sqlite(schema: VersionedSchema): typeof Database {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('better-sqlite3') as typeof Database;
  } catch (err) {
    throw schema.failure(`${schema.what} needs better-sqlite3, which this installation of fcp lacks: ${(err as Error).message}`, 'unavailable', err);
  }
}

export function openVersioned(file: string, schema: VersionedSchema, create: boolean): Database.Database {
  const current = schema.migrations.length;
  const Sqlite = sqlite(schema);
  let db: Database.Database | undefined;
  try {
    db = new Sqlite(file, { fileMustExist: !create });
    // No integrity check here: it reads every page, a tenth of a 100,000-file fcp-track status. A
    // file that is not a database fails the next read; a corrupted page, the query that reads it
    // (each kind of database guards its queries): either is that database's error.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > current) {
      db.close();
      throw schema.failure(`${schema.what} ${showName(file)} has schema ${version}, newer than this fcp's ${current}`, 'newer');
    }
    db.pragma('journal_mode = WAL');
    db.transaction(() => {
      for (let v = version; v < current; v++) db!.exec(schema.migrations[v]!);
      db!.pragma(`user_version = ${current}`);
    })();
    return db;
  } catch (err) {
    if (db?.open) db.close();
    if (err instanceof FcpError) throw err;
    throw schema.failure(`${schema.what} ${showName(file)} cannot be read: ${(err as Error).message}`, 'unreadable', err);
  }
}
