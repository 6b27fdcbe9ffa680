/** --remove-source-files removes a source only while it is what was walked (src/transfer/sourceRemoval.ts). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inodeTag } from '../../../src/transfer/inodeTag';
import { isItsDestination, removeSource } from '../../../src/transfer/sourceRemoval';
import { walkSources } from '../../../src/transfer/walk';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-removal-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The entries walkSources gives for dir/tree, by name. */
function walked(): Map<string, Parameters<typeof removeSource>[0]> {
  const { entries } = walkSources([Buffer.from(path.join(dir, 'tree'))], { recursive: true, followSymlinks: false, hardLinks: true });
  return new Map(entries.flatMap((entry) => (entry.kind === 'dir' ? [] : [[entry.path.toString(), entry] as const])));
}

beforeEach(() => {
  fs.mkdirSync(path.join(dir, 'tree'));
  fs.writeFileSync(path.join(dir, 'tree', 'file'), 'content\n');
  // A whole second: a file put in its place can have the very same mtime.
  fs.utimesSync(path.join(dir, 'tree', 'file'), 1_600_000_000, 1_600_000_000);
  fs.linkSync(path.join(dir, 'tree', 'file'), path.join(dir, 'tree', 'other-name'));
  fs.symlinkSync('file', path.join(dir, 'tree', 'link'));
});

test('a file, another name of it and a symlink, unchanged since the walk, are removed', () => {
  const entries = walked();
  for (const name of ['tree/file', 'tree/other-name', 'tree/link']) expect(removeSource(entries.get(name)!)).toBeUndefined();
  expect(fs.readdirSync(path.join(dir, 'tree'))).toEqual([]);
});

test.each([
  ['written again (another mtime)', (file: string) => fs.utimesSync(file, 1, 1)],
  ['grown', (file: string) => fs.appendFileSync(file, 'more')],
  ['replaced by a directory', (file: string) => (fs.rmSync(file), fs.mkdirSync(file))],
  // The copy renamed over its own source (destination = source): same size and mtime, another inode.
  [
    'replaced by another file of the same size and mtime',
    (file: string) => {
      fs.writeFileSync(`${file}.new`, fs.readFileSync(file));
      fs.utimesSync(`${file}.new`, 1_600_000_000, 1_600_000_000);
      fs.renameSync(`${file}.new`, file);
    },
  ],
])('a file %s since the walk is kept, and the reason is given', (_how, change) => {
  const entries = walked();
  const file = path.join(dir, 'tree', 'file');
  change(file);
  expect(removeSource(entries.get('tree/file')!)).toEqual({ code: 'FCP_ERR_SOURCE_CHANGED', why: expect.stringMatching(/^it is not what was read/) });
  expect(fs.existsSync(file)).toBe(true);
});

test('a source that is gone already counts as removed (rsync: "sender file already removed"); one that cannot be inspected is kept, with why', () => {
  const entries = walked();
  fs.rmSync(path.join(dir, 'tree', 'link'));
  expect(removeSource(entries.get('tree/link')!)).toBeUndefined();
  // A file in its directory's place: the lstat fails with ENOTDIR, which is not a source gone.
  fs.renameSync(path.join(dir, 'tree'), path.join(dir, 'moved'));
  fs.writeFileSync(path.join(dir, 'tree'), 'not a directory');
  expect(removeSource(entries.get('tree/file')!)).toEqual({ code: expect.stringMatching(/^FCP_ERR_/), why: expect.stringMatching(/cannot inspect .*tree\/file/) });
  fs.rmSync(path.join(dir, 'tree'));
  fs.renameSync(path.join(dir, 'moved'), path.join(dir, 'tree'));
});

// Made again by a receiver on this host whose destination is the source (it renews a symlink for
// a sender that removes its sources), or linked again to a copy: another inode under the name.
test.each([
  ['tree/link', (at: string) => (fs.symlinkSync('file', `${at}.new`), fs.renameSync(`${at}.new`, at))],
  ['tree/other-name', (at: string) => (fs.copyFileSync(at, `${at}.new`), fs.renameSync(`${at}.new`, at))],
])('%s made again since the walk, with the same target or content, is kept', (name, remake) => {
  const at = path.join(dir, name);
  // A whole second, set again exactly: only the inode tells the new one from the walked one.
  fs.lutimesSync(at, 1_600_000_000, 1_600_000_000);
  const entries = walked();
  remake(at);
  fs.lutimesSync(at, 1_600_000_000, 1_600_000_000);
  expect(removeSource(entries.get(name)!)).toEqual({ code: 'FCP_ERR_SOURCE_CHANGED', why: expect.stringMatching(/^it is not what was read/) });
  expect(fs.existsSync(at)).toBe(true);
});

test('isItsDestination: the source whose inode tag the receiver sent, on this host', () => {
  const file = path.join(dir, 'tree', 'file');
  const stat = fs.statSync(file, { bigint: true });
  expect(isItsDestination(Buffer.from(file), inodeTag(stat.dev, stat.ino))).toBe(true);
  expect(isItsDestination(Buffer.from(file), inodeTag(stat.dev, stat.ino + 1n))).toBe(false);
  expect(isItsDestination(Buffer.from(path.join(dir, 'gone')), inodeTag(stat.dev, stat.ino))).toBe(false);
});
