import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { TRACK_SCHEMA_VERSION, TrackDb } from '../../../src/state/trackDb';
import type { TrackRecord } from '../../../src/track/status';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-trackdb-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const record: TrackRecord = { path: 'a/b', stat: { size: 3, mtimeNs: 1234567890123456789n, ctimeNs: 5n, mode: 0o640 }, hash: 'f'.repeat(64), base: null, removed: false };

test('records and log survive a reopen; nanosecond times are kept exactly', () => {
  const file = path.join(dir, 'track.db');
  const db = TrackDb.open(file, true);
  db.update([record, { ...record, path: 'c', base: { hash: 'e'.repeat(64), mode: 0o600 }, removed: true }]);
  db.addLog({ at: '2026-01-01T00:00:00.000Z', who: 'u@h', action: 'push', files: 2, deleted: 0, bytes: 9 });
  db.close();
  const again = TrackDb.open(file);
  expect(again.records()).toEqual([record, { ...record, path: 'c', base: { hash: 'e'.repeat(64), mode: 0o600 }, removed: true }]);
  expect(again.log()).toEqual([{ at: '2026-01-01T00:00:00.000Z', who: 'u@h', action: 'push', files: 2, deleted: 0, bytes: 9 }]);
  again.update([], ['c']);
  expect(again.records().map((r) => r.path)).toEqual(['a/b']);
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

test('an empty database (schema 0) is migrated to the current schema', () => {
  const file = path.join(dir, 'track.db');
  new Database(file).close();
  TrackDb.open(file).close();
  const raw = new Database(file);
  expect(raw.pragma('user_version', { simple: true })).toBe(TRACK_SCHEMA_VERSION);
  raw.close();
});
