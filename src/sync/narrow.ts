/**
 * A sync narrowed to some paths (fcp --watch's rounds, rsync's --files-from in spirit): the
 * sender lists only those paths (and the directories above them), and the receiver must not take
 * the rest of each directory it hears of for deleted. The receiver's --delete already keeps what
 * the filters exclude, so the narrowing is said as rules in front of the user's: each path and
 * each directory above it included by its exact name, every other name in those directories
 * excluded. Below a narrowed path no narrowing rule matches, and the user's rules decide as in a
 * whole sync. Pure.
 */
import { filterRulesMessage } from './filterWire';
import { FilterRule, PathFilter } from './filter';

const SLASH = 0x2f;
/** Bytes a pattern treats specially: a name holding one cannot be said exactly, and is not narrowed. */
const WILDCARD_BYTES = new Set([0x2a, 0x3f, 0x5b, 0x5c]);

function rule(kind: FilterRule['kind'], ...parts: (string | Buffer)[]): FilterRule {
  return { kind, pattern: Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))) };
}

/**
 * The filter of a sync narrowed to `paths` below directory `under` (both as the receiver names
 * entries, relative to the transfer root: rsync's, without a source's name after a trailing
 * slash; `under` empty for the root itself), the user's rules after the narrowing ones. No paths:
 * nothing below `under` is listed, and nothing deleted. Undefined when the narrowing cannot be said
 * in rules FILTER_RULES carries (a name with a wildcard byte, too many paths): the round is then
 * a whole sync. Not for --delete-excluded, which deletes what rules exclude.
 */
export function narrowedFilter(user: PathFilter | undefined, under: Buffer, paths: readonly Buffer[]): PathFilter | undefined {
  const named = [under, ...paths];
  if (paths.some((path) => path.length === 0) || named.some((path) => path.some((byte) => WILDCARD_BYTES.has(byte)))) return undefined;
  const includes: FilterRule[] = [];
  const excludes: FilterRule[] = [rule('exclude', '/*')];
  const directories = new Set<string>();
  const ancestor = (dir: Buffer): void => {
    if (dir.length === 0 || directories.has(dir.toString('latin1'))) return;
    directories.add(dir.toString('latin1'));
    includes.push(rule('include', '/', dir, '/'));
    excludes.push(rule('exclude', '/', dir, '/*'));
  };
  const full = (path: Buffer): Buffer => (under.length === 0 ? path : Buffer.concat([under, Buffer.of(SLASH), path]));
  for (const path of [under, ...paths.map(full)]) {
    for (let slash = path.indexOf(SLASH); slash >= 0; slash = path.indexOf(SLASH, slash + 1)) ancestor(path.subarray(0, slash));
  }
  ancestor(under);
  for (const path of paths) includes.push(rule('include', '/', full(path)));
  const filter = new PathFilter([...includes, ...excludes, ...(user?.rules ?? [])], user?.maxDepth);
  try {
    filterRulesMessage(filter);
  } catch {
    return undefined;
  }
  return filter;
}
