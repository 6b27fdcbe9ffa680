/**
 * rsync's wildcard patterns (wildmatch) on bytes, matched in time linear in the path for a given
 * pattern: the pattern is a list of tokens, run as an NFA (the set of pattern positions alive
 * after each byte) rather than by backtracking. Patterns reach fcpd from a peer (FILTER_RULES):
 * a backtracking matcher (a RegExp, as picomatch compiles to) takes seconds to minutes on
 * `*a*a*a*a*a*a*b` against a long name; this takes pattern × path steps at most.
 *
 * picomatch reads the `[...]` sets, where its rules are rsync's: negation with `!` or `^`,
 * ranges, `[:alpha:]` classes, a `]` first being a member. Each set becomes a table of the 256
 * bytes it matches. The rest of its syntax is not rsync's and is not used: its `**` is a globstar
 * only as a whole component (`a/**\/b` also matches `a/b`, where rsync's `**` is any run of
 * bytes), and it reads braces, `(`, `|`, `+`, `@` and `!` as syntax where rsync sees bytes.
 */
import picomatch from 'picomatch';

type Token =
  | { kind: 'byte'; value: number }
  /** `?`: any byte but `/`. */
  | { kind: 'any' }
  /** `[...]`: the bytes it matches (never `/`). */
  | { kind: 'set'; members: Uint8Array }
  /** `*`: any run of bytes but `/`. */
  | { kind: 'star' }
  /** `**` (or more stars): any run of bytes. */
  | { kind: 'starstar' };

export interface Pattern {
  tokens: readonly Token[];
  /** The literal bytes the pattern ends with: a path that does not end with them is no match, found without running the NFA. */
  tail: Buffer;
}

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const BACKSLASH = 0x5c;
const WILDCARD_BYTES = [STAR, QUESTION, OPEN];
const SET_OPTIONS: picomatch.PicomatchOptions = { dot: true, nobrace: true, noextglob: true, nonegate: true, posix: true, fastpaths: false };

/** Whether `pattern` has a wildcard: only then is `\` an escape (rsync's rule). */
export function hasWildcard(pattern: Buffer): boolean {
  return WILDCARD_BYTES.some((byte) => pattern.includes(byte));
}

/** The end (index after `]`) of the set opening at `open`, or -1 when it has none (then `[` is a byte). */
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

/** The bytes a `[...]` set matches: none for one picomatch cannot compile, such as `[z-a]` (rsync's matches nothing either). */
function setMembers(set: string): Uint8Array {
  const regex = picomatch.makeRe(set, SET_OPTIONS);
  const members = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) {
    if (byte !== SLASH && regex.test(String.fromCharCode(byte))) members[byte] = 1;
  }
  return members;
}

/** The tokens of an rsync pattern; a pattern without a wildcard is its bytes, `\` included. */
export function parsePattern(pattern: Buffer): Pattern {
  const tokens = tokensOf(pattern);
  let start = tokens.length;
  while (start > 0 && tokens[start - 1]!.kind === 'byte') start--;
  const tail = Buffer.from(tokens.slice(start).map((token) => (token as { value: number }).value));
  return { tokens, tail };
}

function tokensOf(pattern: Buffer): Token[] {
  if (!hasWildcard(pattern)) return Array.from(pattern, (value): Token => ({ kind: 'byte', value }));
  // One character per byte: set syntax is ASCII, and a set's other bytes stay themselves.
  const text = pattern.toString('latin1');
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const byte = pattern[i]!;
    if (byte === BACKSLASH && i + 1 < pattern.length) {
      tokens.push({ kind: 'byte', value: pattern[++i]! });
    } else if (byte === STAR) {
      let end = i;
      while (pattern[end + 1] === STAR) end++;
      tokens.push({ kind: end > i ? 'starstar' : 'star' });
      i = end;
    } else if (byte === QUESTION) {
      tokens.push({ kind: 'any' });
    } else if (byte === OPEN && setEnd(text, i) > 0) {
      const end = setEnd(text, i);
      tokens.push({ kind: 'set', members: setMembers(text.slice(i, end)) });
      i = end - 1;
    } else {
      tokens.push({ kind: 'byte', value: byte });
    }
  }
  return tokens;
}

/** Whether a match can span a `/`: if not, an unanchored pattern can only match a path's last component. */
export function spansSlash(pattern: Pattern): boolean {
  return pattern.tokens.some((token) => token.kind === 'starstar' || (token.kind === 'byte' && token.value === SLASH));
}

/** Adds the positions reachable without a byte: past each star, which may match nothing. */
function closure(tokens: readonly Token[], alive: Uint8Array): void {
  for (let j = 0; j < tokens.length; j++) {
    const kind = tokens[j]!.kind;
    if (alive[j] && (kind === 'star' || kind === 'starstar')) alive[j + 1] = 1;
  }
}

/** Whether path[from..] ends with `tail` (a loop: cheaper than a subarray per call, and this runs per entry and rule). */
function endsWith(path: Buffer, from: number, tail: Buffer): boolean {
  const offset = path.length - tail.length;
  if (offset < from) return false;
  for (let i = 0; i < tail.length; i++) if (path[offset + i] !== tail[i]) return false;
  return true;
}

/**
 * Whether `pattern` matches the whole of path[from..], or with `atAnyDepth` a run of its trailing
 * components (rsync's unanchored patterns: the match may start after any `/`).
 */
export function matchPath(pattern: Pattern, path: Buffer, atAnyDepth: boolean, from = 0): boolean {
  const { tokens, tail } = pattern;
  if (!endsWith(path, from, tail)) return false;
  let alive = new Uint8Array(tokens.length + 1);
  let next = new Uint8Array(tokens.length + 1);
  alive[0] = 1;
  closure(tokens, alive);
  for (let i = from; i < path.length; i++) {
    const byte = path[i]!;
    next.fill(0);
    for (let j = 0; j < tokens.length; j++) {
      if (!alive[j]) continue;
      const token = tokens[j]!;
      if (token.kind === 'starstar' || (token.kind === 'star' && byte !== SLASH)) next[j] = 1;
      else if (token.kind === 'byte' ? byte === token.value : token.kind === 'any' ? byte !== SLASH : token.kind === 'set' && token.members[byte] === 1) next[j + 1] = 1;
    }
    if (atAnyDepth && byte === SLASH) next[0] = 1;
    closure(tokens, next);
    [alive, next] = [next, alive];
    // Anchored and nothing alive: no later byte revives it.
    if (!atAnyDepth && !alive.includes(1)) return false;
  }
  return alive[tokens.length] === 1;
}
