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
 * twoWayRenames.ts; a directory's as one rename), versions set aside (a conflict involving a
 * directory or symlink: twoWayTree.ts), then this side's changes and the other's: on each,
 * removals (deletions, and entries of another kind than the one coming) deepest first, directories
 * made shallowest first, symlinks, files. A conflict (both sides edited a file) brings the version
 * there under `NAME.conflict-HOST-TIME` (conflictName.ts) and sends both: the version here keeps
 * the name. A file here that changed since the listing is neither overwritten
 * nor deleted (the next round sees it); a move's record is written after the move, so a round cut
 * short leaves the records behind the files, never ahead.
 */
import * as fs from 'node:fs';
import type { FcpError } from '../errors';
import type { Recorded } from '../state/twoWayDb';
import { reconcileTwoWay, sameVersion, TwoWayConflict, Version, Versions } from '../track/reconcile';
import { conflictName } from './conflictName';
import { DIR_MODE, isNode } from './entryKinds';
import type { LocalSide, TwoWaySide } from './localSide';
import type { NodeOp } from './nodeOps';
import { digestOf, FileState, sameState, SideFile, SideListing, stateOf, under } from './sideListing';
import { deleteUnchanged, Moves } from './twoWayMoves';
import { applyDirRename, applyRename, renamesToMake, SideName } from './twoWayRenames';
import { deepestFirst, keepDirsOfSurvivors, kindOf, setAsidesToMake, shallowestFirst, targetOf } from './twoWayTree';

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
  /** Both sides were to be listed whole (else narrowed to the paths events named, where both sides could). */
  whole: boolean;
  /** Narrowed with a sweep: both sides walked whole and compared with their records (RoundListing). */
  swept: boolean;
  /** Entries (files, directories, symlinks) sent there, brought here, deleted here, deleted there, renamed here and there (renames seen on the other side). */
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

export type RoundCounts = Omit<TwoWayRoundReport, 'round' | 'kind' | 'whole' | 'swept'>;

/** A round that did nothing (one that failed before its first move, with its error). */
export const NOTHING_DONE: RoundCounts = { pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0, conflicts: [] };

/** The sides of a round: this machine's, the other one (here too, or on a host), and how files move between them. */
export interface RoundSides {
  here: LocalSide;
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
    let count = 0;
    moves.forEach((move, i) => {
      if (!done[i]) return;
      count++;
      if (listings[on].files.get(move.from)?.mode === DIR_MODE) {
        const dir = applyDirRename(move, listings[on], listings[seen]);
        rows[on].push(...dir.madeOnRows);
        rows[seen].push(...dir.seenOnRows);
        forget.push(...dir.forget);
        return;
      }
      const { madeOnRow, seenOnRow } = applyRename(move, listings[on], listings[seen]);
      rows[on].push(madeOnRow);
      rows[seen].push(seenOnRow);
      forget.push(move.from);
    });
    await recordBoth(sides, rows.here, rows.there, forget);
    made[on] = count;
  }
  return made;
}

/** A conflict copy's name is free: in no listing or record, and nothing under it here. */
function freeName(moves: Moves, listings: Record<SideName, SideListing>): (name: string) => boolean {
  const { here, there } = listings;
  return (name) => [here.files, there.files, here.records, there.records].some((map) => map.has(name)) || fs.existsSync(under(moves.here, name));
}

/**
 * The conflicts that involve a directory or symlink, settled by renaming one version aside on its
 * own side (twoWayTree.ts); each listing brought to it: the path holds the other version alone, the
 * conflict name the renamed one (new to both records), which the plan then sends as any new path.
 */
async function makeSetAsides(sides: RoundSides, listings: Record<SideName, SideListing>, at: Date): Promise<ConflictReport[]> {
  const taken = freeName(sides.moves, listings);
  const made: string[] = [];
  const planned = setAsidesToMake(versionsOf(listings.here, listings.there), (path, on) => {
    const name = conflictName(path, sides[on].host, at, (n) => taken(n) || made.includes(n));
    made.push(name);
    return name;
  });
  const reports: ConflictReport[] = [];
  for (const on of ['here', 'there'] as const) {
    const moves = planned.filter((aside) => aside.on === on);
    if (moves.length === 0) continue;
    const done = await sides[on].rename(moves);
    moves.forEach((move, i) => {
      if (!done[i]) return;
      const files = listings[on].files;
      files.set(move.to, files.get(move.from)!);
      files.delete(move.from);
      reports.push({ path: move.from, conflict: 'bothEdited', copy: move.to });
    });
  }
  return reports;
}

/** What one side is to hold after a round: each path's incoming version (null: deleted), and the extra files a conflict sends. */
interface Incoming {
  path: string;
  version: Version | null;
}

/** Counts of what a side's changes made. */
interface Carried {
  placed: number;
  deleted: number;
}

/**
 * Carries out the changes to side `on`: removals (what goes, and what another kind replaces)
 * deepest first, then directories, symlinks and files made; each recorded on both sides once made.
 * `madeHere`: versions here of files this round made (conflict copies), sent there as well.
 */
async function carryOut(sides: RoundSides, on: SideName, listings: Record<SideName, SideListing>, incoming: Incoming[], madeHere: Map<string, SideFile>): Promise<Carried> {
  const target = listings[on];
  const source = listings[on === 'here' ? 'there' : 'here'];
  const { moves } = sides;
  const sourceFile = (path: string): SideFile | undefined => (on === 'there' ? madeHere.get(path) : undefined) ?? source.files.get(path);
  // 1. Removals: files, then directories and symlinks deepest first.
  const replaced = incoming.filter(({ path, version }) => {
    const held = target.files.get(path);
    if (!held) return false;
    const kind = kindOf({ hash: held.hash, mode: held.mode });
    return version === null || kind !== kindOf(version) || kind === 'symlink';
  });
  const removed = new Set<string>();
  const files = replaced.filter(({ path }) => kindOf(target.files.get(path)!) === 'file').map(({ path }) => path);
  if (files.length > 0) {
    const gone = on === 'here' ? deleteUnchanged(moves.here, files, target.files) : await moves.deleteThere(files, target.files);
    for (const path of gone) removed.add(path);
  }
  const nodes = deepestFirst(replaced.filter(({ path }) => kindOf(target.files.get(path)!) !== 'file').map(({ path }) => path));
  const nodesDone = await sides[on].nodes(nodes.map((path): NodeOp => ({ op: 'remove', path, hash: target.files.get(path)!.hash })));
  nodes.forEach((path, i) => nodesDone[i] && removed.add(path));
  const deleted = incoming.filter(({ path, version }) => version === null && removed.has(path)).map(({ path }) => path);
  await recordBoth(sides, [], [], deleted);
  // What the side holds at each path now: as listed, or nothing once removed.
  const heldNow = (path: string): FileState | undefined => (removed.has(path) ? undefined : target.files.get(path));
  const free = (path: string): boolean => heldNow(path) === undefined;

  // 2. Directories shallowest first, then symlinks.
  const dirs = shallowestFirst(incoming.filter(({ path, version }) => kindOf(version) === 'dir' && free(path)).map(({ path }) => path));
  const links = incoming.filter(({ path, version }) => kindOf(version) === 'symlink' && free(path) && source.files.get(path)?.target !== undefined).map(({ path }) => path);
  const made: NodeOp[] = [...dirs.map((path): NodeOp => ({ op: 'mkdir', path })), ...links.map((path): NodeOp => ({ op: 'symlink', path, target: source.files.get(path)!.target! }))];
  const madeDone = await sides[on].nodes(made);
  const nodeRows = made.filter((_, i) => madeDone[i]).map(({ path }) => {
    const entry = listed(source, path);
    return row(path, entry, entry);
  });
  await recordBoth(sides, nodeRows, nodeRows);

  // 3. Files: each only where the side still holds what it listed (a file changed since is the next round's).
  const wanted = incoming.filter(({ path, version }) => kindOf(version) === 'file' && !isNode(heldNow(path)?.mode ?? 0));
  const sent = on === 'here' ? await pullFiles(sides, listings, wanted, heldNow) : await pushFiles(sides, wanted, heldNow, sourceFile);
  return { placed: nodeRows.length + sent, deleted: deleted.length };
}

const listed = (listing: SideListing, path: string): SideFile => listing.files.get(path)!;

/** Files brought here (each only if the file here is still as listed: overwriting a change made since would lose it); how many were recorded. */
async function pullFiles(sides: RoundSides, listings: Record<SideName, SideListing>, wanted: Incoming[], heldNow: (path: string) => FileState | undefined): Promise<number> {
  const { moves } = sides;
  const toHere = wanted.map(({ path }) => path).filter((path) => sameState(stateOf(under(moves.here, path)), heldNow(path)));
  if (toHere.length === 0) return 0;
  await moves.send(toHere, false);
  const hereRows: Recorded[] = [];
  const thereRows: Recorded[] = [];
  for (const path of toHere) {
    const now = stateOf(under(moves.here, path));
    const file = listed(listings.there, path);
    // Recorded only as the version listed: a file there changed since came newer, and the next round sees it.
    if (!now || now.size !== file.size || now.mtimeUs !== file.mtimeUs || (await digestOf(under(moves.here, path))) !== file.hash) continue;
    hereRows.push(row(path, file, now));
    thereRows.push(row(path, file, file));
  }
  await recordBoth(sides, hereRows, thereRows);
  return hereRows.length;
}

/** Files sent there (where that is a directory here too, each only if the file there is still as listed); how many. */
async function pushFiles(
  sides: RoundSides,
  wanted: Incoming[],
  heldNow: (path: string) => FileState | undefined,
  sourceFile: (path: string) => SideFile | undefined,
): Promise<number> {
  const { moves } = sides;
  const thereRoot = moves.thereRoot;
  const paths = wanted.map(({ path }) => path);
  const pushed = thereRoot ? paths.filter((path) => sameState(stateOf(under(thereRoot, path)), heldNow(path))) : paths;
  if (pushed.length === 0 || !(await moves.send(pushed, true))) return 0;
  const files = pushed.map((path) => [path, sourceFile(path)!] as const);
  // The receiver keeps size and mtime: there, the file has the stat it has here.
  const thereState = (path: string, file: SideFile): FileState => (thereRoot && stateOf(under(thereRoot, path))) || file;
  await recordBoth(
    sides,
    files.map(([path, file]) => row(path, file, file)),
    files.map(([path, file]) => row(path, file, thereState(path, file))),
  );
  return pushed.length;
}

/**
 * How a round lists the sides: whole (every path, each side against its own record, and a
 * decision over all of them: the first round, and the first after the link came back, when the
 * two records may disagree); swept (each side walked whole and compared with its own record, the
 * round narrowed to the paths that differ on either side and those events named: sweep.ts); or
 * narrowed to the paths events named (scope.ts).
 */
export type RoundListing = 'whole' | 'swept' | 'narrowed';

/**
 * Both sides listed: whole, or narrowed (to the paths events named, and with a sweep those that
 * differ from the records): the side there over the paths here and its own, then this side over
 * the scope that came back (whole when the side there listed whole). When this side's listing took
 * in more (the old name of a rename into the scope), the side there is listed again over that, and
 * so on: each time the scope grows, up to whole.
 */
async function listBoth({ here, there }: RoundSides, tree: boolean, how: RoundListing): Promise<[SideListing, SideListing]> {
  // A listing takes this side's events' paths, whatever it covers.
  const mine = how === 'whole' ? (here.takeChanges(), 'whole') : here.ownScope(tree, how === 'swept');
  if (mine === 'whole') return Promise.all([here.listIn(tree, 'whole').then(({ listing }) => listing), there.list(tree)]);
  let theirs = await there.listNarrowed(tree, mine, how === 'swept');
  for (;;) {
    const ours = await here.listIn(tree, theirs.scope);
    if (ours.scope === theirs.scope) return [ours.listing, theirs.listing];
    if (ours.scope === 'whole') return [ours.listing, await there.list(tree)];
    theirs = await there.listNarrowed(tree, ours.scope, false);
  }
}

/** One round, its sides listed as `how` says where they can be; rejects when a side or a move failed on the link (what was recorded stays). */
export async function runRound(sides: RoundSides, at: Date, how: RoundListing = 'whole'): Promise<RoundCounts> {
  const { here, there, moves } = sides;
  const tree = here.tree && there.tree;
  const [mine, theirs] = await listBoth(sides, tree, how);
  const listings = { here: mine, there: theirs };
  const renamed = await makeRenames(sides, listings);
  const setAside = await makeSetAsides(sides, listings, at);
  const versions = versionsOf(mine, theirs);
  const byPath = new Map(versions.map((v) => [v.path, v]));
  const plan = keepDirsOfSurvivors(reconcileTwoWay(versions), versions);
  const report: RoundCounts = { ...NOTHING_DONE, conflicts: [...setAside], renamedHere: renamed.here, renamedThere: renamed.there };
  // A path whose version was set aside now holds one version: that conflict is reported once, as settled above.
  const setAsidePaths = new Set(setAside.map((c) => c.path));
  for (const action of plan) if (action.conflict === 'editOverDelete' && !setAsidePaths.has(action.path)) report.conflicts.push({ path: action.path, conflict: action.conflict });

  const incoming: Record<SideName, Incoming[]> = { here: [], there: [] };
  for (const action of plan) {
    const goes = targetOf(action, byPath.get(action.path)!);
    if (goes) incoming[goes.on].push({ path: action.path, version: goes.version });
  }
  // Versions here of files only this round makes (conflict copies).
  const madeHere = new Map<string, SideFile>();
  const taken = freeName(moves, listings);
  // Both sides edited a file (a conflict with a directory or symlink was set aside above, or waits for the next round).
  for (const { path } of plan.filter((a) => a.kind === 'keepBoth' && kindOf(byPath.get(a.path)!.local) === 'file' && kindOf(byPath.get(a.path)!.remote) === 'file')) {
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
    const file = { ...state, hash };
    madeHere.set(name, file);
    incoming.there.push({ path, version: byPath.get(path)!.local }, { path: name, version: file });
    report.conflicts.push({ path, conflict: 'bothEdited', copy: name });
  }

  const toHere = await carryOut(sides, 'here', listings, incoming.here, madeHere);
  report.pulled = toHere.placed;
  report.deletedHere = toHere.deleted;
  const toThere = await carryOut(sides, 'there', listings, incoming.there, madeHere);
  report.pushed = toThere.placed;
  report.deletedThere = toThere.deleted;

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
