import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { CHUNK_HASH_BYTES, TRACK_CHUNK_SIZE, TRACK_SCHEMA_VERSION, TrackDb } from '../../../src/state/trackDb';
import type { TrackRecord } from '../../../src/track/status';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-trackdb-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const record: TrackRecord = { path: 'a/b', stat: { size: 3, mtimeNs: 1234567890123456789n, ctimeNs: 5n, mode: 0o640 }, hash: 'f'.repeat(64), base: null, removed: false };

test('records and log survive a reopen; nanosecond times are kept exactly', () => {
  const file = path.join(dir, 'track.db');
  const db = TrackDb.open(file, true);
  db.update([record, { ...record, path: 'c', base: { hash: 'e'.repeat(64), mode: 0o600 }, removed: true }]);
  db.addLog({ at: '2026-01-01T00:00:00.000Z', who: 'u@h', action: 'push', files: 2, deleted: 0, bytes: 9, paths: ['a/b', 'c'] });
  db.close();
  const again = TrackDb.open(file);
  expect([...again.records().values()]).toEqual([record, { ...record, path: 'c', base: { hash: 'e'.repeat(64), mode: 0o600 }, removed: true }]);
  expect(again.log()).toEqual([{ at: '2026-01-01T00:00:00.000Z', who: 'u@h', action: 'push', files: 2, deleted: 0, bytes: 9, paths: ['a/b', 'c'] }]);
  again.update([], ['c']);
  expect([...again.records().keys()]).toEqual(['a/b']);
  again.close();
});

test('a missing database is not created unless asked', () => {
  expect(() => TrackDb.open(path.join(dir, 'none.db'))).toThrow(expect.objectContaining({ code: 'FCP_ERR_TRACK_STATE' }));
});

test('a file that is not a database is FCP_ERR_TRACK_STATE, pointing at repair', () => {
  const file = path.join(dir, 'track.db');
  fs.writeFileSync(file, 'not a database at all, but long enough to have a header'.repeat(100));
  expect(() => TrackDb.open(file)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TRACK_STATE', hint: expect.stringContaining('repair') }));
});

test('a database of a newer schema is refused, not migrated backwards', () => {
  const file = path.join(dir, 'track.db');
  const raw = new Database(file);
  raw.pragma(`user_version = ${TRACK_SCHEMA_VERSION + 1}`);
  raw.close();
  expect(() => TrackDb.open(file)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TRACK_STATE', message: expect.stringContaining('newer') }));
});

const chunks = (...values: number[]): Buffer => Buffer.concat(values.map((v) => Buffer.alloc(CHUNK_HASH_BYTES, v)));

test('chunk hashes: the content read, and the base while it is other content', () => {
  const db = TrackDb.open(path.join(dir, 'track.db'), true);
  const synced = { hash: 'a'.repeat(64), mode: 0o640 };
  db.update([{ ...record, hash: synced.hash, base: synced, chunks: chunks(1, 2, 3) }]);
  expect(db.chunksOf(['a/b', 'none'])).toEqual(new Map([['a/b', { chunkSize: TRACK_CHUNK_SIZE, now: chunks(1, 2, 3), base: chunks(1, 2, 3) }]]));
  // Edited here: the old content's chunks become the base's.
  db.update([{ ...record, hash: 'b'.repeat(64), base: synced, chunks: chunks(1, 9, 3, 4) }]);
  expect(db.chunksOf(['a/b']).get('a/b')).toMatchObject({ now: chunks(1, 9, 3, 4), base: chunks(1, 2, 3) });
  // Touched and read again: the base's stay.
  db.update([{ ...record, hash: 'c'.repeat(64), base: synced, chunks: chunks(7) }]);
  expect(db.chunksOf(['a/b']).get('a/b')).toMatchObject({ now: chunks(7), base: chunks(1, 2, 3) });
  // Pushed (no chunks given: the content is the one read): the base is it.
  db.update([{ ...record, hash: 'c'.repeat(64), base: { hash: 'c'.repeat(64), mode: 0o640 } }]);
  expect(db.chunksOf(['a/b']).get('a/b')).toMatchObject({ now: chunks(7), base: chunks(7) });
  // Another content without its chunks (a record from before schema 2): none known.
  db.update([{ ...record, hash: 'd'.repeat(64), base: { hash: 'e'.repeat(64), mode: 0o640 } }]);
  expect(db.chunksOf(['a/b']).get('a/b')).toMatchObject({ now: null, base: null });
  db.close();
});

test('a schema 1 database is migrated: its records and log kept, chunk hashes unknown, the chunk size recorded', () => {
  const file = path.join(dir, 'track.db');
  const raw = new Database(file);
  raw.exec(`CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL, ctime_ns TEXT NOT NULL, mode INTEGER NOT NULL,
      hash TEXT NOT NULL, base_hash TEXT, base_mode INTEGER, removed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    CREATE TABLE log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, files INTEGER NOT NULL, deleted INTEGER NOT NULL, bytes INTEGER NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO files VALUES ('a/b', 3, '1234567890123456789', '5', ${0o640}, '${'f'.repeat(64)}', NULL, NULL, 0);
    INSERT INTO log (at, who, action, files, deleted, bytes) VALUES ('t', 'u@h', 'pull', 1, 0, 3);`);
  raw.pragma('user_version = 1');
  raw.close();
  const db = TrackDb.open(file);
  expect([...db.records().values()]).toEqual([record]);
  expect(db.log()).toEqual([{ at: 't', who: 'u@h', action: 'pull', files: 1, deleted: 0, bytes: 3, paths: [] }]);
  expect(db.chunksOf(['a/b']).get('a/b')).toEqual({ chunkSize: TRACK_CHUNK_SIZE, now: null, base: null });
  db.close();
  const again = new Database(file);
  expect(again.pragma('user_version', { simple: true })).toBe(TRACK_SCHEMA_VERSION);
  again.close();
});

test('an empty database (schema 0) is migrated to the current schema', () => {
  const file = path.join(dir, 'track.db');
  new Database(file).close();
  TrackDb.open(file).close();
  const raw = new Database(file);
  expect(raw.pragma('user_version', { simple: true })).toBe(TRACK_SCHEMA_VERSION);
  raw.close();
});
