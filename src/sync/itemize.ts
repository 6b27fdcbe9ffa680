/**
 * How a sync names what it changed, as rsync does: entry paths relative to the transfer root
 * (for `src/` the contents of src, for `src` src itself), directories with a trailing `/`, the
 * root of a `src/` transfer as `./`, and an itemized line `%i name` (` -> target` for a symlink).
 */
import { showName } from '../showName';

const SLASH = 0x2f;

/** The name of entry path `entry` relative to the transfer root: without its first component when the sources were their contents. */
export function relativeName(entry: Buffer, contents: boolean): Buffer {
  if (!contents) return entry;
  const slash = entry.indexOf(SLASH);
  return slash < 0 ? Buffer.from('.') : entry.subarray(slash + 1);
}

/** The name as rsync lists it: a directory with a trailing slash. */
export function listedName(entry: Buffer, contents: boolean, isDir: boolean): string {
  const name = showName(relativeName(entry, contents));
  return isDir ? `${name}/` : name;
}

/** One line of --itemize-changes. */
export function itemLine(item: string, name: string, target?: Buffer): string {
  return target === undefined ? `${item} ${name}` : `${item} ${name} -> ${showName(target)}`;
}
