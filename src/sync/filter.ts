/**
 * rsync's include/exclude rules (rsync(1), "INCLUDE/EXCLUDE PATTERN RULES"), pure: which entries
 * of a transfer are left out. Rules are tried in order and the first that matches decides; an
 * entry no rule matches is sent. The walk asks about each entry before it descends, so an
 * excluded directory's contents are never looked at (as in rsync).
 *
 * Names are bytes. Patterns and paths are matched as latin1 strings (one character per byte), so
 * `?` is one byte and a name that is not UTF-8 matches as rsync, which compares bytes, matches it.
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
 * picomatch compiles each run of a component between `**`s. Where rsync differs from it:
 * - picomatch's `**` is a globstar only as a whole component and `a/**\/b` also matches `a/b`; in
 *   rsync `**` anywhere is any run of bytes (`a/**\/b` needs a component between), so the pattern
 *   is split at `**` here and joined with `.*`;
 * - picomatch reads `(`, `)`, `{`, `}`, `|`, `+`, `@`, `!`, `,`, `$`, `^` as syntax (extglobs,
 *   braces, negation); rsync reads them as bytes, so outside a `[...]` set they are escaped first;
 * - picomatch's `*` skips a leading `.` unless `dot`: set, as rsync's `*` matches `.git`.
 */
import picomatch from 'picomatch';
import { FcpError } from '../errors';
import { MAX_PATH_BYTES } from '../protocol/constants';
import { showName } from '../showName';

export type RuleKind = 'include' | 'exclude';

export interface FilterRule {
  kind: RuleKind;
  /** The pattern's bytes (without a `- ` or `+ ` prefix). */
  pattern: Buffer;
}

/** A pattern as compiled: what it is tested against and how. */
interface CompiledRule {
  include: boolean;
  dirOnly: boolean;
  /** `dir/***`: also matches the directory itself. */
  withDir: RegExp | undefined;
  regex: RegExp;
}

const PICOMATCH_OPTIONS: picomatch.PicomatchOptions = {
  dot: true,
  nobrace: true,
  noextglob: true,
  nonegate: true,
  noglobstar: true,
  posix: true,
  fastpaths: false,
};

/** Bytes that are syntax to picomatch but ordinary to rsync (outside a `[...]` set). */
const PICOMATCH_ONLY_SYNTAX = new Set('(){}|+@!,$^');
const WILDCARDS = /[*?[]/;
const TRIPLE_STAR_SUFFIX = '/***';
const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

/** The end (index after `]`) of the set opening at `open` in an rsync pattern, or -1. */
function setEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern.startsWith('[:', i)) {
      const close = pattern.indexOf(':]', i + 2);
      if (close >= 0) i = close + 1;
    } else if (pattern[i] === ']') return i + 1;
  }
  return -1;
}

/** `piece` (no `/`, no `**`) with the bytes picomatch would read as syntax escaped. */
function escapeForPicomatch(piece: string): string {
  let out = '';
  for (let i = 0; i < piece.length; i++) {
    const c = piece[i]!;
    if (c === '\\') {
      out += piece.slice(i, i + 2);
      i++;
    } else if (c === '[' && setEnd(piece, i) > 0) {
      const end = setEnd(piece, i);
      out += piece.slice(i, end);
      i = end - 1;
    } else {
      out += PICOMATCH_ONLY_SYNTAX.has(c) || c === '[' ? `\\${c}` : c;
    }
  }
  return out;
}

/** The regex source of one run of a component between `**`s. */
function pieceSource(piece: string): string {
  if (piece === '') return '';
  // picomatch lets a pattern ending in a wildcard match one trailing `/`; within a joined pattern that is noise.
  return picomatch.parse(escapeForPicomatch(piece), PICOMATCH_OPTIONS).output.replace(/\\\/\?$/, '');
}

/** The regex source of a wildcard pattern: components split at `/`, each at runs of `*` of two or more. */
function wildSource(pattern: string): string {
  return pattern
    .split('/')
    .map((component) => component.split(/\*\*+/).map(pieceSource).join('.*'))
    .join('\\/');
}

function bodySource(pattern: string): string {
  return WILDCARDS.test(pattern) ? wildSource(pattern) : pattern.replace(REGEX_SPECIAL, '\\$&');
}

/** The regex matching a whole entry path for `pattern`, anchored or at any depth (rsync's rule_matches). */
function pathRegex(pattern: string, anchored: boolean): RegExp {
  // Unanchored: a run of trailing components (with no `/` in the pattern, the last one). A pattern
  // starting with `**` matches from the root in rsync, the same thing: `**` covers any prefix.
  const prefix = anchored ? '^' : '^(?:.*\\/)?';
  return new RegExp(`${prefix}(?:${bodySource(pattern)})$`, 's');
}

function ruleError(rule: Buffer, why: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', `bad filter pattern ${showName(rule)}: ${why}`, {
    hint: 'patterns as rsync --exclude takes them: *, **, ?, [...], a leading / anchors, a trailing / matches directories only',
  });
}

function compile(rule: FilterRule): CompiledRule {
  let text = rule.pattern.toString('latin1');
  if (text.length === 0) throw ruleError(rule.pattern, 'it is empty');
  if (text.length > MAX_PATH_BYTES) throw ruleError(rule.pattern, `it is longer than ${MAX_PATH_BYTES} bytes`);
  if (text.includes('\0')) throw ruleError(rule.pattern, 'it holds a NUL byte');
  const tripleStar = text.endsWith(TRIPLE_STAR_SUFFIX);
  if (tripleStar) text = `${text.slice(0, -TRIPLE_STAR_SUFFIX.length)}/**`;
  const dirOnly = !tripleStar && text.endsWith('/');
  if (dirOnly) text = text.slice(0, -1);
  const anchored = text.startsWith('/');
  if (anchored) text = text.slice(1);
  if (text.length === 0) throw ruleError(rule.pattern, 'it names no file');
  let regex: RegExp;
  try {
    regex = pathRegex(text, anchored);
  } catch {
    // rsync's [z-a] matches nothing; a backwards range is more likely a mistake than meant.
    throw ruleError(rule.pattern, 'a [...] set in it does not parse (a range that runs backwards?)');
  }
  const withDir = tripleStar ? pathRegex(text.slice(0, -'/**'.length), anchored) : undefined;
  return { include: rule.kind === 'include', dirOnly, withDir, regex };
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
    const path = (typeof relPath === 'string' ? Buffer.from(relPath) : relPath).toString('latin1');
    for (const rule of this.compiled) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(path) || (isDir && rule.withDir?.test(path))) return !rule.include;
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
