/**
 * rsync's include/exclude rules (rsync(1), "INCLUDE/EXCLUDE PATTERN RULES"), pure: which entries
 * of a transfer are left out. Rules are tried in order and the first that matches decides; an
 * entry no rule matches is sent. The walk asks about each entry before it descends, so an
 * excluded directory's contents are never looked at (as in rsync).
 *
 * Names are bytes, and so are patterns: `?` is one byte, and a name that is not UTF-8 matches as
 * rsync, which compares bytes, matches it.
 *
 * Pattern forms (rsync's):
 * - a trailing `/` matches directories only; `dir/***` matches the directory `dir` and everything in it;
 * - a leading `/` anchors the pattern at the transfer root (the entry paths the receiver sees);
 * - no `/` (but a trailing one) and no `**`: matched against the last component, at any depth;
 * - otherwise against the whole path, at any depth as a run of trailing components unless anchored
 *   or starting with `**`;
 * - `*` any run of bytes but `/`, `**` any run of bytes `/` included, `?` one byte but `/`,
 *   `[...]` a set (`[!...]`/`[^...]` negated, ranges, `[:class:]`); `\` makes the next byte literal,
 *   but only in a pattern that has a wildcard: without one the pattern is its bytes, `\` included.
 * - rule texts may start with `- ` or `+ ` (exclude, include) whichever option gave them, and a
 *   rule `!` clears the rules before it.
 *
 * The patterns themselves are matched by ./wildmatch.ts (picomatch reads their `[...]` sets; the
 * rest is matched without backtracking, as patterns come from peers too).
 */
import { FcpError } from '../errors';
import { MAX_PATH_BYTES } from '../protocol/constants';
import { showName } from '../showName';
import { matchPath, parsePattern, Pattern, spansSlash } from './wildmatch';

export type RuleKind = 'include' | 'exclude';

export interface FilterRule {
  kind: RuleKind;
  /** The pattern's bytes (without a `- ` or `+ ` prefix). */
  pattern: Buffer;
}

/** A rule as matched: its tokens, and how they apply. */
interface CompiledRule {
  include: boolean;
  dirOnly: boolean;
  /** A leading `/`: the pattern matches from the root, not at any depth. */
  anchored: boolean;
  /** Unanchored and unable to span a `/`: it can match only the last component (rsync matches only that). */
  lastComponent: boolean;
  pattern: Pattern;
  /** `dir/***`: `dir` itself, a directory, matches too. */
  dir: Pattern | undefined;
}

const TRIPLE_STAR_SUFFIX = Buffer.from('/***');
const SLASH = 0x2f;

function ruleError(rule: Buffer, why: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', `bad filter pattern ${showName(rule)}: ${why}`, {
    hint: 'patterns as rsync --exclude takes them: *, **, ?, [...], a leading / anchors, a trailing / matches directories only',
  });
}

function compile(rule: FilterRule): CompiledRule {
  let text = rule.pattern;
  if (text.length === 0) throw ruleError(rule.pattern, 'it is empty');
  if (text.length > MAX_PATH_BYTES) throw ruleError(rule.pattern, `it is longer than ${MAX_PATH_BYTES} bytes`);
  if (text.includes(0)) throw ruleError(rule.pattern, 'it holds a NUL byte');
  const tripleStar = text.length >= TRIPLE_STAR_SUFFIX.length && text.subarray(-TRIPLE_STAR_SUFFIX.length).equals(TRIPLE_STAR_SUFFIX);
  // `dir/***` is `dir/**` and the directory `dir`.
  if (tripleStar) text = text.subarray(0, -1);
  const dirOnly = !tripleStar && text[text.length - 1] === SLASH;
  if (dirOnly) text = text.subarray(0, -1);
  const anchored = text[0] === SLASH;
  if (anchored) text = text.subarray(1);
  if (text.length === 0) throw ruleError(rule.pattern, 'it names no file');
  // `**/x` matches from the root in rsync, which at any depth means the same: `**` covers any prefix.
  const dir = tripleStar ? parsePattern(text.subarray(0, -'/**'.length)) : undefined;
  const pattern = parsePattern(text);
  return { include: rule.kind === 'include', dirOnly, anchored, lastComponent: !anchored && !spansSlash(pattern), pattern, dir };
}

/** An entry's depth below its source: the source itself is 0, what it holds 1, and so on. */
export type Depth = number;

export class PathFilter {
  private readonly compiled: CompiledRule[];

  /**
   * `maxDepth`: --max-depth, the deepest level sent below each source (0: the source only, a
   * directory sent empty; 1: it and what it holds directly, its subdirectories empty; undefined: all).
   */
  constructor(
    readonly rules: readonly FilterRule[],
    readonly maxDepth?: Depth,
  ) {
    this.compiled = rules.map(compile);
  }

  /** Whether the filter leaves anything out: a session without rules or a depth needs no FILTER_RULES. */
  get active(): boolean {
    return this.rules.length > 0 || this.maxDepth !== undefined;
  }

  /**
   * Whether the entry at `relPath` (relative to the transfer root, `/`-separated) is left out. The
   * root itself (an empty path: the directory `src/` stands for in rsync's rule) never is, as in rsync.
   */
  excludes(relPath: string | Buffer, isDir: boolean): boolean {
    if (this.compiled.length === 0 || relPath.length === 0) return false;
    const path = typeof relPath === 'string' ? Buffer.from(relPath) : relPath;
    const nameStart = path.lastIndexOf(SLASH) + 1;
    for (const rule of this.compiled) {
      if (rule.dirOnly && !isDir) continue;
      const matched = rule.lastComponent ? matchPath(rule.pattern, path, false, nameStart) : matchPath(rule.pattern, path, !rule.anchored);
      if (matched || (isDir && rule.dir && matchPath(rule.dir, path, !rule.anchored))) return !rule.include;
    }
    return false;
  }

  /** Whether the walk goes into a directory at `depth` below its source. */
  descends(depth: Depth): boolean {
    return this.maxDepth === undefined || depth < this.maxDepth;
  }
}

const CLEAR_RULE = '!';
const EXCLUDE_PREFIX = '- ';
const INCLUDE_PREFIX = '+ ';

/**
 * Appends one rule text to `rules` as rsync reads an --exclude or --include argument: a `- ` or
 * `+ ` prefix overrides `kind`, and `!` clears the rules so far.
 */
export function addRuleText(rules: FilterRule[], kind: RuleKind, text: Buffer): void {
  const latin1 = text.toString('latin1');
  if (latin1 === CLEAR_RULE) {
    rules.length = 0;
    return;
  }
  if (latin1.startsWith(EXCLUDE_PREFIX)) rules.push({ kind: 'exclude', pattern: text.subarray(EXCLUDE_PREFIX.length) });
  else if (latin1.startsWith(INCLUDE_PREFIX)) rules.push({ kind: 'include', pattern: text.subarray(INCLUDE_PREFIX.length) });
  else rules.push({ kind, pattern: text });
}

/**
 * The rule texts of an --exclude-from or --include-from file, as rsync reads one: a pattern a line
 * (LF or CR LF), blank lines and lines starting with `;` or `#` ignored.
 */
export function ruleLines(content: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  for (let start = 0; start < content.length; ) {
    let end = content.indexOf(0x0a, start);
    if (end < 0) end = content.length;
    let line = content.subarray(start, end);
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (line.length > 0 && line[0] !== 0x3b && line[0] !== 0x23) lines.push(line);
    start = end + 1;
  }
  return lines;
}
