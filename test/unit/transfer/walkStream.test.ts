/**
 * The streamed walk (src/transfer/walk.ts WalkStream, feature STREAM): it yields the entries of
 * the whole walk in the same order, holds no more found entries than it was asked to walk ahead,
 * counts files as it finds them, and checks the sources when it is made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { streamSources, walkSources, type Entry } from '../../../src/transfer/walk';

let root: string;
let src: string;
const DIRS = 6;
const FILES_PER_DIR = 50;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-walk-stream-'));
  src = path.join(root, 'src');
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(src, `d${d}`, 'inner');
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), 'x'.repeat(f));
    fs.writeFileSync(path.join(dir, 'deep'), 'deep');
    fs.symlinkSync(`f${d}`, path.join(src, `d${d}`, 'link'));
  }
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const options = { recursive: true, followSymlinks: false, hardLinks: true };
const paths = (entries: readonly Entry[]): string[] => entries.map((entry) => `${entry.kind} ${entry.path.toString()}`);
const FILES = DIRS * (FILES_PER_DIR + 1);
const BYTES = DIRS * ((FILES_PER_DIR * (FILES_PER_DIR - 1)) / 2 + 'deep'.length);

test('taken one by one, walking at most `ahead` entries ahead, the entries are the whole walk in its order', () => {
  const whole = walkSources([Buffer.from(src)], options);
  expect(whole.fileCount).toBe(FILES);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), (ahead) => {
      const walk = streamSources([Buffer.from(src)], options);
      const taken: Entry[] = [];
      let most = 0;
      for (;;) {
        walk.fill(ahead);
        most = Math.max(most, walk.buffered);
        const entry = walk.peek();
        if (!entry) break;
        walk.take();
        taken.push(entry);
      }
      expect(paths(taken)).toEqual(paths(whole.entries));
      // The window: never more found and not taken than asked for.
      expect(most).toBeLessThanOrEqual(ahead);
      expect(walk.buffered).toBe(0);
      expect(walk.complete).toBe(true);
      expect([walk.fileCount, walk.totalBytes]).toEqual([FILES, BYTES]);
    }),
    { numRuns: 20 },
  );
});

test('a walk kept a window ahead past a thousand taken entries (its array is compacted) still yields every entry in order, each once', () => {
  const big = path.join(root, 'big');
  for (let d = 0; d < 3; d++) {
    fs.mkdirSync(path.join(big, `d${d}`), { recursive: true });
    for (let f = 0; f < 1200; f++) fs.writeFileSync(path.join(big, `d${d}`, `f${f}`), '');
  }
  const whole = walkSources([Buffer.from(big)], options);
  for (const ahead of [1, 7, 256]) {
    const walk = streamSources([Buffer.from(big)], options);
    const taken: Entry[] = [];
    for (;;) {
      walk.fill(ahead);
      // What at() shows is what peek() and take() give next.
      const next = walk.at(0);
      const entry = walk.peek();
      if (!entry) break;
      expect(entry).toBe(next);
      walk.take();
      taken.push(entry);
    }
    expect(taken).toHaveLength(1 + 3 * 1201);
    expect(paths(taken)).toEqual(paths(whole.entries));
  }
});

test('the counts grow with the walk and are final once it is complete', () => {
  const walk = streamSources([Buffer.from(src)], options);
  walk.fill(10);
  expect(walk.complete).toBe(false);
  expect(walk.fileCount).toBeLessThan(10);
  walk.finish();
  expect(walk.complete).toBe(true);
  expect(walk.buffered).toBe(1 + DIRS * (FILES_PER_DIR + 4));
  expect(walk.fileCount).toBe(FILES);
});

test('whole() keeps every entry from then on, as --follow and --checksum need', () => {
  const walk = streamSources([Buffer.from(src)], options);
  const listing = walk.whole();
  while (walk.peek()) walk.take();
  expect(paths(listing.entries)).toEqual(paths(walkSources([Buffer.from(src)], options).entries));
  expect(walk.entries).toBe(listing.entries);
});

test('a missing source fails when the walk is made, before anything is walked', () => {
  expect(() => streamSources([Buffer.from(path.join(root, 'missing'))], options)).toThrow(expect.objectContaining({ code: 'FCP_ERR_NOT_FOUND' }));
  expect(() => streamSources([Buffer.from(src)], { ...options, recursive: false })).toThrow(expect.objectContaining({ code: 'FCP_ERR_IS_DIRECTORY' }));
});

test('a source named with trailing slashes gives its entries sources without a doubled slash, and the same entries', () => {
  const sources = (entries: readonly Entry[]): string[] => entries.filter((entry) => entry.kind !== 'dir').map((entry) => (entry as { source: Buffer }).source.toString());
  const plain = walkSources([Buffer.from(src)], options).entries;
  for (const written of [`${src}/`, `${src}///`]) {
    const entries = walkSources([Buffer.from(written)], options).entries;
    expect(paths(entries)).toEqual(paths(plain));
    expect(sources(entries)).toEqual(sources(plain));
    expect(sources(entries).filter((source) => source.includes('//'))).toEqual([]);
  }
});
