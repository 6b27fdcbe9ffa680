/**
 * The three-way reconcile, checked against a model: fast-check sequences of edits, deletions,
 * pushes and pulls on two clones of one remote, each clone keeping its base as fcp-track does.
 * Invariants: nothing a side changed since its base is ever overwritten without --ours/--theirs;
 * a conflict is reported exactly when both sides changed differently; after a pull then a push
 * with no edits in between, clone and remote agree on every path that was not in conflict.
 */
import fc from 'fast-check';
import { reconcile, reconcileOne, sameVersion, Version, Versions } from '../../../src/track/reconcile';

type Side = Map<string, Version>;
interface Clone { files: Side; base: Side }

const PATHS = ['a', 'b', 'c/d'];
const v = (hash: string, mode = 0o644): Version => ({ hash, mode });
const get = (side: Side, path: string): Version | null => side.get(path) ?? null;
const set = (side: Side, path: string, version: Version | null): void => void (version ? side.set(path, version) : side.delete(path));

function versionsOf(clone: Clone, remote: Side): Versions[] {
  return [...new Set([...clone.files.keys(), ...clone.base.keys(), ...remote.keys()])].map((path) => ({
    path, base: get(clone.base, path), local: get(clone.files, path), remote: get(remote, path),
  }));
}

/** Carries the actions out as push and pull do; returns the conflicts. */
function sync(clone: Clone, remote: Side, command: 'push' | 'pull', resolve?: 'ours' | 'theirs'): string[] {
  const before = versionsOf(clone, remote);
  const actions = reconcile(before, resolve);
  for (const action of actions) {
    const was = before.find((x) => x.path === action.path)!;
    if (action.kind === 'conflict') {
      // Both changed, differently: neither is touched.
      expect(sameVersion(was.local, was.base) || sameVersion(was.remote, was.base) || sameVersion(was.local, was.remote)).toBe(false);
      continue;
    }
    const towardsRemote = action.kind === 'push' || action.kind === 'deleteRemote';
    const towardsLocal = action.kind === 'pull' || action.kind === 'deleteLocal';
    if ((command === 'push' && towardsLocal) || (command === 'pull' && towardsRemote)) continue;
    // Without a resolution, a side is overwritten only when it had not changed since base.
    if (towardsRemote && !resolve) expect(sameVersion(was.remote, was.base)).toBe(true);
    if (towardsLocal && !resolve) expect(sameVersion(was.local, was.base)).toBe(true);
    if (towardsRemote) set(remote, action.path, action.result!);
    if (towardsLocal) set(clone.files, action.path, action.result!);
    set(clone.base, action.path, action.result!);
  }
  return actions.filter((a) => a.kind === 'conflict').map((a) => a.path);
}

type Step =
  | { kind: 'edit'; clone: 0 | 1; path: string; content: string; mode: number }
  | { kind: 'delete'; clone: 0 | 1; path: string }
  | { kind: 'push' | 'pull'; clone: 0 | 1; resolve: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('edit' as const), clone: fc.constantFrom(0 as const, 1 as const), path: fc.constantFrom(...PATHS), content: fc.constantFrom('x', 'y', 'z'), mode: fc.constantFrom(0o644, 0o600) }),
  fc.record({ kind: fc.constant('delete' as const), clone: fc.constantFrom(0 as const, 1 as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constantFrom('push' as const, 'pull' as const), clone: fc.constantFrom(0 as const, 1 as const), resolve: fc.boolean() }),
);

test('sequences of edits on two clones never lose an unseen change, and converge', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const remote: Side = new Map();
      const clones: Clone[] = [{ files: new Map(), base: new Map() }, { files: new Map(), base: new Map() }];
      for (const s of steps) {
        const clone = clones[s.clone]!;
        if (s.kind === 'edit') clone.files.set(s.path, v(s.content, s.mode));
        else if (s.kind === 'delete') clone.files.delete(s.path);
        else sync(clone, remote, s.kind, s.resolve ? (s.kind === 'push' ? 'ours' : 'theirs') : undefined);
      }
      // Each clone: pull then push, no edits between: it and the remote agree but for conflicts.
      for (const clone of clones) {
        const conflicts = [...sync(clone, remote, 'pull'), ...sync(clone, remote, 'push')];
        for (const path of PATHS) if (!conflicts.includes(path)) expect(get(clone.files, path)).toEqual(get(remote, path));
        // And with --theirs nothing is left in conflict.
        sync(clone, remote, 'pull', 'theirs');
        for (const path of PATHS) expect(get(clone.files, path)).toEqual(get(remote, path));
      }
    }),
    { numRuns: 300 },
  );
});

test.each([
  ['unchanged everywhere', v('1'), v('1'), v('1'), undefined],
  ['changed here', v('1'), v('2'), v('1'), 'push'],
  ['deleted here', v('1'), null, v('1'), 'deleteRemote'],
  ['changed there', v('1'), v('1'), v('2'), 'pull'],
  ['deleted there', v('1'), v('1'), null, 'deleteLocal'],
  ['the same change on both sides', v('1'), v('2'), v('2'), 'settle'],
  ['a mode change here', v('1'), v('1', 0o600), v('1'), 'push'],
  ['new here', null, v('1'), null, 'push'],
  ['new there', null, null, v('1'), 'pull'],
  ['changed on both sides', v('1'), v('2'), v('3'), 'conflict'],
  ['changed here, deleted there', v('1'), v('2'), null, 'conflict'],
  ['new on both sides, differently', null, v('2'), v('3'), 'conflict'],
] as [string, Version | null, Version | null, Version | null, string | undefined][])('%s: %s', (_name, base, local, remote, kind) => {
  expect(reconcileOne({ path: 'p', base, local, remote })?.kind).toBe(kind);
});

test('a conflict resolved: ours pushes (or deletes there), theirs pulls (or deletes here)', () => {
  const both = { path: 'p', base: v('1'), local: v('2'), remote: null };
  expect(reconcileOne(both, 'ours')).toEqual({ path: 'p', kind: 'push', result: v('2') });
  expect(reconcileOne(both, 'theirs')).toEqual({ path: 'p', kind: 'deleteLocal', result: null });
});
