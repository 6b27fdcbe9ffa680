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
 *
 * fcp --watch --two-way has no one to ask: reconcileTwoWay settles every conflict without losing a
 * version (an edit beats a deletion; two edits are both kept, the one there under a conflict name).
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
  return inPathOrder(versions, (v) => reconcileOne(v, resolve));
}

function inPathOrder<T extends { path: string }>(versions: Iterable<Versions>, one: (v: Versions) => T | undefined): T[] {
  const actions: T[] = [];
  for (const v of versions) {
    const action = one(v);
    if (action) actions.push(action);
  }
  return actions.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** How fcp --watch --two-way settled a conflict: which versions are kept, and where. */
export type TwoWayConflict = 'editOverDelete' | 'bothEdited';

export interface TwoWayAction {
  path: string;
  /**
   * Action kinds but conflict, and keepBoth: both sides edited the path differently; the version
   * there is kept on both sides under a conflict name, and the version here takes the path on both.
   */
  kind: Exclude<ActionKind, 'conflict'> | 'keepBoth';
  /** The conflict this action settles, to report. */
  conflict?: TwoWayConflict;
}

/** What one path needs in a two-way sync, or undefined when nothing; no conflict is left waiting. */
export function reconcileTwoWayOne(v: Versions): TwoWayAction | undefined {
  const action = reconcileOne(v);
  if (!action) return undefined;
  if (action.kind !== 'conflict') return { path: v.path, kind: action.kind };
  // Deleted on one side, edited on the other: the edit is kept (a deletion loses no version by being undone).
  if (v.local === null) return { path: v.path, kind: towardsLocal(v).kind as TwoWayAction['kind'], conflict: 'editOverDelete' };
  if (v.remote === null) return { path: v.path, kind: towardsRemote(v).kind as TwoWayAction['kind'], conflict: 'editOverDelete' };
  // The same content, the modes alone differ: here's mode wins, no content is lost.
  if (v.local.hash === v.remote.hash) return { path: v.path, kind: 'push' };
  return { path: v.path, kind: 'keepBoth', conflict: 'bothEdited' };
}

/** reconcileTwoWayOne for every path, in path order. */
export function reconcileTwoWay(versions: Iterable<Versions>): TwoWayAction[] {
  return inPathOrder(versions, reconcileTwoWayOne);
}
