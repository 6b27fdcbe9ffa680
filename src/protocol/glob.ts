/**
 * Shell patterns in one path component, on bytes (names need not be UTF-8): `*` any run of bytes,
 * `?` one byte, `[...]` one byte of a set (`[!...]` or `[^...]` negated, `a-z` ranges), and `\`
 * making the next byte literal. As in a shell, a leading `.` is matched only by a leading `.` in the
 * pattern, and a `[` without its `]` is an ordinary byte. The server expands a PULL's patterns
 * with this and the client checks the names it receives against them (PROTOCOL.md §7.2, E3), so
 * both sides agree on every byte. Written here rather than taken from picomatch or
 * path.matchesGlob: both match strings, not bytes, and know more syntax (braces, `**`) than scp's
 * remote globbing; path.matchesGlob is also experimental in Node 20.
 */
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BACKSLASH = 0x5c;
const BANG = 0x21;
const CARET = 0x5e;
const DASH = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;

/** The end (index after `]`) of the bracket expression opening at `open`, or -1 when it has none. */
function bracketEnd(pattern: Buffer, open: number): number {
  let i = open + 1;
  if (pattern[i] === BANG || pattern[i] === CARET) i++;
  // A `]` right after the opening (or its negation) is a member, not the end.
  if (pattern[i] === CLOSE) i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === BACKSLASH) i++;
    else if (pattern[i] === CLOSE) return i + 1;
  }
  return -1;
}

/** Whether `byte` is in the bracket expression pattern[open, end). */
function inBracket(pattern: Buffer, open: number, end: number, byte: number): boolean {
  let i = open + 1;
  const negated = pattern[i] === BANG || pattern[i] === CARET;
  if (negated) i++;
  let found = false;
  // The expression's own `]` is at end - 1: any `]` before it is a member (first, or escaped).
  while (i < end - 1) {
    let low = pattern[i]!;
    if (low === BACKSLASH) low = pattern[++i]!;
    i++;
    let high = low;
    if (pattern[i] === DASH && i + 1 < end - 1) {
      high = pattern[i + 1] === BACKSLASH ? pattern[i + 2]! : pattern[i + 1]!;
      i += pattern[i + 1] === BACKSLASH ? 3 : 2;
    }
    if (byte >= low && byte <= high) found = true;
  }
  return found !== negated;
}

/** Whether one path component holds a pattern: an unescaped `*`, `?`, or `[` with its `]`. */
export function isGlob(component: Buffer): boolean {
  for (let i = 0; i < component.length; i++) {
    const byte = component[i];
    if (byte === BACKSLASH) i++;
    else if (byte === STAR || byte === QUESTION || (byte === OPEN && bracketEnd(component, i) > 0)) return true;
  }
  return false;
}

/** The components of a '/'-separated path ("" before a leading and after a trailing '/'). */
export function components(path: Buffer): Buffer[] {
  const found: Buffer[] = [];
  for (let start = 0; start <= path.length; ) {
    const slash = path.indexOf(SLASH, start);
    const end = slash < 0 ? path.length : slash;
    found.push(path.subarray(start, end));
    start = end + 1;
  }
  return found;
}

/** Whether any component of `path` holds a pattern. */
export function hasGlob(path: Buffer): boolean {
  return components(path).some(isGlob);
}

/** Whether `name` (one component) matches `pattern`. */
export function matchGlob(pattern: Buffer, name: Buffer): boolean {
  if (name[0] === DOT && pattern[0] !== DOT) return false;
  // Iterative with one backtrack point: the last `*` seen, and where in name it resumes.
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    const byte = pattern[p];
    if (byte === STAR) {
      starP = ++p;
      starN = n;
      continue;
    }
    if (p < pattern.length) {
      const end = byte === OPEN ? bracketEnd(pattern, p) : -1;
      if (end > 0) {
        if (inBracket(pattern, p, end, name[n]!)) {
          p = end;
          n++;
          continue;
        }
      } else {
        const literal = byte === BACKSLASH && p + 1 < pattern.length;
        const want = literal ? pattern[p + 1] : byte;
        if (byte === QUESTION || want === name[n]) {
          p += literal ? 2 : 1;
          n++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    p = starP;
    n = ++starN;
  }
  while (pattern[p] === STAR) p++;
  return p === pattern.length;
}
