/**
 * rsync's include/exclude rules (src/sync/filter.ts): a table of rsync's answers (each checked by
 * hand with rsync 3.x on a tree holding the path), rule parsing, and properties of literal, anchored
 * and first-match rules over random paths of random bytes.
 */
import fc from 'fast-check';
import { addRuleText, FilterRule, PathFilter, RuleKind, ruleLines } from '../../../src/sync/filter';
import { matchPath, parsePattern } from '../../../src/sync/wildmatch';

const rule = (kind: RuleKind, pattern: string | Buffer): FilterRule => ({ kind, pattern: Buffer.from(pattern as string) });
const excluding = (...patterns: string[]): PathFilter => new PathFilter(patterns.map((p) => rule('exclude', p)));

describe('one exclude pattern, as rsync matches it', () => {
  test.each([
    // pattern, entry path, is a directory, excluded
    ['*.tmp', 'src/deep/a.tmp', false, true],
    ['*.tmp', 'src/a.tmpx', false, false],
    ['*', 'src/.git', true, true],
    ['/f', 'f', false, true],
    ['/f', 'a/f', false, false],
    ['/a/f', 'a/f', false, true],
    ['sub/foo', 'x/sub/foo', false, true],
    ['sub/foo', 'x/asub/foo', false, false],
    ['a/*/b', 'a/x/y/b', false, false],
    ['a/**/b', 'a/x/y/b', false, true],
    ['a/**/b', 'a/b', true, false],
    ['**/foo', 'foo', false, false],
    ['**/foo', 'x/y/foo', false, true],
    ['foo**', 'a/foobar/x', false, true],
    ['.git/', 'p/.git', true, true],
    ['.git/', 'p/.git', false, false],
    ['x/***', 'a/x', true, true],
    ['x/***', 'a/x', false, false],
    ['x/***', 'a/x/q/r', false, true],
    ['a?c', 'abc', false, true],
    ['a?c', 'a/c', false, false],
    ['[[:digit:]]*', 'a/9z', false, true],
    ['[!a]*', 'a/az', false, false],
    ['[a-c]x', 'bx', false, true],
    ['[c-a]x', 'bx', false, false],
    ['[]a]', ']', false, true],
    ['(a)', '(a)', false, true],
    ['{a,b}', 'a', false, false],
    ['b\\c', 'b\\c', false, true],
    ['b\\*', 'b*', false, true],
    ['b\\*', 'bx', false, false],
  ])('%s on %s (dir %s): %s', (pattern, path, isDir, excluded) => {
    expect(excluding(pattern).excludes(path, isDir)).toBe(excluded);
  });
});

test('the first rule that matches decides: an include before an exclude keeps one subtree', () => {
  const filter = new PathFilter([rule('include', 'keep/***'), rule('exclude', '*')]);
  expect(filter.excludes('keep', true)).toBe(false);
  expect(filter.excludes('keep/a/b', false)).toBe(false);
  expect(filter.excludes('other', true)).toBe(true);
  expect(filter.excludes('top.txt', false)).toBe(true);
});

test('the transfer root (an empty path) is never excluded, whatever matches everything', () => {
  expect(excluding('**', '*', '/***').excludes('', true)).toBe(false);
  expect(excluding('**').excludes('a', true)).toBe(true);
});

test('names that are not UTF-8 match byte for byte', () => {
  const filter = new PathFilter([rule('exclude', Buffer.from([0xff, 0x3f]))]);
  expect(filter.excludes(Buffer.from([0x61, 0x2f, 0xff, 0x41]), false)).toBe(true);
  expect(filter.excludes(Buffer.from([0x61, 0x2f, 0xfe, 0x41]), false)).toBe(false);
});

describe('rule texts', () => {
  test('- and + prefixes override the option, ! clears the rules so far', () => {
    const rules: FilterRule[] = [];
    addRuleText(rules, 'exclude', Buffer.from('+ keep'));
    addRuleText(rules, 'include', Buffer.from('- drop'));
    expect(rules.map((r) => [r.kind, r.pattern.toString()])).toEqual([['include', 'keep'], ['exclude', 'drop']]);
    addRuleText(rules, 'exclude', Buffer.from('!'));
    expect(rules).toEqual([]);
  });

  test('a file: one pattern a line, CR LF too, blank lines and ; or # comments skipped', () => {
    const lines = ruleLines(Buffer.from('# comment\r\n*.o\r\n\n; other\n/build/\nlast'));
    expect(lines.map(String)).toEqual(['*.o', '/build/', 'last']);
  });

  test.each([
    ['empty', '', 'empty'],
    ['a lone /', '/', 'names no file'],
    ['a NUL', 'a\0b', 'NUL'],
    ['4097 bytes', 'x'.repeat(4097), 'longer than 4096'],
  ])('%s is a usage error', (_label, pattern, why) => {
    let caught: unknown;
    try {
      excluding(pattern);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'FCP_ERR_USAGE', exitCode: 2 });
    expect((caught as Error).message).toContain(why);
  });
});

test('--max-depth: the source is depth 0; a directory at the deepest level is not descended', () => {
  expect(new PathFilter([], 0).descends(0)).toBe(false);
  expect(new PathFilter([], 1).descends(0)).toBe(true);
  expect(new PathFilter([], 1).descends(1)).toBe(false);
  expect(new PathFilter([]).descends(1000)).toBe(true);
  expect(new PathFilter([]).active).toBe(false);
  expect(new PathFilter([], 0).active).toBe(true);
});

test('a pattern that would make a backtracking matcher run for ages is answered at once', () => {
  // A RegExp took 18 s for six `*a` on a 60-byte name; here the work is pattern × path. Bounded by jest's timeout.
  const filter = excluding(`${'*a'.repeat(20)}*b`, `/${'**a'.repeat(20)}**b`);
  expect(filter.excludes(`x/${'a'.repeat(4000)}`, false)).toBe(false);
});

describe('properties', () => {
  test('the matcher agrees with a regular expression built from the same pattern', () => {
    const source = (pattern: string): string =>
      pattern.replace(/\*\*+|\*|\?|[^*?]/g, (t) => (t.startsWith('**') ? '.*' : t === '*' ? '[^/]*' : t === '?' ? '[^/]' : t.replace(/[.\\/]/g, '\\$&')));
    const text = (chars: string[]) => fc.array(fc.constantFrom(...chars), { maxLength: 8 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text(['a', 'b', '/', '*', '?']), text(['a', 'b', '/']), fc.boolean(), (pattern, path, atAnyDepth) => {
        const expected = new RegExp(`^${atAnyDepth ? '(?:.*/)?' : ''}(?:${source(pattern)})$`).test(path);
        expect(matchPath(parsePattern(Buffer.from(pattern)), Buffer.from(path), atAnyDepth)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  // Components of bytes other than `/` and NUL, wildcards and `\` (so that they are literal).
  const component = fc
    .uint8Array({ minLength: 1, maxLength: 6 })
    .map((bytes) => Buffer.from(Array.from(bytes, (b) => (b === 0 || [0x2a, 0x2f, 0x3f, 0x5b, 0x5c].includes(b) ? 0x61 : b))))
    .filter((name) => !['.', '..', '!'].includes(name.toString('latin1')) && !/^[-+] /.test(name.toString('latin1')));
  const path = fc.array(component, { minLength: 1, maxLength: 5 });
  const join = (parts: Buffer[]): Buffer => Buffer.concat(parts.flatMap((part, i) => (i ? [Buffer.from('/'), part] : [part])));

  test('no rules exclude nothing', () => {
    fc.assert(fc.property(path, fc.boolean(), (parts, isDir) => !new PathFilter([]).excludes(join(parts), isDir)));
  });

  test('a literal name excludes exactly the paths whose last component it is', () => {
    fc.assert(
      fc.property(path, component, (parts, name) => {
        const filter = new PathFilter([rule('exclude', name)]);
        expect(filter.excludes(join(parts), false)).toBe(parts[parts.length - 1]!.equals(name));
      }),
    );
  });

  test('an anchored literal path excludes that path only', () => {
    fc.assert(
      fc.property(path, path, (parts, other) => {
        const filter = new PathFilter([rule('exclude', Buffer.concat([Buffer.from('/'), join(parts)]))]);
        expect(filter.excludes(join(parts), true)).toBe(true);
        expect(filter.excludes(join(other), true)).toBe(join(other).equals(join(parts)));
      }),
    );
  });

  test('`*` never crosses a `/`: an anchored `/*` excludes paths of one component only', () => {
    fc.assert(fc.property(path, (parts) => excluding('/*').excludes(join(parts), false) === (parts.length === 1)));
  });

  test('the first rule that matches decides', () => {
    fc.assert(
      fc.property(path, fc.array(fc.constantFrom<RuleKind>('include', 'exclude'), { minLength: 1, maxLength: 4 }), (parts, kinds) => {
        const last = parts[parts.length - 1]!;
        const filter = new PathFilter(kinds.map((kind) => rule(kind, last)));
        expect(filter.excludes(join(parts), false)).toBe(kinds[0] === 'exclude');
      }),
    );
  });
});
