/**
 * A narrowed sync's filter: exactly the narrowed paths, the directories above them and what the
 * paths hold pass; every other name of those directories is excluded (so --delete keeps it).
 */
import fc from 'fast-check';
import { PathFilter } from '../../../src/sync/filter';
import { narrowedFilter } from '../../../src/sync/narrow';
import { collapse, isBelow } from '../../../src/watch/batcher';

const name = fc.constantFrom('a', 'b', 'c', 'a.b', 'x y');
const relPath = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));

/** What should pass: a path, a directory above one, or something below one. */
function expected(entry: string, paths: string[]): boolean {
  const bytes = Buffer.from(entry);
  return paths.some((path) => path === entry || isBelow(Buffer.from(path), bytes) || isBelow(bytes, Buffer.from(path)));
}

/** Whether the entry is left out: by a rule, or because a directory above it is (the walk never goes in, the receiver never hears of it). */
function leftOut(filter: PathFilter, entry: string, isDir: boolean): boolean {
  const parts = entry.split('/');
  return parts.some((_, i) => filter.excludes(parts.slice(0, i + 1).join('/'), i < parts.length - 1 || isDir));
}

describe('narrowedFilter', () => {
  test('property: the entries it lets through are the paths, the directories above them and what they hold', () => {
    fc.assert(
      fc.property(fc.array(relPath, { maxLength: 5 }), fc.array(relPath, { minLength: 1, maxLength: 20 }), fc.constantFrom('', 'src'), (given, entries, under) => {
        const paths = collapse(given.map((p) => Buffer.from(p))).map(String);
        const filter = narrowedFilter(undefined, Buffer.from(under), paths.map((p) => Buffer.from(p)))!;
        const prefix = under ? `${under}/` : '';
        for (const entry of entries) {
          for (const isDir of [true, false]) {
            // A directory above a path is announced as a directory: only as one must it pass.
            const above = paths.some((path) => isBelow(Buffer.from(path), Buffer.from(entry)));
            if (above && !isDir) continue;
            expect(leftOut(filter, prefix + entry, isDir)).toBe(!expected(entry, paths));
          }
        }
        if (under) expect(filter.excludes(under, true)).toBe(false);
      }),
    );
  });

  test("the user's rules still decide below a narrowed path", () => {
    const user = new PathFilter([{ kind: 'exclude', pattern: Buffer.from('*.tmp') }]);
    const filter = narrowedFilter(user, Buffer.alloc(0), [Buffer.from('d')])!;
    expect(filter.excludes('d/x.tmp', false)).toBe(true);
    expect(filter.excludes('d/x.txt', false)).toBe(false);
    expect(filter.excludes('e', false)).toBe(true);
  });

  test('no paths: everything below the root is excluded, so nothing is listed or deleted', () => {
    const filter = narrowedFilter(undefined, Buffer.from('src'), [])!;
    expect(filter.excludes('src', true)).toBe(false);
    expect(filter.excludes('src/a', false)).toBe(true);
    expect(filter.excludes('src/d', true)).toBe(true);
  });

  test('a name a pattern cannot say exactly is not narrowed', () => {
    expect(narrowedFilter(undefined, Buffer.alloc(0), [Buffer.from('a[1].txt')])).toBeUndefined();
    expect(narrowedFilter(undefined, Buffer.alloc(0), [Buffer.from('d/*')])).toBeUndefined();
  });
});
