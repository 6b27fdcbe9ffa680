/**
 * Small files read whole (src/transfer/smallFile.ts): read once and checked against the walk's
 * lstat, read again between two fstats when they changed since the walk; and read ahead while a
 * push's login waits, within their bounds, stopping when told.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FcpError } from '../../../src/errors';
import { INLINE_MAX } from '../../../src/protocol/constants';
import { readAhead, readSmallFile, SmallFileRead } from '../../../src/transfer/smallFile';
import { streamSources, type Entry } from '../../../src/transfer/walk';

type FileEntry = Extract<Entry, { kind: 'file' }>;

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-small-file-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const options = { recursive: true, followSymlinks: false };
/** The walked entries of `dir`, taken (the walk holds none of them afterwards). */
const walked = (dir: string): Entry[] => {
  const walk = streamSources([Buffer.from(dir)], options);
  const entries: Entry[] = [];
  for (let entry = walk.peek(); entry; entry = walk.peek()) {
    entries.push(entry);
    walk.take();
  }
  return entries;
};
const fileEntry = (file: string): FileEntry => walked(file)[0] as FileEntry;
const read = (entry: FileEntry): SmallFileRead | FcpError => readSmallFile(entry, Buffer.alloc(entry.size));

test('a file as walked: its bytes, not grown', () => {
  const file = path.join(root, 'a');
  fs.writeFileSync(file, 'hello small file');
  expect(read(fileEntry(file))).toEqual({ data: Buffer.from('hello small file'), grew: false });
});

test('rewritten with the same size since the walk: read again, its bytes now', () => {
  const file = path.join(root, 'a');
  fs.writeFileSync(file, 'old bytes');
  fs.utimesSync(file, 1_000_000, 1_000_000);
  const entry = fileEntry(file);
  fs.writeFileSync(file, 'new bytes');
  expect(read(entry)).toEqual({ data: Buffer.from('new bytes'), grew: false });
});

test('appended to since the walk: its walked length, marked grown', () => {
  const file = path.join(root, 'a');
  fs.writeFileSync(file, 'start');
  const entry = fileEntry(file);
  fs.appendFileSync(file, ' and more');
  expect(read(entry)).toEqual({ data: Buffer.from('start'), grew: true });
});

test('shorter than walked: FCP_ERR_SOURCE_CHANGED; gone: FCP_ERR_NOT_FOUND naming it', () => {
  const file = path.join(root, 'a');
  fs.writeFileSync(file, 'longer');
  const entry = fileEntry(file);
  fs.writeFileSync(file, 'short');
  expect(read(entry)).toMatchObject({ code: 'FCP_ERR_SOURCE_CHANGED', message: expect.stringContaining('shrank') });
  fs.rmSync(file);
  const gone = read(entry);
  expect(gone).toBeInstanceOf(FcpError);
  expect(gone).toMatchObject({ code: 'FCP_ERR_NOT_FOUND', message: expect.stringContaining(file) });
});

describe('readAhead', () => {
  const makeTree = (files: number, size: number): void => {
    for (let i = 0; i < files; i++) {
      const dir = path.join(root, `d${i % 3}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(size, i % 251));
    }
  };

  test('small files found ahead carry their bytes; larger ones and directories carry nothing; the walk keeps every entry', async () => {
    makeTree(40, 100);
    fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(INLINE_MAX + 1, 7));
    const walk = streamSources([Buffer.from(root)], options);
    await readAhead(walk, () => false);
    expect(walk.complete).toBe(true);
    const entries: Entry[] = [];
    for (let entry = walk.peek(); entry; entry = walk.peek()) {
      entries.push(entry);
      walk.take();
    }
    const files = entries.filter((entry): entry is FileEntry => entry.kind === 'file');
    expect(files).toHaveLength(41);
    for (const file of files) {
      if (file.size > INLINE_MAX) expect(file.readAhead).toBeUndefined();
      else expect(file.readAhead).toEqual({ data: fs.readFileSync(file.source.toString()), grew: false });
    }
  });

  test('stops when told: nothing is walked or read once the login is over', async () => {
    makeTree(40, 100);
    const walk = streamSources([Buffer.from(root)], options);
    await readAhead(walk, () => true);
    expect(walk.buffered).toBe(0);
  });
});
