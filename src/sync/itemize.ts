/**
 * How a sync names what it changed, as rsync does: entry paths relative to the transfer root
 * (for `src/` the contents of src, for `src` src itself), directories with a trailing `/`, the
 * root of a `src/` transfer as `./`, and an itemized line `%i name` (` -> target` for a symlink,
 * ` => file` for a hard link).
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

/** One line of --itemize-changes: a symlink's target after `->`, a hard link's file after `=>`. */
export function itemLine(item: string, name: string, target?: Buffer): string {
  if (target === undefined) return `${item} ${name}`;
  return `${item} ${name} ${isHardlinkItem(item) ? '=>' : '->'} ${showName(target)}`;
}

/** rsync's `%i` of a hard link: its first letter `h`. */
export function isHardlinkItem(item: string): boolean {
  return item.startsWith('h');
}
