/**
 * fcp --watch --two-way A B: both directories kept the same, changes on either side going to the
 * other, deletions too, a conflict keeping both versions. One of A and B is on this machine
 * ("here"), the other here too or on a host ("there").
 *
 * Each round lists both sides (a walk here; there, a walk or a dry-run sync through fcpd:
 * twoWaySides.ts) and compares every file with the state database (state/twoWayDb.ts: the version
 * both sides held at the last sync, and each side's size and mtime then). A file whose size and
 * mtime are the recorded ones is the recorded version; another one here is read for its digest;
 * one there is taken as changed. The decision is reconcileTwoWay's (track/reconcile.ts, pure);
 * the files then move through copy() sessions with --files-from (pulls first, then pushes), the
 * deletions are made where the plan says only (a file here that changed since the listing is
 * left for the next round). A conflict (both sides edited a file) pulls the version there under
 * `NAME.conflict-HOST-TIME` (conflictName.ts) and, unless it is the same content after all,
 * sends both: the version here keeps the name. Every step is recorded once made, so a round cut
 * short (the link lost) leaves the database behind the files, never ahead: the next round finds
 * what moved the same on both sides, or as a conflict that turns out the same content.
 *
 * Rounds come after file-system events here (debounced), every --interval (the only way changes
 * there are seen), and after the link came back (fcpd launched again after 1 s, 2 s, ... a minute).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { copy, CopyOptions, launcherFor } from '../client/copy';
import { Location, parseLocation } from '../client/location';
import { asFcpError, FcpError } from '../errors';
import { SideStat, SyncedPath, TwoWayDb, twoWayDbFile } from '../state/twoWayDb';
import { reconcileTwoWay, TwoWayAction, TwoWayConflict, Version, Versions } from '../track/reconcile';
import { deleteThere } from '../track/deletions';
import { ChangeBatcher } from './batcher';
import { conflictName } from './conflictName';
import { DEBOUNCE_MS, FCPD_IDLE_INTERVALS, FIRST_RETRY_MS, MAX_BATCH_DELAY_MS, MAX_RETRY_MS, MIN_FCPD_IDLE_S } from './constants';
import { digestOf, FileState, Listing, listThere, sideFilter, stateOf, under, walkFiles } from './twoWaySides';
import { checkInterval, isLinkFailure, SharedFcpd, Wakeup } from './watch';
import { EventSource, watchEvents } from './watcher';
import type { PathFilter } from '../sync/filter';

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
  /** Files sent there, brought here, deleted here, deleted there. */
  pushed: number;
  pulled: number;
  deletedHere: number;
  deletedThere: number;
  conflicts: ConflictReport[];
  /** The round failed on the link: what it had not done yet is done by the round after fcpd is back (in retryInMs). */
  error?: FcpError;
  retryInMs?: number;
}

export interface TwoWayOptions {
  /** sources: [A], destination: B; connection options, filters (applied on both sides), log, notice, onEvent. */
  copy: CopyOptions;
  intervalS: number;
  /** The state database; by default one per pair under $XDG_STATE_HOME/fcp/two-way (twoWayDbFile). */
  stateFile?: string;
  onRound?(report: TwoWayRoundReport): void;
  signal: AbortSignal;
}

/** Options a two-way sync has no use for, with why: each is a usage error. */
const REFUSED: readonly [keyof CopyOptions, string, string][] = [
  ['delete', '--delete', 'deletions go both ways by themselves with --two-way'],
  ['deleteExcluded', '--delete-excluded', 'excluded files are left alone on both sides with --two-way'],
  ['maxDelete', '--max-delete', 'deletions go both ways by themselves with --two-way'],
  ['removeSourceFiles', '--remove-source-files', 'both sides are sources with --two-way'],
  ['filesFrom', '--files-from', '--two-way syncs whole directories'],
  ['update', '--update', 'a conflict keeps both versions with --two-way'],
  ['ignoreExisting', '--ignore-existing', 'a conflict keeps both versions with --two-way'],
  ['sizeOnly', '--size-only', '--two-way compares files by their digests'],
  ['checksum', '--checksum', '--two-way compares files by their digests'],
  ['ignoreTimes', '--ignore-times', '--two-way sends changed files whatever their times'],
  ['dryRun', '--dry-run', '--two-way records every sync in its database'],
  ['backup', '--backup', 'a conflict keeps both versions with --two-way'],
  ['follow', '--follow', '--watch and --follow are two ways of keeping up'],
  ['sftp', '--sftp', '--two-way runs over fcpd'],
];

function usage(message: string, hint: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', message, { hint });
}

/** The checks of fcp --watch --two-way's arguments; the two sides (here on this machine). */
export function twoWaySides(options: CopyOptions): { here: Buffer; there: Location; thereSpec: Buffer } {
  for (const [key, flag, why] of REFUSED) {
    if (options[key] !== undefined && options[key] !== false) throw usage(`${flag} and --two-way were both given`, why);
  }
  if (options.sources.length !== 1) throw usage('--two-way takes two directories: A B', 'fcp --watch --two-way A B');
  const a = parseLocation(options.sources[0]!);
  const b = parseLocation(options.destination);
  if (a.kind === 'remote' && b.kind === 'remote') throw usage('--two-way syncs this machine with one host', 'run it on one of the two hosts instead');
  // A keeps the name in a conflict when it is here; with A on a host, B (here) does.
  const [here, there, thereGiven] = a.kind === 'local' ? [a, b, options.destination] : [b, a, options.sources[0]!];
  return { here: withoutSlashes(here.path), there, thereSpec: specOf(thereGiven, there) };
}

function withoutSlashes(path: Buffer): Buffer {
  let end = path.length;
  while (end > 1 && path[end - 1] === 0x2f) end--;
  return path.subarray(0, end);
}

/** The spec of a location without trailing slashes (a remote's as given, its path's slashes stripped). */
function specOf(spec: string | Buffer, location: Location): Buffer {
  const raw = typeof spec === 'string' ? Buffer.from(spec) : spec;
  return raw.subarray(0, raw.length - (location.path.length - withoutSlashes(location.path).length));
}

const sameState = (a: FileState | undefined, b: FileState | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.size === b.size && a.mtimeUs === b.mtimeUs && a.mode === b.mode;

const stat = (state: FileState): SideStat => ({ size: state.size, mtimeUs: state.mtimeUs });

/** The two directories and how files move between them: copy() sessions (over the shared fcpd when one is there). */
class Pair {
  readonly thereRoot: Buffer | undefined;
  readonly thereHost: string;

  constructor(
    readonly here: Buffer,
    private readonly thereSpec: Buffer,
    there: Location,
    private readonly base: CopyOptions,
    private readonly fcpd: SharedFcpd | undefined,
    readonly filter: PathFilter,
  ) {
    this.thereRoot = there.kind === 'local' ? withoutSlashes(there.path) : undefined;
    this.thereHost = there.kind === 'remote' ? there.host : os.hostname();
  }

  private session(): CopyOptions {
    return { ...this.base, ...(this.fcpd ? { launcher: this.fcpd.forRound() } : {}) };
  }

  private thereFile(path: string): Buffer {
    return Buffer.concat([this.thereSpec, Buffer.from('/'), Buffer.from(path, 'latin1')]);
  }

  listHere(): Listing {
    return walkFiles(this.here, this.filter);
  }

  listThere(): Promise<Listing> | Listing {
    if (this.thereRoot) return walkFiles(this.thereRoot, this.filter);
    return listThere(this.thereSpec.toString('latin1'), this.here.toString('latin1'), { ...this.session(), filter: this.filter });
  }

  /** Sends these files (latin1 paths) there, or brings them here; false when any of them failed. */
  async send(paths: readonly string[], toThere: boolean): Promise<boolean> {
    const summary = await copy({
      ...this.session(),
      sources: [toThere ? this.here : this.thereSpec],
      destination: toThere ? this.thereSpec : this.here,
      filesFrom: paths.map((path) => Buffer.from(path, 'latin1')),
      // Known to differ: no quick check (a change within the same mtime tick and size would pass it).
      ignoreTimes: true,
    });
    return summary.errors.length === 0;
  }

  /** The version there of `path`, brought here as `name`. */
  async bringAs(path: string, name: string): Promise<void> {
    await copy({ ...this.session(), sources: [this.thereFile(path)], destination: under(this.here, name) });
  }

  /** Deletes these files there; the paths deleted (here, a file changed since the listing is left). */
  async deleteThere(paths: readonly string[], listed: Listing): Promise<string[]> {
    if (this.thereRoot) return deleteUnchanged(this.thereRoot, paths, listed);
    const { ssh, bwlimit } = this.base;
    await deleteThere(this.here.toString('utf8'), this.thereSpec.toString('utf8'), paths.map((p) => Buffer.from(p, 'latin1').toString('utf8')), {
      ...(ssh ? { ssh } : {}),
      ...(bwlimit ? { bwlimit } : {}),
      launcher: this.session().launcher!,
    });
    return [...paths];
  }
}

/** Deletes files of a directory on this machine, each only if it is still as listed (a change since is the next round's). */
function deleteUnchanged(root: Buffer, paths: readonly string[], listed: Listing): string[] {
  const deleted: string[] = [];
  for (const path of paths) {
    const file = under(root, path);
    if (!sameState(stateOf(file), listed.files.get(path))) continue;
    fs.rmSync(file, { force: true });
    deleted.push(path);
  }
  return deleted;
}

/** A side's version of a path: the recorded one when size and mtime are, else read (here) or taken as changed (there). */
async function versionOf(
  state: FileState | undefined,
  listing: Listing,
  synced: SyncedPath | undefined,
  recorded: SideStat | undefined,
  read: (() => Promise<string | undefined>) | undefined,
): Promise<Version | null> {
  const unchanged = synced ? { hash: synced.hash, mode: synced.mode } : null;
  // Missing from a listing that is not whole: not known to be deleted.
  if (!state) return listing.complete ? null : unchanged;
  if (synced && recorded && recorded.size === state.size && recorded.mtimeUs === state.mtimeUs) return { hash: synced.hash, mode: state.mode };
  if (!read) return { hash: `changed:${state.size}:${state.mtimeUs}`, mode: state.mode };
  const hash = await read();
  // Gone since the listing: the next round sees what happened.
  return hash === undefined ? unchanged : { hash, mode: state.mode };
}

/** One round: both sides listed, the plan made and carried out, each step recorded once made. */
async function runRound(pair: Pair, db: TwoWayDb, at: Date): Promise<Omit<TwoWayRoundReport, 'round' | 'kind'>> {
  const synced = db.all();
  const here = pair.listHere();
  const there = await pair.listThere();
  const versions: Versions[] = [];
  const byPath = new Map<string, Versions>();
  for (const path of new Set([...here.files.keys(), ...there.files.keys(), ...synced.keys()])) {
    const s = synced.get(path);
    const thereRoot = pair.thereRoot;
    const v: Versions = {
      path,
      base: s ? { hash: s.hash, mode: s.mode } : null,
      local: await versionOf(here.files.get(path), here, s, s?.here, () => digestOf(under(pair.here, path))),
      remote: await versionOf(there.files.get(path), there, s, s?.there, thereRoot && (() => digestOf(under(thereRoot, path)))),
    };
    versions.push(v);
    byPath.set(path, v);
  }
  const report: Omit<TwoWayRoundReport, 'round' | 'kind'> = { pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, conflicts: [] };
  const record = (path: string, hash: string, hereState: FileState, thereState: SideStat): SyncedPath => ({ path, hash, mode: hereState.mode, here: stat(hereState), there: thereState });
  const plan = reconcileTwoWay(versions);
  const of = (kind: TwoWayAction['kind']): string[] => plan.filter((a) => a.kind === kind).map((a) => a.path);
  for (const action of plan) if (action.conflict === 'editOverDelete') report.conflicts.push({ path: action.path, conflict: action.conflict });
  const toThere = of('push');
  // Versions here of files only this round makes (conflict copies).
  const madeHere = new Map<string, { hash: string; state: FileState }>();
  const settled: string[] = of('settle');

  for (const path of of('keepBoth')) {
    const taken = (name: string): boolean => here.files.has(name) || there.files.has(name) || synced.has(name) || fs.existsSync(under(pair.here, name));
    const name = conflictName(path, pair.thereHost, at, taken);
    await pair.bringAs(path, name);
    const copyFile = under(pair.here, name);
    const hash = await digestOf(copyFile);
    const state = stateOf(copyFile);
    const mine = byPath.get(path)!.local!;
    if (hash === mine.hash) {
      // The same content after all (a change there only its stat showed): one version, nothing kept twice.
      fs.rmSync(copyFile, { force: true });
      if (state?.mode === mine.mode) settled.push(path);
      else toThere.push(path);
      continue;
    }
    if (hash === undefined || !state) continue;
    madeHere.set(name, { hash, state });
    toThere.push(path, name);
    report.conflicts.push({ path, conflict: 'bothEdited', copy: name });
  }

  // Brought here: each only if the file here is still as listed (overwriting a change made since would lose it).
  const toHere = of('pull').filter((path) => sameState(stateOf(under(pair.here, path)), here.files.get(path)));
  if (toHere.length > 0) {
    await pair.send(toHere, false);
    const done: SyncedPath[] = [];
    for (const path of toHere) {
      const now = stateOf(under(pair.here, path));
      const listed = there.files.get(path)!;
      if (!now || now.size !== listed.size || now.mtimeUs !== listed.mtimeUs) continue;
      const hash = await digestOf(under(pair.here, path));
      if (hash !== undefined) done.push(record(path, hash, now, stat(listed)));
    }
    db.update(done);
    report.pulled = done.length;
  }

  const deletedHere = deleteUnchanged(pair.here, of('deleteLocal'), here);
  db.update([], deletedHere);
  report.deletedHere = deletedHere.length;

  // Sent there: where that is a directory here too, each only if the file there is still as listed.
  const thereRoot = pair.thereRoot;
  if (thereRoot) toThere.splice(0, toThere.length, ...toThere.filter((path) => madeHere.has(path) || sameState(stateOf(under(thereRoot, path)), there.files.get(path))));
  if (toThere.length > 0 && (await pair.send(toThere, true))) {
    db.update(
      toThere.map((path) => {
        const made = madeHere.get(path);
        const state = made?.state ?? here.files.get(path)!;
        const thereState = thereRoot && stateOf(under(thereRoot, path));
        return record(path, made?.hash ?? byPath.get(path)!.local!.hash, state, stat(thereState ?? state));
      }),
    );
    report.pushed = toThere.length;
  }

  const toDelete = of('deleteRemote');
  if (toDelete.length > 0) {
    const deleted = await pair.deleteThere(toDelete, there);
    db.update([], deleted);
    report.deletedThere = deleted.length;
  }

  // The same version on both sides: recorded, with each side's stat now (a touched file is not read again).
  const refreshed: SyncedPath[] = [];
  for (const v of versions) {
    const hereState = here.files.get(v.path);
    const thereState = there.files.get(v.path);
    const same = v.local && v.remote && v.local.hash === v.remote.hash && v.local.mode === v.remote.mode;
    if (!same || !hereState || !thereState) continue;
    const s = synced.get(v.path);
    const stale = !s || s.hash !== v.local!.hash || !sameState({ ...stat(hereState), mode: s.mode }, { ...s.here, mode: s.mode }) || s.there.size !== thereState.size || s.there.mtimeUs !== thereState.mtimeUs;
    if (stale || settled.includes(v.path)) refreshed.push(record(v.path, v.local!.hash, hereState, stat(thereState)));
  }
  db.update(refreshed);
  return report;
}

/** Runs the two-way watch until `signal` aborts; rejects only when the first round cannot run at all (a usage error, a refused login, ...). */
export async function twoWay(options: TwoWayOptions): Promise<void> {
  checkInterval(options.intervalS);
  const base: CopyOptions = { ...options.copy, itemizeChanges: true };
  const log = base.log ?? (() => undefined);
  const { here, there, thereSpec } = twoWaySides(base);
  const timeoutMs = base.timeout === undefined ? undefined : base.timeout * 1000;
  const reuseS = Math.max(MIN_FCPD_IDLE_S, Math.ceil(options.intervalS * FCPD_IDLE_INTERVALS));
  const fcpd = there.kind === 'remote' ? new SharedFcpd(base.launcher ?? launcherFor(there, true, base, log, timeoutMs, reuseS), log) : undefined;
  const pair = new Pair(here, thereSpec, there, base, fcpd, sideFilter(base.filter));
  const stateFile = options.stateFile ?? twoWayDbFile(nodePath.resolve(here.toString('latin1')), there.kind === 'local' ? nodePath.resolve(pair.thereRoot!.toString('latin1')) : thereSpec.toString('latin1'));
  const db = TwoWayDb.open(stateFile);
  const wake = new Wakeup();
  const changes = new ChangeBatcher(DEBOUNCE_MS, MAX_BATCH_DELAY_MS);
  const changed = (path: Buffer): void => {
    changes.add(path, Date.now());
    wake.now();
  };
  options.signal.addEventListener('abort', () => wake.now(), { once: true });
  const sources: (EventSource | undefined)[] = [];
  let round = 0;
  let retryMs = FIRST_RETRY_MS;
  let nextRescan = Date.now() + options.intervalS * 1000;
  /** The next round runs at once: the first, and the first after the link came back. */
  let pending: TwoWayRoundKind | undefined = 'initial';
  try {
    for (const root of [here, pair.thereRoot]) if (root) sources.push(await watchEvents(root, changed, log));
    while (!options.signal.aborted) {
      const now = Date.now();
      const due = changes.dueAt();
      const kind: TwoWayRoundKind | undefined = pending ?? (due !== undefined && due <= now ? 'changes' : now >= nextRescan ? 'rescan' : undefined);
      if (!kind) {
        await wake.until(Math.min(nextRescan, due ?? Infinity));
        continue;
      }
      // A round lists both sides whole: it covers every change made before it.
      changes.take();
      if (kind === 'rescan' || pending) nextRescan = now + options.intervalS * 1000;
      round++;
      try {
        if (fcpd && !fcpd.open) await fcpd.launch();
        const done = await runRound(pair, db, new Date());
        pending = undefined;
        retryMs = FIRST_RETRY_MS;
        options.onRound?.({ round, kind, ...done });
      } catch (err) {
        const error = asFcpError(err);
        if (kind === 'initial' && !isLinkFailure(error)) throw error;
        pending = 'reconnect';
        options.onRound?.({ round, kind, pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, conflicts: [], error, retryInMs: retryMs });
        log(`round ${round} failed (${error.message}); trying again in ${retryMs / 1000} s`);
        await fcpd?.close(true);
        await wake.until(Date.now() + retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  } finally {
    wake.stop();
    for (const source of sources) await source?.stop();
    await fcpd?.close(false);
    db.close();
  }
}
