/**
 * The two sides of fcp --watch --two-way, as the rounds see them: what each holds (its regular
 * files, by path relative to its directory: latin1 spellings of the bytes, `/`-separated, with
 * size, mtime and permission bits), the content digest of a file here, a file's removal. A
 * directory on this machine is walked; a directory on a host is listed by a dry-run sync pulled
 * from its fcpd over the watch's session (every file the sender announces: CopyOptions.onListed),
 * so no message is added to the protocol (PROTOCOL.md §7.12).
 */
import * as fs from 'node:fs';
import { copy, CopyOptions } from '../client/copy';
import { asFcpError, FcpError } from '../errors';
import { PERM_MASK } from '../protocol/constants';
import { showName } from '../showName';
import { FilterRule, PathFilter } from '../sync/filter';
import { hashFile } from '../track/folder';

/** A file as a side holds it; mtime in microseconds (what a receiver sets: compare.ts sameTime). */
export interface FileState {
  size: number;
  mtimeUs: number;
  mode: number;
}

export interface Listing {
  files: Map<string, FileState>;
  /**
   * false: some entries could not be read (a directory here, a file the sender skipped there): a
   * path missing from the listing may be there still, and is not taken for deleted.
   */
  complete: boolean;
}

const SLASH = Buffer.from('/');

/** What no side lists: an interrupted transfer's partial files and their journals and locks (state/partialFile.ts). */
const PARTIAL_RULES: readonly FilterRule[] = [{ kind: 'exclude', pattern: Buffer.from('.*.fcp-part') }, { kind: 'exclude', pattern: Buffer.from('.*.fcp-part.*') }];

/** The user's filters, after the rules that keep partial files out of every listing. */
export function sideFilter(user: PathFilter | undefined): PathFilter {
  return new PathFilter([...PARTIAL_RULES, ...(user?.rules ?? [])], user?.maxDepth);
}

export function microseconds(mtimeNs: bigint): number {
  return Number(mtimeNs / 1000n);
}

/** A directory's path joined with a relative one (latin1 spelling), as bytes. */
export function under(root: Buffer, rel: string): Buffer {
  return rel.length === 0 ? root : Buffer.concat([root, SLASH, Buffer.from(rel, 'latin1')]);
}

/** A directory on this machine: its files now, and each file's state (undefined: none there). */
export function stateOf(file: Buffer): FileState | undefined {
  const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  if (!stat?.isFile()) return undefined;
  return { size: Number(stat.size), mtimeUs: microseconds(stat.mtimeNs), mode: Number(stat.mode) & PERM_MASK };
}

/** The regular files below `root` the filter leaves in (directories it excludes are not entered). */
export function walkFiles(root: Buffer, filter: PathFilter): Listing {
  const found: Listing = { files: new Map(), complete: true };
  const visit = (rel: string): void => {
    let names: Buffer[];
    try {
      names = fs.readdirSync(under(root, rel), { encoding: 'buffer' });
    } catch (err) {
      if (rel.length === 0) throw new FcpError('FCP_ERR_IO', `cannot read ${showName(root)}: ${(err as Error).message}`);
      // Unreadable (not just gone): what it holds is looked at again in the next round.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') found.complete = false;
      return;
    }
    for (const name of names) {
      const path = rel.length === 0 ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
      const stat = fs.lstatSync(under(root, path), { bigint: true, throwIfNoEntry: false });
      if (stat?.isDirectory()) {
        if (!filter.excludes(Buffer.from(path, 'latin1'), true)) visit(path);
      } else if (stat?.isFile() && !filter.excludes(Buffer.from(path, 'latin1'), false)) {
        found.files.set(path, { size: Number(stat.size), mtimeUs: microseconds(stat.mtimeNs), mode: Number(stat.mode) & PERM_MASK });
      }
    }
  };
  visit('');
  return found;
}

/** The sha256 (hex) of a file here; undefined when it is gone. */
export async function digestOf(file: Buffer): Promise<string | undefined> {
  try {
    return await hashFile(file);
  } catch (err) {
    if (!fs.existsSync(file)) return undefined;
    throw asFcpError(err);
  }
}

/**
 * A directory on a host, listed through its fcpd: a dry-run sync of its contents into `here`
 * (which nothing changes), every file the sender announces taken down.
 */
export async function listThere(there: string, here: string, options: CopyOptions): Promise<Listing> {
  const found: Listing = { files: new Map(), complete: true };
  const summary = await copy({
    ...options,
    sources: [`${there}/`],
    destination: `${here}/`,
    recursive: true,
    dryRun: true,
    connections: 1,
    onEvent: undefined,
    onListed: (path, entry) => {
      if (entry.kind === 'file') found.files.set(path.toString('latin1'), { size: entry.size, mtimeUs: microseconds(entry.mtimeNs), mode: entry.perm });
    },
  });
  // An entry the sender could not read is not in the listing: taking it for deleted would delete it here.
  found.complete = summary.errors.length === 0;
  return found;
}
