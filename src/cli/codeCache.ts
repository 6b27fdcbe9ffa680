/**
 * Loads a command's bundle (dist/fcp.js, dist/fcpd.js) with a V8 code cache, as Node 22's
 * module.enableCompileCache would: the bytecode of what a run compiled is kept in
 * ~/.cache/fcp/<name>-<hash of the bundle's path>.v8cache (XDG_CACHE_HOME honoured; one per
 * installed copy, so that two installs or checkouts run by one user do not replace each other's
 * at every start) and handed to V8 by the next run, which then compiles almost nothing. The
 * cache is used only for the same Node version and the same bundle (its size and mtime: V8
 * itself checks little more than the source's length); anything else, a cache V8 rejects, or one
 * that cannot be read or written, costs only the compile.
 *
 * A cache holds what the runs that wrote it compiled: `fcp --version` compiles less than half of
 * what a copy over SSH does (a cache of 0.5 MB against 1.1 MB), and a copy given the smaller one
 * compiled the rest at every start (18 ms of CPU here). So each run names its kind ("ssh", say)
 * and the cache lists the kinds it was written after: a run of a kind not listed writes it again,
 * with what it compiled added to what it was given (once a kind, not at every exit).
 *
 * This file is not bundled: bin/ requires it from dist/src/cli, and it requires Node's modules only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';

export interface Loaded {
  exports: { run(settled?: (kind: string) => void): void };
  /**
   * Writes the cache when there was none to use, or when it was written after runs of other kinds
   * than `kind` (call once the command has done its work, so that what it compiled is in it).
   */
  save(kind?: string): void;
}

function cacheFile(name: string, bundle: string): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const copy = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
  return path.join(base, 'fcp', `${name}-${copy}.v8cache`);
}

/**
 * The cache's first line names what it was made from: Node's version and the bundle's size and
 * mtime; then the kinds of run it was written after, comma-separated, and a newline.
 */
function keyOf(file: string): string {
  const { size, mtimeMs } = fs.statSync(file);
  return `${process.version} ${size} ${mtimeMs} `;
}

/** Kinds are words (a cache whose list is not is not used): nothing in one can end the first line or split the list. */
const KIND = /^[a-z0-9-]*$/;

interface Cached {
  data: Buffer;
  kinds: string[];
}

function readCache(file: string, key: string): Cached | undefined {
  try {
    const bytes = fs.readFileSync(file);
    const newline = bytes.indexOf(0x0a, key.length);
    if (newline < 0 || bytes.subarray(0, key.length).toString('latin1') !== key) return undefined;
    const kinds = bytes.subarray(key.length, newline).toString('latin1').split(',');
    return kinds.every((kind) => KIND.test(kind)) ? { data: bytes.subarray(newline + 1), kinds } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One level at a time: Node 20's recursive mkdirSync never returns for some paths (under /proc,
 * say), and a cache directory is not worth more than one level of its own.
 */
function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function loadWithCodeCache(bundle: string, name: string): Loaded {
  const source = fs.readFileSync(bundle, 'utf8');
  const key = keyOf(bundle);
  const cache = cacheFile(name, bundle);
  const cached = readCache(cache, key);
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData: cached?.data });
  const loaded = new Module(bundle, require.main);
  loaded.filename = bundle;
  loaded.loaded = true;
  const load = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  load(loaded.exports, Module.createRequire(bundle), loaded, bundle, path.dirname(bundle));
  const save = (kind = ''): void => {
    const used = cached !== undefined && !script.cachedDataRejected;
    if (used && cached.kinds.includes(kind)) return;
    const kinds = used ? [...cached.kinds, kind] : [kind];
    try {
      makeDirectory(path.dirname(path.dirname(cache)));
      makeDirectory(path.dirname(cache));
      // Written aside and renamed: runs that start together never read half a cache.
      const temp = `${cache}.${process.pid}`;
      fs.writeFileSync(temp, Buffer.concat([Buffer.from(`${key}${kinds.join(',')}\n`, 'latin1'), script.createCachedData()]));
      fs.renameSync(temp, cache);
    } catch {
      // A read-only or full home costs the next run its compile, nothing else.
    }
  };
  return { exports: loaded.exports as Loaded['exports'], save };
}
