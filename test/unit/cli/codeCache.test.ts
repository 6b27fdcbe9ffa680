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

function writeBundle(value: string): string {
  const bundle = path.join(dir, 'bundle.js');
  fs.writeFileSync(bundle, `exports.run = () => ${JSON.stringify(value)}; exports.dir = __dirname; exports.path = require('path').sep;`);
  return bundle;
}

test('the cache written after a first load is what the next load of the same bundle gets; a changed bundle is loaded without it', () => {
  const bundle = writeBundle('one');
  const cache = path.join(dir, 'cache', 'fcp', 'test.v8cache');
  const first = loadWithCodeCache(bundle, 'test');
  expect({ run: (first.exports.run as () => string)(), dir: (first.exports as unknown as { dir: string }).dir }).toEqual({ run: 'one', dir });
  expect(fs.existsSync(cache)).toBe(false);
  first.save();
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

test('a cache directory that cannot be made costs nothing but the compile', () => {
  process.env.XDG_CACHE_HOME = '/proc/no-such-dir';
  const loaded = loadWithCodeCache(writeBundle('three'), 'test');
  expect(() => loaded.save()).not.toThrow();
  expect((loaded.exports.run as () => string)()).toBe('three');
});
