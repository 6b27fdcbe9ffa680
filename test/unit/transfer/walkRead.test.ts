/**
 * The walk reading small files as it finds them (src/transfer/walk.ts readWhileWalking): a file
 * its directory's listing says is regular is opened, fstat'ed in place of the lstat and read into
 * its entry; the entries are those of a walk that does not read, the bytes held stay within the
 * bound and are released as entries are taken, and what is not a regular file, is left out or is
 * too large is never opened.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INLINE_MAX } from '../../../src/protocol/constants';
import { PathFilter } from '../../../src/sync/filter';
import { openFileReader } from '../../../src/transfer/smallFile';
import { streamSources, type Entry, type OpenFileReader, type WalkOptions } from '../../../src/transfer/walk';

let root: string;
let src: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-walk-read-'));
  src = path.join(root, 'src');
  fs.mkdirSync(path.join(src, 'dir'), { recursive: true });
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(src, 'dir', `f${String(i).padStart(2, '0')}`), `file ${i} `.repeat(i + 1));
  fs.writeFileSync(path.join(src, 'empty'), '');
  fs.writeFileSync(path.join(src, 'large'), Buffer.alloc(INLINE_MAX + 1, 7));
  fs.writeFileSync(path.join(src, 'excluded'), 'left out');
  fs.symlinkSync('dir/f01', path.join(src, 'link'));
  execFileSync('mkfifo', [path.join(src, 'pipe')]);
  fs.chmodSync(path.join(src, 'dir', 'f03'), 0o600);
  fs.utimesSync(path.join(src, 'dir', 'f04'), 1_000_000, 1_234_567.891);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const options: WalkOptions = { recursive: true, followSymlinks: false, filter: new PathFilter([{ kind: 'exclude', pattern: Buffer.from('excluded') }]) };

/** Every entry of the walk, taken one by one with `ahead` found ahead; what the reader was called with; the most bytes held. */
function walked(reader?: OpenFileReader, bound = 0, ahead = 4, more: Partial<WalkOptions> = {}): { entries: Entry[]; opened: string[]; mostHeld: number; heldAfter: number } {
  const walk = streamSources([Buffer.from(src)], { ...options, ...more });
  const opened: string[] = [];
  if (reader) {
    walk.readWhileWalking((fd, entry) => {
      opened.push(entry.path.toString());
      return reader(fd, entry);
    }, bound);
  }
  const entries: Entry[] = [];
  let mostHeld = 0;
  for (;;) {
    walk.fill(ahead);
    mostHeld = Math.max(mostHeld, walk.heldBytes);
    const entry = walk.peek();
    if (!entry) break;
    entries.push(entry);
    walk.take();
  }
  return { entries, opened, mostHeld, heldAfter: walk.heldBytes };
}

const reader = openFileReader((size) => Buffer.alloc(size));
/** An entry as a comparable record: kind, path, and for a file its size, perm, mtime, owner, and what the walk's stat recorded. */
const described = (entry: Entry): unknown => {
  if (entry.kind !== 'file') return { kind: entry.kind, path: entry.path.toString(), mtimeNs: entry.mtimeNs };
  return { kind: 'file', path: entry.path.toString(), size: entry.size, perm: entry.perm, mtimeNs: entry.mtimeNs, ids: entry.ids, ino: entry.walked?.ino, ctimeNs: entry.walked?.ctimeNs };
};

test('the entries of a walk that does not read, each small regular file carrying its bytes', () => {
  const plain = walked();
  const reading = walked(reader, 1 << 20);
  // A file read as it was found no longer holds the walk's stat it was checked against (walked).
  const readFiles = new Set(reading.entries.filter((entry) => entry.kind === 'file' && entry.readAhead !== undefined).map((entry) => entry.path.toString()));
  const withoutCheck = (entry: Entry): unknown => (readFiles.has(entry.path.toString()) ? { ...(described(entry) as object), ino: undefined, ctimeNs: undefined } : described(entry));
  expect(reading.entries.map(described)).toEqual(plain.entries.map(withoutCheck));
  for (const entry of reading.entries) {
    if (entry.kind !== 'file') continue;
    const source = entry.source.toString();
    if (entry.size > INLINE_MAX) expect(entry.readAhead).toBeUndefined();
    else expect(entry.readAhead).toEqual({ data: fs.readFileSync(source), grew: false });
  }
  expect(readFiles.size).toBeGreaterThan(20);
  expect(plain.entries.some((entry) => entry.kind === 'file' && entry.readAhead !== undefined)).toBe(false);
  // The FIFO is skipped as before (never opened: the walk does not hang on it), the symlink stays one.
  expect(reading.entries.find((entry) => entry.path.toString() === 'src/link')?.kind).toBe('symlink');
  expect(reading.entries.some((entry) => entry.path.toString() === 'src/pipe')).toBe(false);
});

// --remove-source-files checks a source's inode before it removes it: a copy renamed over its own
// source (fcp -I to this host) has its size and mtime, and the walk's inode is what tells them apart.
test('with keepsInodes a file read as it was found keeps the stat it was checked against', () => {
  const plain = walked();
  const keeping = walked(reader, 1 << 20, 4, { keepsInodes: true });
  expect(keeping.entries.filter((entry) => entry.kind === 'file' && entry.readAhead !== undefined).length).toBeGreaterThan(20);
  expect(keeping.entries.map(described)).toEqual(plain.entries.map(described));
  const link = keeping.entries.find((entry) => entry.path.toString() === 'src/link');
  expect(link?.kind === 'symlink' && link.ino).toBe(BigInt(fs.lstatSync(path.join(src, 'link')).ino));
});

test('only small regular files are opened: not the symlink, the FIFO, the excluded file or the large one', () => {
  const { opened } = walked(reader, 1 << 20);
  expect(opened.sort()).toEqual([...Array.from({ length: 20 }, (_, i) => `src/dir/f${String(i).padStart(2, '0')}`), 'src/empty']);
});

test('the bytes held stay within the bound and are released as entries are taken', () => {
  const bound = 200;
  const { entries, mostHeld, heldAfter } = walked(reader, bound, 64);
  expect(mostHeld).toBeGreaterThan(0);
  expect(mostHeld).toBeLessThanOrEqual(bound);
  expect(heldAfter).toBe(0);
  // Past the bound files are stat'ed and left to be read when announced.
  expect(entries.some((entry) => entry.kind === 'file' && entry.size <= INLINE_MAX && entry.readAhead === undefined)).toBe(true);
});

test('a file the reader cannot read is an entry all the same, left to be read when announced', () => {
  const { entries } = walked(() => undefined, 1 << 20);
  const files = entries.filter((entry) => entry.kind === 'file');
  expect(files).toHaveLength(22);
  for (const file of files) expect(file.readAhead).toBeUndefined();
});
