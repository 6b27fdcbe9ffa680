/**
 * Directories and symlinks in a round of fcp --watch --two-way, pure (entryKinds.ts): what the
 * plan of reconcileTwoWay becomes once entries have kinds.
 *
 * - A conflict that involves a directory or a symlink (both sides changed the path, to different
 *   versions, one of them not a regular file) is settled by setting one version aside: renamed,
 *   on its own side, to `NAME.conflict-HOST-TIME`; the path then holds one version, which goes to
 *   the other side, and the renamed one goes there too as a new path. A directory never moves
 *   aside (what it holds keeps its paths): against a directory, the other version does; otherwise
 *   the version there does, as for files.
 * - A directory is deleted from a side only when nothing below it stays on either side: a
 *   directory deleted on one side while the other side changed or added something inside is made
 *   again where it was deleted, holding what survives (an edit beats a deletion, as for files).
 * - Each side's removals go deepest first (children before their directory), its directories are
 *   made shallowest first (a directory before what it holds).
 */
import type { TwoWayAction, Version, Versions } from '../track/reconcile';
import { reconcileTwoWayOne } from '../track/reconcile';
import { depthOf, nodeKindOf } from './entryKinds';
import type { SideName } from './twoWayRenames';

export type EntryKind = 'file' | 'dir' | 'symlink';

export const kindOf = (version: Version | null): EntryKind | undefined => (version ? (nodeKindOf(version.mode) ?? 'file') : undefined);

/** A version set aside: renamed on side `on` from `from` to `to` (its conflict name). */
export interface SetAside {
  on: SideName;
  from: string;
  to: string;
}

/** The conflicts a set-aside settles: both sides changed the path differently, and one version is not a regular file. */
export function setAsidesToMake(versions: readonly Versions[], nameOn: (path: string, on: SideName) => string): SetAside[] {
  const out: SetAside[] = [];
  for (const v of versions) {
    if (reconcileTwoWayOne(v)?.kind !== 'keepBoth') continue;
    const here = kindOf(v.local);
    const there = kindOf(v.remote);
    if (here === 'file' && there === 'file') continue;
    const on: SideName = there === 'dir' ? 'here' : 'there';
    out.push({ on, from: v.path, to: nameOn(v.path, on) });
  }
  return out;
}

/** Where an action puts a path's version: the side it changes, and the version it brings (null: deleted). */
export function targetOf(action: TwoWayAction, v: Versions): { on: SideName; version: Version | null } | undefined {
  if (action.kind === 'pull' || action.kind === 'deleteLocal') return { on: 'here', version: v.remote };
  if (action.kind === 'push' || action.kind === 'deleteRemote') return { on: 'there', version: v.local };
  return undefined;
}

/** Whether a path holds an entry once the action is carried out (on both sides: a full round leaves them equal). */
function survives(action: TwoWayAction | undefined, v: Versions): boolean {
  if (!action) return v.local !== null || v.remote !== null;
  if (action.kind === 'deleteLocal' || action.kind === 'deleteRemote') return false;
  return true;
}

/**
 * The plan with each deletion of a directory that something below it survives turned around: the
 * directory is made again on the side that deleted it (reported as an edit kept over a deletion).
 */
export function keepDirsOfSurvivors(plan: readonly TwoWayAction[], versions: readonly Versions[]): TwoWayAction[] {
  const byPath = new Map(versions.map((v) => [v.path, v]));
  const actions = new Map(plan.map((a) => [a.path, a]));
  const alive = new Set(versions.filter((v) => survives(actions.get(v.path), v)).map((v) => v.path));
  const deletedDirs = plan
    .filter((a) => (a.kind === 'deleteLocal' || a.kind === 'deleteRemote') && kindOf(deletedVersion(a, byPath.get(a.path)!)) === 'dir')
    .sort((a, b) => depthOf(b.path) - depthOf(a.path));
  for (const action of deletedDirs) {
    const prefix = `${action.path}/`;
    if (![...alive].some((path) => path.startsWith(prefix))) continue;
    actions.set(action.path, { path: action.path, kind: action.kind === 'deleteRemote' ? 'pull' : 'push', conflict: 'editOverDelete' });
    alive.add(action.path);
  }
  return plan.map((a) => actions.get(a.path)!);
}

/** The version a deletion takes away. */
const deletedVersion = (action: TwoWayAction, v: Versions): Version | null => (action.kind === 'deleteLocal' ? v.local : v.remote);

/** Removals deepest first. */
export const deepestFirst = (paths: Iterable<string>): string[] => [...paths].sort((a, b) => depthOf(b) - depthOf(a) || (a < b ? -1 : a > b ? 1 : 0));

/** Directories made shallowest first. */
export const shallowestFirst = (paths: Iterable<string>): string[] => [...paths].sort((a, b) => depthOf(a) - depthOf(b) || (a < b ? -1 : a > b ? 1 : 0));
