/**
 * The V8 code cache bin/ loads the bundles with: the first load runs the bundle and writes a cache
 * that the next load of the same bundle uses; a changed bundle is not given the old cache, and a
 * cache that cannot be written costs nothing but the compile.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadWithCodeCache } from '../../../src/cli/codeCache';

let dir: string;
const saved = process.env.XDG_CACHE_HOME;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-code-cache-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
});
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeBundle(value: string, name = 'bundle.js'): string {
  const bundle = path.join(dir, name);
  fs.writeFileSync(bundle, `exports.run = () => ${JSON.stringify(value)}; exports.dir = __dirname; exports.path = require('path').sep;`);
  return bundle;
}

/** The cache files written so far, by name. */
function caches(): string[] {
  const where = path.join(dir, 'cache', 'fcp');
  return fs.existsSync(where) ? fs.readdirSync(where).sort() : [];
}

test('the cache written after a first load is what the next load of the same bundle gets; a changed bundle is loaded without it', () => {
  const bundle = writeBundle('one');
  const first = loadWithCodeCache(bundle, 'test');
  expect({ run: (first.exports.run as () => string)(), dir: (first.exports as unknown as { dir: string }).dir }).toEqual({ run: 'one', dir });
  expect(caches()).toEqual([]);
  first.save();
  expect(caches()).toEqual([expect.stringMatching(/^test-[0-9a-f]{16}\.v8cache$/)]);
  const cache = path.join(dir, 'cache', 'fcp', caches()[0]!);
  const written = fs.readFileSync(cache);
  expect(written.toString('latin1').startsWith(`${process.version} `)).toBe(true);

  // The same bundle: the cache is used, so there is nothing to save.
  loadWithCodeCache(bundle, 'test').save();
  expect(fs.readFileSync(cache).equals(written)).toBe(true);

  // Another bundle of another length: its key differs, it runs its own code and gets a cache of its own.
  fs.writeFileSync(bundle, 'exports.run = () => "two, longer";');
  const changed = loadWithCodeCache(bundle, 'test');
  expect((changed.exports.run as () => string)()).toBe('two, longer');
  changed.save();
  expect(fs.readFileSync(cache).equals(written)).toBe(false);
});

test('a run of a kind the cache was not written after writes it again, once, with both kinds', () => {
  const bundle = writeBundle('one');
  loadWithCodeCache(bundle, 'test').save();
  const cache = path.join(dir, 'cache', 'fcp', caches()[0]!);
  const header = (): string => fs.readFileSync(cache).toString('latin1').split('\n')[0]!;
  expect(header().endsWith(' ')).toBe(true);

  // A copy over SSH given the cache of a plain run: it writes the cache again, listing both kinds.
  const overSsh = loadWithCodeCache(bundle, 'test');
  expect((overSsh.exports.run as () => string)()).toBe('one');
  overSsh.save('ssh');
  expect(header().endsWith(' ,ssh')).toBe(true);
  const bytes = fs.readFileSync(cache);

  // From then on neither kind writes it.
  loadWithCodeCache(bundle, 'test').save('ssh');
  loadWithCodeCache(bundle, 'test').save();
  expect(fs.readFileSync(cache).equals(bytes)).toBe(true);

  // A cache whose kinds are not words is not used (and so written anew).
  fs.writeFileSync(cache, Buffer.concat([Buffer.from(`${header().replace(/,ssh$/, ',s h')}\n`, 'latin1'), bytes.subarray(bytes.indexOf(0x0a) + 1)]));
  loadWithCodeCache(bundle, 'test').save('ssh');
  expect(header().endsWith(' ssh')).toBe(true);
});

test('two copies of a bundle (two installs) keep a cache each: neither replaces the other\'s', () => {
  const one = writeBundle('one', 'a.js');
  const other = writeBundle('other', 'b.js');
  loadWithCodeCache(one, 'test').save();
  loadWithCodeCache(other, 'test').save();
  const [first, second] = caches().map((name) => fs.readFileSync(path.join(dir, 'cache', 'fcp', name)));
  expect(caches()).toHaveLength(2);
  // Each load of either finds its own cache and has nothing to save.
  loadWithCodeCache(one, 'test').save();
  loadWithCodeCache(other, 'test').save();
  expect(caches().map((name) => fs.readFileSync(path.join(dir, 'cache', 'fcp', name)))).toEqual([first, second]);
});

test('a cache directory that cannot be made costs nothing but the compile', () => {
  process.env.XDG_CACHE_HOME = '/proc/no-such-dir';
  const loaded = loadWithCodeCache(writeBundle('three'), 'test');
  expect(() => loaded.save()).not.toThrow();
  expect((loaded.exports.run as () => string)()).toBe('three');
});

test('writing a cache removes those whose bundle is gone or unnamed (an old format), and temporaries of dead runs; others stay', () => {
  const kept = writeBundle('kept', 'kept.js');
  const gone = writeBundle('gone', 'gone.js');
  loadWithCodeCache(kept, 'test').save();
  loadWithCodeCache(gone, 'test').save();
  expect(caches()).toHaveLength(2);
  const where = path.join(dir, 'cache', 'fcp');
  fs.writeFileSync(path.join(where, 'test-0000000000000000.v8cache'), `${process.version} 1 2 \nnot hex\n`);
  fs.writeFileSync(path.join(where, 'test-1111111111111111.v8cache.4242'), 'half written');
  fs.utimesSync(path.join(where, 'test-1111111111111111.v8cache.4242'), new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
  fs.writeFileSync(path.join(where, 'test-2222222222222222.v8cache.4343'), 'being written now');
  fs.rmSync(gone);
  const third = writeBundle('third', 'third.js');
  loadWithCodeCache(third, 'test').save();
  // The removed bundle's cache, the unnamed one and the old temporary went; the kept bundle's, the new one and a fresh temporary stay.
  const after = caches();
  expect(after.filter((name) => name.endsWith('.v8cache')).map((name) => readOwner(path.join(where, name))).sort()).toEqual([kept, third].sort());
  expect(after.filter((name) => !name.endsWith('.v8cache'))).toEqual(['test-2222222222222222.v8cache.4343']);
  // The kept bundle's cache still loads: nothing to save.
  const keptCache = path.join(where, after.find((name) => name.endsWith('.v8cache') && readOwner(path.join(where, name)) === kept)!);
  const bytes = fs.readFileSync(keptCache);
  loadWithCodeCache(kept, 'test').save();
  expect(fs.readFileSync(keptCache).equals(bytes)).toBe(true);
});

/** The bundle a cache file names on its second line. */
function readOwner(file: string): string {
  const lines = fs.readFileSync(file).toString('latin1').split('\n');
  return Buffer.from(lines[1]!, 'hex').toString();
}

test('a bundle runs as a module would: its own exports, module, require, file and directory, and its lines where they are in the file', () => {
  const bundle = path.join(dir, 'lines.js');
  fs.writeFileSync(bundle, '"use strict";\nmodule.exports.run = () => new Error("here").stack;\nexports.file = __filename;\nexports.sep = require("path").sep;\nexports.strict = (function () { return this; })() === undefined;\n');
  const loaded = loadWithCodeCache(bundle, 'test');
  const exports = loaded.exports as unknown as { run(): string; file: string; sep: string; strict: boolean };
  expect({ file: exports.file, sep: exports.sep, strict: exports.strict }).toEqual({ file: bundle, sep: path.sep, strict: true });
  expect(exports.run().split('\n')[1]).toContain(`${bundle}:2:`);
});
