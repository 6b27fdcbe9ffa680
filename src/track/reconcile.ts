/**
 * The three-way reconcile of a tracked folder (and of any two-way sync): for each path, its
 * version at the last sync (base), here (local) and there (remote), decide what moves. Pure: no
 * I/O, no clock; the caller gathers the versions and carries the actions out.
 *
 * Inputs: `Versions` per path. A version is the content digest and the permission bits; null is
 * "absent" (never there, or deleted). base is what both sides held after the last push or pull of
 * that path (null: never synced).
 *
 * Outputs: one `Action` per path that needs anything, in path order:
 * - push / deleteRemote: only here changed since base (there is still base): send it, or delete it there;
 * - pull / deleteLocal: only there changed: fetch it, or delete it here;
 * - settle: both hold the same version, other than base: nothing moves, base becomes it;
 * - conflict: both changed, differently: nothing moves unless `resolve` says whose version wins
 *   ('ours': here wins, push or deleteRemote; 'theirs': there wins, pull or deleteLocal).
 * A path whose three versions agree needs nothing and is left out.
 */

export interface Version {
  /** The content digest (hex). */
  hash: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

export interface Versions {
  path: string;
  base: Version | null;
  local: Version | null;
  remote: Version | null;
}

export type ActionKind = 'push' | 'deleteRemote' | 'pull' | 'deleteLocal' | 'settle' | 'conflict';

export interface Action {
  path: string;
  kind: ActionKind;
  /** The version both sides hold once the action is carried out (null: the path is gone); for a conflict, undefined. */
  result?: Version | null;
}

export type Resolution = 'ours' | 'theirs';

export function sameVersion(a: Version | null, b: Version | null): boolean {
  if (a === null || b === null) return a === b;
  return a.hash === b.hash && a.mode === b.mode;
}

function towardsRemote(v: Versions): Action {
  return v.local === null ? { path: v.path, kind: 'deleteRemote', result: null } : { path: v.path, kind: 'push', result: v.local };
}

function towardsLocal(v: Versions): Action {
  return v.remote === null ? { path: v.path, kind: 'deleteLocal', result: null } : { path: v.path, kind: 'pull', result: v.remote };
}

/** What one path needs, or undefined when nothing. */
export function reconcileOne(v: Versions, resolve?: Resolution): Action | undefined {
  const localChanged = !sameVersion(v.local, v.base);
  const remoteChanged = !sameVersion(v.remote, v.base);
  if (!localChanged && !remoteChanged) return undefined;
  if (sameVersion(v.local, v.remote)) return { path: v.path, kind: 'settle', result: v.local };
  if (!remoteChanged) return towardsRemote(v);
  if (!localChanged) return towardsLocal(v);
  if (resolve === 'ours') return towardsRemote(v);
  if (resolve === 'theirs') return towardsLocal(v);
  return { path: v.path, kind: 'conflict' };
}

/** The actions of every path, in path order (`resolve` applies to conflicts only). */
export function reconcile(versions: Iterable<Versions>, resolve?: Resolution): Action[] {
  const actions: Action[] = [];
  for (const v of versions) {
    const action = reconcileOne(v, resolve);
    if (action) actions.push(action);
  }
  return actions.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
