/** --mkpath: which directory must exist, the ancestors looked at, what is made and what is refused. */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModeFlag } from '../../../src/protocol/constants';
import { resolveDestination } from '../../../src/transfer/destination';
import { ancestors, directoryToMake, makeDirectories, pathsBelow } from '../../../src/transfer/makePath';

const b = (text: string): Buffer => Buffer.from(text);
const texts = (buffers: readonly Buffer[]): string[] => buffers.map((buffer) => buffer.toString());

let work: string;
beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-mkpath-'))));
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

test('the directory to make: DEST itself with a trailing slash or several sources, else the one DEST is in', () => {
  expect(directoryToMake(b('a/b/c'), 0).toString()).toBe('a/b');
  expect(directoryToMake(b('a/b/c/'), 0).toString()).toBe('a/b/c/');
  expect(directoryToMake(b('a/b/c'), ModeFlag.DEST_IS_DIR).toString()).toBe('a/b/c');
  expect(directoryToMake(b('c'), 0).toString()).toBe('.');
  expect(directoryToMake(b('/c'), 0).toString()).toBe('/');
  expect(directoryToMake(b('/x/c//'), ModeFlag.CONTENTS).toString()).toBe('/x/c//');
});

test('ancestors run from the directory itself up to / or ., each with the names below it', () => {
  expect(ancestors(b('/x//y/z/')).map(({ path: p, below }) => [p.toString(), texts(below)])).toEqual([
    ['/x/y/z', []],
    ['/x/y', ['z']],
    ['/x', ['y', 'z']],
    ['/', ['x', 'y', 'z']],
  ]);
  expect(ancestors(b('a/b')).map(({ path: p, below }) => [p.toString(), texts(below)])).toEqual([
    ['a/b', []],
    ['a', ['b']],
    ['.', ['a', 'b']],
  ]);
});

test('each ancestor and the paths below it lead back to the directory, whatever its slashes', () => {
  const name = fc.stringMatching(/^[a-z]{1,3}$/);
  fc.assert(
    fc.property(fc.boolean(), fc.array(name, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 6, maxLength: 6 }), (absolute, names, slashes) => {
      const target = (absolute ? '/' : '') + names.map((n, i) => n + '/'.repeat(slashes[i]!)).join('');
      const clean = (absolute ? '/' : '') + names.join('/');
      for (const { path: base, below } of ancestors(b(target))) {
        const made = pathsBelow(base, below);
        expect((made.at(-1) ?? base).toString()).toBe(clean);
      }
    }),
  );
});

test('makes what is missing, outermost first, and nothing in a dry run', () => {
  fs.mkdirSync(path.join(work, 'a'));
  const target = b(path.join(work, 'a/b/c'));
  expect(texts(makeDirectories(target, true))).toEqual([path.join(work, 'a/b'), path.join(work, 'a/b/c')]);
  expect(fs.readdirSync(path.join(work, 'a'))).toEqual([]);
  expect(texts(makeDirectories(target, false))).toEqual([path.join(work, 'a/b'), path.join(work, 'a/b/c')]);
  expect(fs.statSync(path.join(work, 'a/b/c')).isDirectory()).toBe(true);
  expect(makeDirectories(target, false)).toEqual([]);
});

test('refuses . and .. among the names to make, and a file in the way, before making anything', () => {
  fs.writeFileSync(path.join(work, 'file'), 'x');
  expect(() => makeDirectories(b(`${work}/new/../out`), false)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  expect(() => makeDirectories(b(`${work}/new/./out`), false)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  expect(() => makeDirectories(b(path.join(work, 'file/sub/deeper')), false)).toThrow(expect.objectContaining({ code: 'FCP_ERR_NOT_DIRECTORY' }));
  expect(fs.readdirSync(work)).toEqual(['file']);
  // `..` through directories that exist is the kernel's to resolve, as without --mkpath.
  fs.mkdirSync(path.join(work, 'd'));
  expect(texts(makeDirectories(b(path.join(work, 'd') + '/../e'), false))).toEqual([`${path.join(work, 'd')}/../e`]);
  expect(fs.statSync(path.join(work, 'e')).isDirectory()).toBe(true);
});

test('resolveDestination with MKPATH places entries as if the directories had been there; a dry run makes none', () => {
  const dryRun = resolveDestination(b(path.join(work, 'x/y/')), ModeFlag.MKPATH | ModeFlag.INTO_DIR, true);
  expect(dryRun.isDirectory).toBe(true);
  expect(dryRun.localPath(b('f')).toString()).toBe(path.join(work, 'x/y/f'));
  expect(fs.readdirSync(work)).toEqual([]);
  const asName = resolveDestination(b(path.join(work, 'x/y/c')), ModeFlag.MKPATH | ModeFlag.INTO_DIR, false);
  expect(asName.isDirectory).toBe(false);
  expect(asName.localPath(b('f')).toString()).toBe(path.join(work, 'x/y/c'));
  expect(fs.readdirSync(path.join(work, 'x/y'))).toEqual([]);
  // Without MKPATH a missing parent is still refused.
  expect(() => resolveDestination(b(path.join(work, 'p/q/r')), ModeFlag.INTO_DIR)).toThrow();
});
