/**
 * EntryScope (PROTOCOL.md §7.2, E1..E4): what it admits never breaks a rule, and what an honest
 * sender sends (a pre-order walk of the sources asked for) is always admitted.
 */
import fc from 'fast-check';
import { ModeFlag } from '../../../src/protocol/constants';
import { isGlob, matchGlob } from '../../../src/protocol/glob';
import { namesContents, requestedName } from '../../../src/protocol/paths';
import { EntryKind, EntryScope, requestScope, ScopeOptions } from '../../../src/session/entryScope';
import { numRuns } from '../protocol/fuzzRuns';

type Announced = { kind: EntryKind; path: string };

const component = fc.constantFrom('a', 'b', '.ssh', 'x y', 'é');
/** Sources whose last component is a pattern (`host:dir/*`). */
const pattern = fc.constantFrom('*', '[ab]', '.*', '?');
const arbPath = fc.array(component, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const arbEntry: fc.Arbitrary<Announced> = fc.record({ kind: fc.constantFrom<EntryKind>('dir', 'file', 'symlink'), path: arbPath });
const arbOptions: fc.Arbitrary<ScopeOptions> = fc.record({
  recursive: fc.boolean(),
  singleRoot: fc.boolean(),
  roots: fc.option(fc.array(fc.option(fc.oneof(component, pattern).map((name) => Buffer.from(name)), { nil: undefined }), { minLength: 1, maxLength: 3 }), {
    nil: undefined,
  }),
});

const top = (path: string): string => path.split('/')[0]!;
const parent = (path: string): string | undefined => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : undefined);

/** The entries of `sequence` the scope admits, in order. */
function admitted(options: ScopeOptions, sequence: Announced[]): Announced[] {
  const scope = new EntryScope(options);
  return sequence.filter((entry) => scope.admit(entry.kind, Buffer.from(entry.path)) === undefined);
}

describe('EntryScope admits nothing a rule forbids', () => {
  test('E1..E4 hold for every admitted entry, whatever a peer sends', () => {
    fc.assert(
      fc.property(arbOptions, fc.array(arbEntry, { maxLength: 12 }), (options, sequence) => {
        const ok = admitted(options, sequence);
        const dirs = new Set<string>();
        const chosen = new Set<string>();
        const named = (options.roots ?? []).filter((r): r is Buffer => r !== undefined);
        const exact = new Set(named.filter((r) => !isGlob(r)).map((r) => r.toString()));
        const matched = (name: string): boolean => named.some((r) => isGlob(r) && matchGlob(r, Buffer.from(name)));
        const open = (options.roots ?? []).filter((r) => r === undefined).length;
        for (const entry of ok) {
          if (!options.recursive) expect(entry.kind).not.toBe('dir'); // E1
          const up = parent(entry.path);
          if (up !== undefined) expect(dirs.has(up)).toBe(true); // E2
          if (options.roots && !exact.has(top(entry.path)) && !matched(top(entry.path))) chosen.add(top(entry.path)); // E3
          if (entry.kind === 'dir') dirs.add(entry.path);
        }
        expect(chosen.size).toBeLessThanOrEqual(open);
        if (options.singleRoot) expect(new Set(ok.map((e) => top(e.path))).size).toBeLessThanOrEqual(1); // E4
      }),
      { numRuns: numRuns(500) },
    );
  });

  test('a pattern source admits any number of the names it matches, and no other', () => {
    const scope = requestScope(ModeFlag.RECURSIVE | ModeFlag.DEST_IS_DIR, true, [Buffer.from('/srv/*.txt')]);
    for (const name of ['a.txt', 'b.txt', 'c.txt']) expect(scope.admit('file', Buffer.from(name))).toBeUndefined();
    expect(scope.admit('dir', Buffer.from('d.txt'))).toBeUndefined();
    for (const name of ['.ssh.txt', 'notes.md', '.bashrc']) expect(scope.admit('file', Buffer.from(name))?.code).toBe('FCP_ERR_BAD_PATH');
  });

  test('a refused entry is not recorded: nothing can be placed under a refused directory', () => {
    const scope = new EntryScope({ recursive: true, singleRoot: false, roots: [Buffer.from('a')] });
    expect(scope.admit('dir', Buffer.from('.ssh'))?.code).toBe('FCP_ERR_BAD_PATH');
    expect(scope.admit('file', Buffer.from('.ssh/authorized_keys'))?.code).toBe('FCP_ERR_BAD_PATH');
  });
});

describe('EntryScope admits every honest transfer', () => {
  /** A tree as a pre-order walk under `root`: directories before their contents. */
  const arbWalk = (root: string): fc.Arbitrary<Announced[]> =>
    fc.array(fc.tuple(fc.constantFrom<EntryKind>('dir', 'file', 'symlink'), component), { maxLength: 10 }).map((steps) => {
      const walk: Announced[] = [{ kind: 'dir', path: root }];
      const dirs = [root];
      steps.forEach(([kind, name], i) => {
        const path = `${dirs[i % dirs.length]}/${name}${i}`;
        walk.push({ kind, path });
        if (kind === 'dir') dirs.push(path);
      });
      return walk;
    });

  test('a recursive pull of several sources into a directory, names told or not', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('src', 'data', 'logs'), fc.boolean()), { minLength: 1, maxLength: 3 }), (sources) =>
        fc.assert(
          fc.property(fc.tuple(...sources.map(([name]) => arbWalk(name))), (walks) => {
            // A source named by its path, or by `.` (the server chooses the name).
            const requested = sources.map(([name, told]) => Buffer.from(told ? `/x/${name}/` : '.'));
            const scope = requestScope(ModeFlag.RECURSIVE, true, requested);
            for (const entry of walks.flat()) expect(scope.admit(entry.kind, Buffer.from(entry.path))).toBeUndefined();
          }),
          { numRuns: 20 },
        ),
      ),
      { numRuns: numRuns(20) },
    );
  });

  test('a recursive push to a new name (one root) and a single file', () => {
    fc.assert(
      fc.property(arbWalk('tree'), (walk) => {
        const scope = requestScope(ModeFlag.RECURSIVE, false);
        for (const entry of walk) expect(scope.admit(entry.kind, Buffer.from(entry.path))).toBeUndefined();
      }),
      { numRuns: numRuns(100) },
    );
    expect(requestScope(0, false, [Buffer.from('/srv/f')]).admit('file', Buffer.from('f'))).toBeUndefined();
  });
});

test.each([
  ['a', 'a'],
  ['/srv/wanted.txt', 'wanted.txt'],
  ['dir/', 'dir'],
  ['dir//', 'dir'],
  ['~/x', 'x'],
  ['a/~', '~'],
  ['a/.b', '.b'],
  ['x/...', '...'],
  ['.', undefined],
  ['..', undefined],
  ['a/..', undefined],
  ['/', undefined],
  ['//', undefined],
  ['', undefined],
  ['~', undefined],
  ['~bob', undefined],
  ['~bob/', undefined],
])('requestedName(%j) is %j', (source, name) => {
  expect(requestedName(Buffer.from(source))?.toString()).toBe(name);
});

// rsync's rule (README "Where sources go"): the contents, where the source has no name of its own to create.
test.each([
  ['dir/', true],
  ['dir//', true],
  ['dir/.', true],
  ['dir/..', true],
  ['.', true],
  ['..', true],
  ['~/', true],
  ['dir', false],
  ['dir/.b', false],
  ['x/...', false],
  ['a.', false],
  ['/', false],
  ['~', false],
  ['', false],
])('namesContents(%j) is %j', (source, contents) => {
  expect(namesContents(Buffer.from(source))).toBe(contents);
});
