/**
 * A side of fcp --watch --two-way as the rounds see it: its regular files (by path relative to its
 * directory: latin1 spellings of the bytes, `/`-separated) with size, mtime and permission bits,
 * and each file's version: the recorded one when size and mtime are the recorded ones, else the
 * file's sha256, read here. The same code lists fcp's side and fcpd's (PROTOCOL.md §7.12), each
 * against its own record (state/twoWayDb.ts).
 */
import * as fs from 'node:fs';
import { asFcpError, FcpError } from '../errors';
import { PERM_MASK } from '../protocol/constants';
import { showName } from '../showName';
import type { Recorded } from '../state/twoWayDb';
import { FilterRule, PathFilter } from '../sync/filter';
import { hashFile } from '../track/folder';

/** A file as a side holds it; mtime in microseconds (what a receiver sets: compare.ts sameTime). */
export interface FileState {
  size: number;
  mtimeUs: number;
  mode: number;
}

/** A file with its version's content digest (sha256, hex). */
export type SideFile = FileState & { hash: string };

export interface SideListing {
  files: Map<string, SideFile>;
  /** The side's record: what it held at the last sync, by path. */
  records: Map<string, Recorded>;
  /**
   * false: some entries could not be read (a directory, a file): a path missing from the listing
   * may be there still, and is not taken for deleted.
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

function stateOfStat(stat: fs.BigIntStats): FileState {
  return { size: Number(stat.size), mtimeUs: microseconds(stat.mtimeNs), mode: Number(stat.mode) & PERM_MASK };
}

/** A file's state now (undefined: no regular file there). */
export function stateOf(file: Buffer): FileState | undefined {
  const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return stat?.isFile() ? stateOfStat(stat) : undefined;
}

export const sameState = (a: FileState | undefined, b: FileState | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.size === b.size && a.mtimeUs === b.mtimeUs && a.mode === b.mode;

/** The regular files below `root` the filter leaves in (directories it excludes are not entered). */
export function walkFiles(root: Buffer, filter: PathFilter): { files: Map<string, FileState>; complete: boolean } {
  const found = { files: new Map<string, FileState>(), complete: true };
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
        found.files.set(path, stateOfStat(stat));
      }
    }
  };
  visit('');
  return found;
}

/** The sha256 (hex) of a file; undefined when it is gone. */
export async function digestOf(file: Buffer): Promise<string | undefined> {
  try {
    return await hashFile(file);
  } catch (err) {
    if (!fs.existsSync(file)) return undefined;
    throw asFcpError(err);
  }
}

/** Lists a side: its files, each with its version (read when its stat is not the recorded one), and its record. */
export async function listSide(root: Buffer, filter: PathFilter, records: Map<string, Recorded>): Promise<SideListing> {
  const walked = walkFiles(root, filter);
  const listing: SideListing = { files: new Map(), records, complete: walked.complete };
  for (const [path, state] of walked.files) {
    const recorded = records.get(path);
    if (recorded && recorded.size === state.size && recorded.mtimeUs === state.mtimeUs) {
      listing.files.set(path, { ...state, hash: recorded.hash });
      continue;
    }
    let hash: string | undefined;
    try {
      hash = await digestOf(under(root, path));
    } catch {
      // Unreadable now: not known, so not taken for deleted either.
      listing.complete = false;
    }
    // Gone since the walk: deleted, as far as this listing knows.
    if (hash !== undefined) listing.files.set(path, { ...state, hash });
  }
  return listing;
}
