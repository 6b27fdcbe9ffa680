import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Recorded, sideDbFile, TWO_WAY_SCHEMA_VERSION, TwoWayDb, twoWayDbFile } from '../../../src/state/twoWayDb';

let dir: string;
let root: Buffer;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-twowaydb-'));
  root = Buffer.from(path.join(dir, 'root'));
  fs.mkdirSync(root);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const recorded = (p: string): Recorded => ({ path: p, hash: 'a'.repeat(64), mode: 0o640, size: 3, mtimeUs: 1_733_354_280_123_456 });
const quiet = (): void => undefined;

test('paths survive a reopen, names of any bytes and microsecond times exactly; forgotten paths are gone', () => {
  const file = path.join(dir, 'state', 'pair.db');
  const db = TwoWayDb.open(file, root, quiet);
  const odd = Buffer.from([0x64, 0x2f, 0xff, 0x0a]).toString('latin1');
  db.update([recorded('a'), recorded(odd), recorded('b')]);
  db.update([], ['b']);
  const pair = db.pairId();
  db.close();
  expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const again = TwoWayDb.open(file, root, quiet);
  expect([...again.all().values()].sort((x, y) => (x.path < y.path ? -1 : 1))).toEqual([recorded('a'), recorded(odd)]);
  expect(again.pairId()).toBe(pair);
  expect(pair).toMatch(/^[0-9a-f]{64}$/);
  again.close();
});

test('a sweep\'s view: rows in a byte-order range, the count, and the paths at given indexes in byte order', () => {
  const db = TwoWayDb.open(path.join(dir, 'state', 'pair.db'), root, quiet);
  const names = ['a', 'a/b', 'a-b', 'a0', 'b', '\u00e9', 'z/y'];
  db.update(names.map(recorded));
  const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')));
  expect(db.count()).toBe(names.length);
  expect(db.pathsAt([0, 2, 5, 7])).toEqual([byBytes[0], byBytes[2], byBytes[5]]);
  const inRange = (lo?: string, hi?: string): string[] => {
    const seen: string[] = [];
    db.eachRecorded((row) => seen.push(row.path), lo, hi);
    return seen;
  };
  expect(inRange()).toEqual(byBytes);
  expect(inRange('a-b', 'b')).toEqual(['a-b', 'a/b', 'a0']);
  expect(inRange('b')).toEqual(['b', 'z/y', '\u00e9']);
  expect(inRange(undefined, 'a/b')).toEqual(['a', 'a-b']);
  db.close();
});

test('a row keeps its device and inode (schema 3), a row without them has none', () => {
  const file = path.join(dir, 'pair.db');
  const db = TwoWayDb.open(file, root, quiet);
  db.update([{ ...recorded('a'), dev: 2049, ino: 2 ** 40 + 7 }, recorded('b')]);
  db.close();
  const again = TwoWayDb.open(file, root, quiet);
  expect(again.all().get('a')).toEqual({ ...recorded('a'), dev: 2049, ino: 2 ** 40 + 7 });
  expect(again.all().get('b')).toEqual(recorded('b'));
  again.close();
});

test('rows are found by device and inode (schema 4: a rename from outside a narrowed listing)', () => {
  const db = TwoWayDb.open(path.join(dir, 'pair.db'), root, quiet);
  db.update([{ ...recorded('a'), dev: 2049, ino: 7 }, { ...recorded('b'), dev: 2050, ino: 7 }, { ...recorded('c'), dev: 2049, ino: 8 }, recorded('d')]);
  expect(db.recordedAs(2049, 7)).toEqual([{ ...recorded('a'), dev: 2049, ino: 7 }]);
  expect(db.recordedAs(2049, 9)).toEqual([]);
  db.close();
});

test('a record opened for another directory under the same name is emptied, and says so', () => {
  const file = path.join(dir, 'pair.db');
  const db = TwoWayDb.open(file, root, quiet);
  db.update([recorded('a')]);
  db.close();
  // Another inode at the same path: a directory made anew (made before the old one goes, so its inode is not reused).
  fs.mkdirSync(path.join(dir, 'elsewhere'));
  fs.rmSync(root, { recursive: true });
  fs.renameSync(path.join(dir, 'elsewhere'), root);
  const said: string[] = [];
  const again = TwoWayDb.open(file, root, (line) => said.push(line));
  expect(again.all().size).toBe(0);
  expect(said.join('\n')).toMatch(/syncs as the first time \(nothing deleted\)/);
  again.close();
});

test('a version 1 database (one per pair, both stats) becomes the record of the side here, its rows kept', () => {
  const file = path.join(dir, 'pair.db');
  const raw = new Database(file);
  raw.exec('CREATE TABLE synced (path BLOB PRIMARY KEY, hash TEXT NOT NULL, mode INTEGER NOT NULL, here_size INTEGER NOT NULL, here_mtime_us INTEGER NOT NULL, there_size INTEGER NOT NULL, there_mtime_us INTEGER NOT NULL) WITHOUT ROWID');
  raw.prepare('INSERT INTO synced VALUES (?, ?, ?, ?, ?, ?, ?)').run(Buffer.from('a'), 'b'.repeat(64), 0o600, 7, 1_000_001, 8, 2_000_002);
  raw.pragma('user_version = 1');
  raw.close();
  const db = TwoWayDb.open(file, root, quiet);
  expect([...db.all().values()]).toEqual([{ path: 'a', hash: 'b'.repeat(64), mode: 0o600, size: 7, mtimeUs: 1_000_001 }]);
  db.close();
});

test('a file that is not a database is FCP_ERR_TWO_WAY_STATE, saying it may be removed', () => {
  const file = path.join(dir, 'pair.db');
  fs.writeFileSync(file, 'not a database at all, but long enough to have a header'.repeat(100));
  expect(() => TwoWayDb.open(file, root, quiet)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TWO_WAY_STATE', hint: expect.stringContaining('remove it') }));
});

test('a database of a newer schema is refused', () => {
  const file = path.join(dir, 'pair.db');
  const raw = new Database(file);
  raw.pragma(`user_version = ${TWO_WAY_SCHEMA_VERSION + 1}`);
  raw.close();
  expect(() => TwoWayDb.open(file, root, quiet)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TWO_WAY_STATE', message: expect.stringContaining('newer') }));
});

test('one record per pair here, one per directory and pair on the other side, in the given state directory', () => {
  const env = { XDG_STATE_HOME: dir };
  expect(twoWayDbFile('/a', 'h:/b', env)).toMatch(new RegExp(`^${dir}/fcp/two-way/[0-9a-f]{32}\\.db$`));
  expect(twoWayDbFile('/a', 'h:/b', env)).not.toBe(twoWayDbFile('/a', 'h:/c', env));
  expect(twoWayDbFile('/a', 'h:/b', env)).not.toBe(twoWayDbFile('h:/b', '/a', env));
  expect(sideDbFile('/b', 'f'.repeat(64), env)).toMatch(new RegExp(`^${dir}/fcp/two-way/sides/[0-9a-f]{32}\\.db$`));
  expect(sideDbFile('/b', 'f'.repeat(64), env)).not.toBe(sideDbFile('/b', 'e'.repeat(64), env));
});
