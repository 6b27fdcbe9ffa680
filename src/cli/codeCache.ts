/**
 * Loads a command's bundle (dist/fcp.js, dist/fcpd.js) with a V8 code cache, as Node 22's
 * module.enableCompileCache would: the bytecode of what a run compiled is kept in
 * ~/.cache/fcp/<name>-<hash of the bundle's path>.v8cache (XDG_CACHE_HOME honoured; one per
 * installed copy, so that two installs or checkouts run by one user do not replace each other's
 * at every start) and handed to V8 by the next run, which then compiles almost nothing. The
 * cache is used only for the same Node binary and the same bundle (its size and mtime: V8
 * itself checks little more than the source's length), and only when its bytes have the SHA-256
 * it was written with: V8 does not check them, and Node 20 aborts (SIGTRAP) on a code cache with
 * a changed byte, which would have stopped every start until the file was removed by hand.
 * Anything else, a cache V8 rejects, or one that cannot be read or written, costs only the compile.
 *
 * A cache holds what the runs that wrote it compiled: `fcp --version` compiles less than half of
 * what a copy over SSH does (a cache of 0.5 MB against 1.1 MB), and a copy given the smaller one
 * compiled the rest at every start (18 ms of CPU here). So each run names its kind ("ssh", say)
 * and the cache lists the kinds it was written after: a run of a kind not listed writes it again,
 * with what it compiled added to what it was given (once a kind, not at every exit).
 *
 * Each cache also names the bundle it belongs to, so that writing one removes those whose bundle is
 * gone (an uninstalled copy, a removed checkout or temporary install: 0.5-1.1 MB each, which
 * nothing else would ever remove).
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

/** What Module.wrap puts before and after a module's source. */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_TAIL = '\n});';

/**
 * The bundle as Module.wrap would make it, in one string: read into a buffer between the
 * wrapper's head and tail. Module.wrap joins three strings, and V8 copies a joined string whole
 * into its heap before it compiles: 4 ms of every start for fcp.js's 1.4 MB (docs/BENCHMARKS.md
 * "Start-up, sixth round"). ASCII (scripts/bundle.ts checks): latin1 makes a one-byte string of
 * it without decoding.
 */
function readWrapped(bundle: string): string {
  const fd = fs.openSync(bundle, 'r');
  try {
    const end = WRAP_HEAD.length + fs.fstatSync(fd).size;
    const bytes = Buffer.allocUnsafeSlow(end + WRAP_TAIL.length);
    bytes.write(WRAP_HEAD, 0, 'latin1');
    let at = WRAP_HEAD.length;
    while (at < end) {
      const read = fs.readSync(fd, bytes, at, end - at, null);
      if (read === 0) break;
      at += read;
    }
    bytes.write(WRAP_TAIL, at, 'latin1');
    return bytes.toString('latin1', 0, at + WRAP_TAIL.length);
  } finally {
    fs.closeSync(fd);
  }
}

function cacheFile(name: string, bundle: string): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const copy = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
  return path.join(base, 'fcp', `${name}-${copy}.v8cache`);
}

/**
 * The cache's first line names what it was made from: Node's version, its binary (path, size and
 * mtime) and the bundle's size and mtime; then the SHA-256 of the code cache, a space, the kinds
 * of run it was written after, comma-separated, and a newline. Its second line is the bundle's
 * path, in hex (any bytes), and a newline; the code cache follows.
 */
function keyOf(file: string): string {
  const { size, mtimeMs } = fs.statSync(file);
  const node = fs.statSync(process.execPath);
  return `${process.version} ${process.arch} ${process.execPath.length} ${process.execPath} ${node.size} ${node.mtimeMs} ${size} ${mtimeMs} `;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
/** The length of a SHA-256 in hex. */
const HASH_CHARS = 64;

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
    const second = bytes.indexOf(0x0a, newline + 1);
    if (newline < key.length + HASH_CHARS + 1 || second < 0 || bytes.toString('latin1', 0, key.length) !== key) return undefined;
    const data = bytes.subarray(second + 1);
    if (bytes.toString('latin1', key.length, key.length + HASH_CHARS + 1) !== `${sha256(data)} `) return undefined;
    const kinds = bytes.toString('latin1', key.length + HASH_CHARS + 1, newline).split(',');
    return kinds.every((kind) => KIND.test(kind)) ? { data, kinds } : undefined;
  } catch {
    return undefined;
  }
}

/** How much of a cache file holds its two header lines (a path is at most 4 KiB, twice that in hex). */
const HEADER_MAX = 9 * 1024;
/** A temporary cache (`.v8cache.PID`) older than this was left by a run that died writing it. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** The bundle a cache file names (its second line), or undefined when it names none (written before caches did). */
function ownerOf(file: string): string | undefined {
  const head = Buffer.alloc(HEADER_MAX);
  const fd = fs.openSync(file, 'r');
  try {
    const read = fs.readSync(fd, head, 0, HEADER_MAX, 0);
    const newline = head.indexOf(0x0a);
    const second = head.indexOf(0x0a, newline + 1);
    if (newline < 0 || second < 0 || second > read) return undefined;
    const hex = head.subarray(newline + 1, second).toString('latin1');
    return /^([0-9a-f]{2})+$/.test(hex) ? Buffer.from(hex, 'hex').toString() : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes the caches in `dir` whose bundle is gone or unnamed, and temporaries left by dead runs; `keep` is the one being written. */
function removeOrphans(dir: string, keep: string): void {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (file === keep) continue;
    try {
      if (/\.v8cache\.\d+$/.test(name)) {
        if (Date.now() - fs.statSync(file).mtimeMs > STALE_TEMP_MS) fs.unlinkSync(file);
        continue;
      }
      if (!name.endsWith('.v8cache')) continue;
      const owner = ownerOf(file);
      if (owner === undefined || !fs.existsSync(owner)) fs.unlinkSync(file);
    } catch {
      // Another run removed or replaced it meanwhile: nothing to do.
    }
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
  const source = readWrapped(bundle);
  const key = keyOf(bundle);
  const cache = cacheFile(name, bundle);
  const cached = readCache(cache, key);
  const script = new vm.Script(source, { filename: bundle, cachedData: cached?.data });
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
      const data = script.createCachedData();
      fs.writeFileSync(temp, Buffer.concat([Buffer.from(`${key}${sha256(data)} ${kinds.join(',')}\n${Buffer.from(bundle).toString('hex')}\n`, 'latin1'), data]));
      fs.renameSync(temp, cache);
      removeOrphans(path.dirname(cache), cache);
    } catch {
      // A read-only or full home costs the next run its compile, nothing else.
    }
  };
  return { exports: loaded.exports as Loaded['exports'], save };
}
