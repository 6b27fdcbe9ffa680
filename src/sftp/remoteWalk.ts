/**
 * The walk of a pull's sources over SFTP (readdir, lstat; stat with -L), pre-order, in the same
 * shape as the local walk. The server names what is in its directories, so every name it returns
 * passes the checks fcpd's entries pass (PROTOCOL.md §7.2): entry path syntax (checkEntryPath)
 * and the request's scope (EntryScope). A name that fails is skipped and reported, never written.
 */
import * as posixPath from 'node:path/posix';
import type { Stats } from 'ssh2';
import { FcpError } from '../errors';
import { MAX_PATH_BYTES, PERM_MASK } from '../protocol/constants';
import { checkEntryPath, requestedName } from '../protocol/paths';
import type { EntryScope, EntryKind } from '../session/entryScope';
import { showName } from '../showName';
import type { WalkOptions, WalkResult } from '../transfer/walk';
import type { RemoteFs } from './remoteFs';

interface Visit {
  result: WalkResult;
  fs: RemoteFs;
  options: WalkOptions;
  scope: EntryScope;
  /** Real paths of the directories above (for -L loops: SFTP has no inode numbers). */
  ancestors: Set<string>;
}

export async function walkRemote(fs: RemoteFs, sources: string[], options: WalkOptions, scope: EntryScope): Promise<WalkResult> {
  const result: WalkResult = { entries: [], fileCount: 0, totalBytes: 0, skipped: [] };
  for (const source of sources) {
    const stat = options.followSymlinks ? await fs.stat(source) : await fs.lstat(source);
    if (stat.isDirectory() && !options.recursive) {
      throw new FcpError('FCP_ERR_IS_DIRECTORY', `${showName(source)} on ${fs.host} is a directory`, { hint: 'use -r to copy directories' });
    }
    const name = requestedName(Buffer.from(source)) ?? Buffer.from(posixPath.basename(await fs.realpath(source)));
    await visit({ result, fs, options, scope, ancestors: new Set() }, source, name, stat, 0);
  }
  return result;
}

/** Why the server's entry may not be written, or undefined (then the scope has recorded it). */
function refusal(scope: EntryScope, kind: EntryKind, path: Buffer): FcpError | undefined {
  try {
    checkEntryPath(path);
  } catch (err) {
    return err as FcpError;
  }
  if (path.length > MAX_PATH_BYTES) return new FcpError('FCP_ERR_BAD_PATH', `${showName(path)}: path longer than ${MAX_PATH_BYTES} bytes; skipped`);
  return scope.admit(kind, path);
}

/** depth: levels below the source named (--max-depth). */
async function visit(v: Visit, source: string, path: Buffer, stat: Stats, depth: number): Promise<void> {
  const kind: EntryKind | undefined = stat.isSymbolicLink() ? 'symlink' : stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : undefined;
  const skip = (error: FcpError): void => void v.result.skipped.push({ path, error });
  // Before anything that could report the entry: what the rules leave out is no failure.
  if (v.options.filter?.excludes(path, stat.isDirectory())) return;
  if (!kind) return skip(new FcpError('FCP_ERR_IO', `${showName(source)} on ${v.fs.host} is not a regular file, directory or symlink; skipped`));
  const refused = refusal(v.scope, kind, path);
  if (refused) return skip(refused);
  const perm = stat.mode & PERM_MASK;
  const mtimeNs = BigInt(stat.mtime) * 1_000_000_000n;
  try {
    if (kind === 'symlink') {
      v.result.entries.push({ kind, path, source: Buffer.from(source), target: Buffer.from(await v.fs.readlink(source)), mtimeNs });
    } else if (kind === 'file') {
      v.result.entries.push({ kind, path, source: Buffer.from(source), perm, size: stat.size, mtimeNs });
      v.result.fileCount++;
      v.result.totalBytes += stat.size;
    } else {
      await visitDirectory(v, source, path, perm, mtimeNs, depth);
    }
  } catch (err) {
    skip(err as FcpError);
  }
}

async function visitDirectory(v: Visit, source: string, path: Buffer, perm: number, mtimeNs: bigint, depth: number): Promise<void> {
  const real = v.options.followSymlinks ? await v.fs.realpath(source) : source;
  if (v.ancestors.has(real)) throw new FcpError('FCP_ERR_BAD_PATH', `${showName(source)} on ${v.fs.host}: symlink loop, skipped`);
  v.result.entries.push({ kind: 'dir', path, perm, mtimeNs });
  if (v.options.filter && !v.options.filter.descends(depth)) return;
  const names = (await v.fs.readdir(source)).filter((name) => name !== '.' && name !== '..').sort();
  v.ancestors.add(real);
  for (const name of names) {
    const child = `${source.endsWith('/') ? source : `${source}/`}${name}`;
    const childPath = Buffer.concat([path, Buffer.from(`/${name}`)]);
    let stat: Stats;
    try {
      stat = v.options.followSymlinks ? await v.fs.stat(child) : await v.fs.lstat(child);
    } catch (err) {
      v.result.skipped.push({ path: childPath, error: err as FcpError });
      continue;
    }
    await visit(v, child, childPath, stat, depth + 1);
  }
  v.ancestors.delete(real);
}
