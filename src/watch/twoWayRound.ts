/**
 * One round of fcp --watch --two-way: both sides listed, each against its own record (a file's
 * version is the recorded one when its size and mtime are, else its digest, read on its own
 * host), the plan made (reconcileTwoWay, track/reconcile.ts, pure) and carried out, each step
 * recorded on both sides once made.
 *
 * What both sides last synced (the base of the three-way decision) is what their two records say
 * when they agree. When they do not (one side's record lost or new, a step recorded on one side
 * before the link was cut), the path has no base: it syncs as the first time, which deletes
 * nothing and keeps both versions of a file that differs. So a side loses a version only to a
 * deletion or an edit both records vouch for.
 *
 * Order: renames (a rename one side saw, made on the other where it is the whole story:
 * twoWayRenames.ts), pulls, deletions here, pushes, deletions there. A conflict (both sides edited a file)
 * brings the version there under `NAME.conflict-HOST-TIME` (conflictName.ts) and sends both: the
 * version here keeps the name. A file here that changed since the listing is neither overwritten
 * nor deleted (the next round sees it); a move's record is written after the move, so a round cut
 * short leaves the records behind the files, never ahead.
 */
import * as fs from 'node:fs';
import type { FcpError } from '../errors';
import type { Recorded } from '../state/twoWayDb';
import { reconcileTwoWay, sameVersion, TwoWayAction, TwoWayConflict, Version, Versions } from '../track/reconcile';
import { conflictName } from './conflictName';
import type { TwoWaySide } from './localSide';
import { digestOf, FileState, sameState, SideFile, SideListing, stateOf, under } from './sideListing';
import { deleteUnchanged, Moves } from './twoWayMoves';
import { applyRename, renamesToMake, SideName } from './twoWayRenames';

export type TwoWayRoundKind = 'initial' | 'changes' | 'rescan' | 'reconnect';

/** A conflict a round settled: both versions kept (`copy`: the name the version there is kept under), or an edit kept over a deletion. */
export interface ConflictReport {
  /** Relative to the synced directories, `/`-separated (latin1 spelling of the bytes). */
  path: string;
  conflict: TwoWayConflict;
  copy?: string;
}

/** What one round did (fcp --json's `round` event with two-way counts, and a `conflict` event per conflict). */
export interface TwoWayRoundReport {
  round: number;
  kind: TwoWayRoundKind;
  /** Files sent there, brought here, deleted here, deleted there, renamed here and there (renames seen on the other side). */
  pushed: number;
  pulled: number;
  deletedHere: number;
  deletedThere: number;
  renamedHere: number;
  renamedThere: number;
  conflicts: ConflictReport[];
  /** The round failed on the link: what it had not done yet is done by the round after fcpd is back (in retryInMs). */
  error?: FcpError;
  retryInMs?: number;
}

export type RoundCounts = Omit<TwoWayRoundReport, 'round' | 'kind'>;

/** A round that did nothing (one that failed before its first move, with its error). */
export const NOTHING_DONE: RoundCounts = { pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0, conflicts: [] };

/** The sides of a round: this machine's, the other one (here too, or on a host), and how files move between them. */
export interface RoundSides {
  here: TwoWaySide;
  there: TwoWaySide;
  moves: Moves;
}

/** A side's version of a path: its file's, or none; a path a partial listing misses is taken as recorded (not known to be deleted). */
function versionOn(listing: SideListing, path: string): Version | null {
  const held = listing.files.get(path) ?? (listing.complete ? undefined : listing.records.get(path));
  return held ? { hash: held.hash, mode: held.mode } : null;
}

/** What both sides last synced: the version their records agree on; none when they do not. */
export function agreedBase(here: Recorded | undefined, there: Recorded | undefined): Version | null {
  return here && there && here.hash === there.hash && here.mode === there.mode ? { hash: here.hash, mode: here.mode } : null;
}

/** Every path either side holds or recorded, with its base and both sides' versions. */
export function versionsOf(here: SideListing, there: SideListing): Versions[] {
  const paths = new Set([...here.files.keys(), ...there.files.keys(), ...here.records.keys(), ...there.records.keys()]);
  return [...paths].map((path) => ({ path, base: agreedBase(here.records.get(path), there.records.get(path)), local: versionOn(here, path), remote: versionOn(there, path) }));
}

const row = (path: string, version: Version, state: FileState): Recorded => ({ path, hash: version.hash, mode: version.mode, size: state.size, mtimeUs: state.mtimeUs });

/** A side's record of a path is not this version at this stat. */
const stale = (recorded: Recorded | undefined, version: Version, state: FileState): boolean =>
  !recorded || recorded.hash !== version.hash || recorded.mode !== version.mode || recorded.size !== state.size || recorded.mtimeUs !== state.mtimeUs;

async function recordBoth({ here, there }: RoundSides, hereRows: Recorded[], thereRows: Recorded[], forget: string[] = []): Promise<void> {
  await here.record(hereRows, forget);
  await there.record(thereRows, forget);
}

/**
 * The renames each side saw, made on the other side where they are the whole story: each one made
 * is recorded on both sides (the new name, the old forgotten) and brought into both listings, which
 * then call for nothing more of either name. The renames made on each side.
 */
async function makeRenames(sides: RoundSides, listings: Record<SideName, SideListing>): Promise<Record<SideName, number>> {
  const planned = renamesToMake(listings.here, listings.there);
  const made: Record<SideName, number> = { here: 0, there: 0 };
  for (const [on, seen] of [['here', 'there'], ['there', 'here']] as const) {
    const moves = planned.filter((rename) => rename.on === on);
    if (moves.length === 0) continue;
    const done = await sides[on].rename(moves);
    const rows: Record<SideName, Recorded[]> = { here: [], there: [] };
    const forget: string[] = [];
    moves.forEach((move, i) => {
      if (!done[i]) return;
      const { madeOnRow, seenOnRow } = applyRename(move, listings[on], listings[seen]);
      rows[on].push(madeOnRow);
      rows[seen].push(seenOnRow);
      forget.push(move.from);
    });
    await recordBoth(sides, rows.here, rows.there, forget);
    made[on] = forget.length;
  }
  return made;
}

/** One round; rejects when a side or a move failed on the link (what was recorded stays). */
export async function runRound(sides: RoundSides, at: Date): Promise<RoundCounts> {
  const { here, there, moves } = sides;
  const [mine, theirs] = await Promise.all([here.list(), there.list()]);
  const renamed = await makeRenames(sides, { here: mine, there: theirs });
  const versions = versionsOf(mine, theirs);
  const plan = reconcileTwoWay(versions);
  const of = (kind: TwoWayAction['kind']): string[] => plan.filter((a) => a.kind === kind).map((a) => a.path);
  const report: RoundCounts = { ...NOTHING_DONE, conflicts: [], renamedHere: renamed.here, renamedThere: renamed.there };
  for (const action of plan) if (action.conflict === 'editOverDelete') report.conflicts.push({ path: action.path, conflict: action.conflict });
  const toThere = of('push');
  // Versions here of files only this round makes (conflict copies).
  const madeHere = new Map<string, SideFile>();

  for (const path of of('keepBoth')) {
    const taken = (name: string): boolean => [mine.files, theirs.files, mine.records, theirs.records].some((map) => map.has(name)) || fs.existsSync(under(moves.here, name));
    const name = conflictName(path, there.host, at, taken);
    await moves.bringAs(path, name);
    const copyFile = under(moves.here, name);
    const hash = await digestOf(copyFile);
    const state = stateOf(copyFile);
    if (hash === undefined || !state) continue;
    // The file there changed since the listing, to this side's version: one version, nothing kept twice.
    if (hash === mine.files.get(path)?.hash) {
      fs.rmSync(copyFile, { force: true });
      continue;
    }
    madeHere.set(name, { ...state, hash });
    toThere.push(path, name);
    report.conflicts.push({ path, conflict: 'bothEdited', copy: name });
  }

  // Brought here: each only if the file here is still as listed (overwriting a change made since would lose it).
  const toHere = of('pull').filter((path) => sameState(stateOf(under(moves.here, path)), mine.files.get(path)));
  if (toHere.length > 0) {
    await moves.send(toHere, false);
    const hereRows: Recorded[] = [];
    const thereRows: Recorded[] = [];
    for (const path of toHere) {
      const now = stateOf(under(moves.here, path));
      const listed = theirs.files.get(path)!;
      // Recorded only as the version listed: a file there changed since came newer, and the next round sees it.
      if (!now || now.size !== listed.size || now.mtimeUs !== listed.mtimeUs || (await digestOf(under(moves.here, path))) !== listed.hash) continue;
      hereRows.push(row(path, listed, now));
      thereRows.push(row(path, listed, listed));
    }
    await recordBoth(sides, hereRows, thereRows);
    report.pulled = hereRows.length;
  }

  const deletedHere = deleteUnchanged(moves.here, of('deleteLocal'), mine.files);
  await recordBoth(sides, [], [], deletedHere);
  report.deletedHere = deletedHere.length;

  // Sent there: where that is a directory here too, each only if the file there is still as listed.
  const thereRoot = moves.thereRoot;
  const pushed = thereRoot ? toThere.filter((path) => madeHere.has(path) || sameState(stateOf(under(thereRoot, path)), theirs.files.get(path))) : toThere;
  if (pushed.length > 0 && (await moves.send(pushed, true))) {
    const files = pushed.map((path) => [path, madeHere.get(path) ?? mine.files.get(path)!] as const);
    // The receiver keeps size and mtime: there, the file has the stat it has here.
    const thereState = (path: string, file: SideFile): FileState => (thereRoot && stateOf(under(thereRoot, path))) || file;
    await recordBoth(
      sides,
      files.map(([path, file]) => row(path, file, file)),
      files.map(([path, file]) => row(path, file, thereState(path, file))),
    );
    report.pushed = pushed.length;
  }

  const toDelete = of('deleteRemote');
  if (toDelete.length > 0) {
    const deleted = await moves.deleteThere(toDelete, theirs.files);
    await recordBoth(sides, [], [], deleted);
    report.deletedThere = deleted.length;
  }

  // The same version on both sides: each record brought up to it (a touched file is not read again; a version both reached is the base).
  const hereRows: Recorded[] = [];
  const thereRows: Recorded[] = [];
  const forget: string[] = [];
  for (const v of versions) {
    if (!sameVersion(v.local, v.remote)) continue;
    if (!v.local) {
      forget.push(v.path);
      continue;
    }
    const hereFile = mine.files.get(v.path);
    const thereFile = theirs.files.get(v.path);
    if (hereFile && stale(mine.records.get(v.path), v.local, hereFile)) hereRows.push(row(v.path, v.local, hereFile));
    if (thereFile && stale(theirs.records.get(v.path), v.local, thereFile)) thereRows.push(row(v.path, v.local, thereFile));
  }
  await recordBoth(sides, hereRows, thereRows, forget);
  return report;
}
