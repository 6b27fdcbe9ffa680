import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { TWO_WAY_SCHEMA_VERSION, TwoWayDb, twoWayDbFile, SyncedPath } from '../../../src/state/twoWayDb';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-twowaydb-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const synced = (p: string): SyncedPath => ({ path: p, hash: 'a'.repeat(64), mode: 0o640, here: { size: 3, mtimeUs: 1_733_354_280_123_456 }, there: { size: 3, mtimeUs: 1_733_354_280_123_457 } });

test('paths survive a reopen, names of any bytes and microsecond times exactly; forgotten paths are gone', () => {
  const file = path.join(dir, 'state', 'pair.db');
  const db = TwoWayDb.open(file);
  const odd = Buffer.from([0x64, 0x2f, 0xff, 0x0a]).toString('latin1');
  db.update([synced('a'), synced(odd), synced('b')]);
  db.update([], ['b']);
  db.close();
  expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const again = TwoWayDb.open(file);
  expect([...again.all().values()].sort((x, y) => (x.path < y.path ? -1 : 1))).toEqual([synced('a'), synced(odd)]);
  again.close();
});

test('a file that is not a database is FCP_ERR_TWO_WAY_STATE, saying it may be removed', () => {
  const file = path.join(dir, 'pair.db');
  fs.writeFileSync(file, 'not a database at all, but long enough to have a header'.repeat(100));
  expect(() => TwoWayDb.open(file)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TWO_WAY_STATE', hint: expect.stringContaining('remove it') }));
});

test('a database of a newer schema is refused', () => {
  const file = path.join(dir, 'pair.db');
  const raw = new Database(file);
  raw.pragma(`user_version = ${TWO_WAY_SCHEMA_VERSION + 1}`);
  raw.close();
  expect(() => TwoWayDb.open(file)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TWO_WAY_STATE', message: expect.stringContaining('newer') }));
});

test('one database per pair, in the given state directory', () => {
  const env = { XDG_STATE_HOME: dir };
  expect(twoWayDbFile('/a', 'h:/b', env)).toMatch(new RegExp(`^${dir}/fcp/two-way/[0-9a-f]{32}\\.db$`));
  expect(twoWayDbFile('/a', 'h:/b', env)).not.toBe(twoWayDbFile('/a', 'h:/c', env));
  expect(twoWayDbFile('/a', 'h:/b', env)).not.toBe(twoWayDbFile('h:/b', '/a', env));
});
