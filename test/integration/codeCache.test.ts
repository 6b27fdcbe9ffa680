/**
 * The commands' V8 code cache works across runs: a copy leaves a cache that the next start takes
 * (and so has nothing to write). V8 stamps a cache with a hash of its flags: one made after fcp set
 * --expose-gc (its memory governor) was rejected by every next start, which compiled the whole
 * bundle again and wrote the cache again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

const temp = useTempDirs();

/** A work directory with a source file, and a copy of it that must end well (no signal) using the cache under `cacheHome`. */
function copier(label: string, content: string): { cacheHome: string; copy(name: string): Promise<void> } {
  const work = temp.make(label);
  const cacheHome = path.join(work, 'cache');
  fs.writeFileSync(path.join(work, 'source'), content);
  const copy = async (name: string): Promise<void> => {
    const run = await runFcp([path.join(work, 'source'), path.join(work, name)], { env: { XDG_CACHE_HOME: cacheHome } });
    expect({ code: run.code, signal: run.signal, run: describeRun(run) }).toEqual({ code: 0, signal: null, run: describeRun(run) });
    expect(fs.readFileSync(path.join(work, name), 'utf8')).toBe(content);
  };
  return { cacheHome, copy };
}

test('the cache a copy leaves is taken by the next copy, which writes none', async () => {
  const { cacheHome, copy } = copier('fcp-code-cache', 'one byte or a few');
  await copy('first');
  const [cache, ...others] = fs.readdirSync(path.join(cacheHome, 'fcp')).filter((name) => name.startsWith('fcp-'));
  expect(others).toEqual([]);
  const file = path.join(cacheHome, 'fcp', cache!);
  const written = fs.readFileSync(file);
  // A cache the next start rejected would be written again, with other bytes (another run's code).
  fs.utimesSync(file, new Date(0), new Date(0));
  await copy('second');
  expect(fs.statSync(file).mtimeMs).toBe(0);
  expect(fs.readFileSync(file).equals(written)).toBe(true);
});

test('a cache with changed bytes is passed over and written again (V8 does not check them: Node 20 aborted on it)', async () => {
  const { cacheHome, copy } = copier('fcp-code-cache-spoilt', 'a few bytes');
  await copy('first');
  const [cache] = fs.readdirSync(path.join(cacheHome, 'fcp')).filter((name) => name.startsWith('fcp-'));
  const file = path.join(cacheHome, 'fcp', cache!);
  const good = fs.readFileSync(file);
  const code = good.indexOf(0x0a, good.indexOf(0x0a) + 1) + 1;
  const spoilt = Buffer.from(good);
  for (let i = code + 200; i < spoilt.length; i += 997) spoilt[i]! ^= 0x5a;
  fs.writeFileSync(file, spoilt);
  await copy('second');
  const rewritten = fs.readFileSync(file);
  expect(rewritten.equals(spoilt)).toBe(false);
  expect(rewritten.length).toBeGreaterThan(10_000);
});

test('a cache first written by fcp --version is written again by the first copy, with what a copy compiles, and then kept', async () => {
  const { cacheHome, copy } = copier('fcp-code-cache-version-first', 'a byte');
  const version = await runFcp(['--version'], { env: { XDG_CACHE_HOME: cacheHome } });
  expect(version.code).toBe(0);
  const [cache] = fs.readdirSync(path.join(cacheHome, 'fcp')).filter((name) => name.startsWith('fcp-'));
  const file = path.join(cacheHome, 'fcp', cache!);
  const versions = fs.readFileSync(file);
  await copy('first');
  const copies = fs.readFileSync(file);
  expect(copies.length).toBeGreaterThan(versions.length);
  fs.utimesSync(file, new Date(0), new Date(0));
  await copy('second');
  expect(fs.statSync(file).mtimeMs).toBe(0);
});
