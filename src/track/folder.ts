/**
 * A tracked folder on this machine: finding its root (the directory holding .fcp/), its config
 * (.fcp/config.json: the remote and fcp's connection options), the scan of its files (one lstat
 * each, what .fcpignore and .fcp/ leave out skipped) and the digests of files whose stat changed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { FcpError } from '../errors';
import { PERM_MASK } from '../protocol/constants';
import { loadXxhash, XXHashAPI } from '../protocol/xxhash';
import { CHUNK_HASH_BYTES, TRACK_CHUNK_SIZE } from '../state/trackDb';
import { showName } from '../showName';
import { addRuleText, FilterRule, PathFilter, ruleLines } from '../sync/filter';
import type { SshOptions } from '../client/remoteLauncher';
import type { FileStat } from './status';

export const STATE_DIR = '.fcp';
export const CONFIG_FILE = 'config.json';
export const DB_FILE = 'track.db';
export const IGNORE_FILE = '.fcpignore';
const CONFIG_VERSION = 1;
/** Files digested at once (each with a chunk-sized buffer). */
const DIGESTS_AT_ONCE = 8;

export interface TrackConfig {
  version: typeof CONFIG_VERSION;
  /** [user@]host:/path */
  remote: string;
  /** This clone's id in the remote record. */
  clone: string;
  /** -F, -i, -P, -J, -o, --fcpd-path as init was given them (file names absolute). */
  ssh: Pick<SshOptions, 'configFile' | 'port' | 'identityFiles' | 'jump' | 'options' | 'fcpdPath'>;
}

export function notTracked(from: string): FcpError {
  return new FcpError('FCP_ERR_NOT_TRACKED', `${showName(from)} is not in a tracked folder (no ${STATE_DIR}/ here or above)`, {
    hint: 'run fcp-track init [user@]host:/path in the folder first',
  });
}

/** The root of the tracked folder holding `from`: the nearest directory at or above it with .fcp/config.json. */
export function findRoot(from: string): string {
  for (let dir = nodePath.resolve(from); ; dir = nodePath.dirname(dir)) {
    if (fs.existsSync(nodePath.join(dir, STATE_DIR, CONFIG_FILE))) return dir;
    if (nodePath.dirname(dir) === dir) throw notTracked(from);
  }
}

export function readConfig(root: string): TrackConfig {
  const file = nodePath.join(root, STATE_DIR, CONFIG_FILE);
  try {
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as TrackConfig;
    if (config.version !== CONFIG_VERSION || typeof config.remote !== 'string' || typeof config.clone !== 'string' || typeof config.ssh !== 'object') {
      throw new Error(`not a version ${CONFIG_VERSION} config`);
    }
    return config;
  } catch (err) {
    throw new FcpError('FCP_ERR_TRACK_STATE', `cannot read ${showName(file)}: ${(err as Error).message}`, { hint: `fix it, or remove ${STATE_DIR}/ and run fcp-track init again` });
  }
}

export function writeConfig(root: string, config: Omit<TrackConfig, 'version'>): void {
  const file = nodePath.join(root, STATE_DIR, CONFIG_FILE);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ version: CONFIG_VERSION, ...config }, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** .fcpignore's rules (rsync's patterns, one a line, as --exclude-from reads them), and .fcp/ itself. */
export function ignoreFilter(root: string): PathFilter {
  const rules: FilterRule[] = [{ kind: 'exclude', pattern: Buffer.from(`/${STATE_DIR}/`) }];
  let text: Buffer | undefined;
  try {
    text = fs.readFileSync(nodePath.join(root, IGNORE_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new FcpError('FCP_ERR_IO', `cannot read ${IGNORE_FILE}: ${(err as Error).message}`);
  }
  for (const line of text ? ruleLines(text) : []) addRuleText(rules, 'exclude', line);
  return new PathFilter(rules);
}

export function fileStatOf(stat: fs.BigIntStats): FileStat {
  return { size: Number(stat.size), mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, mode: Number(stat.mode) & PERM_MASK };
}

/** The stat of a regular file at `path` (relative to root), or undefined when there is none. */
export function statIn(root: string, path: string): FileStat | undefined {
  try {
    const stat = fs.lstatSync(nodePath.join(root, path), { bigint: true });
    return stat.isFile() ? fileStatOf(stat) : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new FcpError('FCP_ERR_IO', `cannot read ${showName(path)}: ${(err as Error).message}`);
  }
}

/**
 * The regular files under `dir` (relative to root; '' for all), by relative path, what the ignore
 * filter leaves out skipped (symlinks and special files are not tracked).
 */
export function scanFiles(root: string, filter: PathFilter, dir = ''): Map<string, FileStat> {
  const found = new Map<string, FileStat>();
  const visit = (rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(nodePath.join(root, rel), { withFileTypes: true });
    } catch (err) {
      throw new FcpError('FCP_ERR_IO', `cannot read directory ${showName(rel || '.')}: ${(err as Error).message}`);
    }
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!filter.excludes(path, true)) visit(path);
      } else if (entry.isFile() && !filter.excludes(path, false)) {
        const stat = statIn(root, path);
        if (stat) found.set(path, stat);
      }
    }
  };
  visit(dir);
  return found;
}

/** The sha256 of a file (hex). */
export function hashFile(file: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (data) => hash.update(data))
      .on('error', (err) => reject(new FcpError('FCP_ERR_IO', `cannot read ${showName(file)}: ${err.message}`)))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** A file's content as the database keeps it: its sha256 (hex) and the xxh64 of each chunk. */
export interface Digest {
  hash: string;
  chunks: Buffer;
}

/** Reads a file once, a chunk at a time, into its Digest. */
async function digestFile(xxh: XXHashAPI, file: string, buffer: Buffer): Promise<Digest> {
  const sha = createHash('sha256');
  const chunks: Buffer[] = [];
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'r');
    for (;;) {
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      const chunk = buffer.subarray(0, filled);
      sha.update(chunk);
      const hash = Buffer.alloc(CHUNK_HASH_BYTES);
      hash.writeBigUInt64BE(xxh.h64Raw(chunk, 0n));
      chunks.push(hash);
      if (filled < buffer.length) break;
    }
  } catch (err) {
    throw new FcpError('FCP_ERR_IO', `cannot read ${showName(file)}: ${(err as Error).message}`);
  } finally {
    await handle?.close();
  }
  return { hash: sha.digest('hex'), chunks: Buffer.concat(chunks) };
}

/**
 * The digests of these files (relative to root), a few at once so that reads overlap in the
 * thread pool while the main thread hashes, `progress(done, total)` after each.
 */
export async function hashFiles(root: string, paths: readonly string[], progress: (done: number, total: number) => void): Promise<Map<string, Digest>> {
  const digests = new Map<string, Digest>();
  if (paths.length === 0) return digests;
  const xxh = await loadXxhash();
  let next = 0;
  const worker = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(TRACK_CHUNK_SIZE);
    while (next < paths.length) {
      const path = paths[next++]!;
      digests.set(path, await digestFile(xxh, nodePath.join(root, path), buffer));
      progress(digests.size, paths.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DIGESTS_AT_ONCE, paths.length) }, worker));
  return digests;
}

export function tempDir(): string {
  return fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fcp-track-'));
}

/** A staging directory that stands for the folder's root there: the root's mode and mtime, which a copy of its contents applies there. */
export function stagingDir(root: string): string {
  const dir = tempDir();
  const stat = fs.statSync(root);
  fs.chmodSync(dir, stat.mode & 0o7777);
  fs.utimesSync(dir, stat.atime, stat.mtime);
  return dir;
}

