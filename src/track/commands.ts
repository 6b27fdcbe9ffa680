/**
 * fcp-track's commands on a tracked folder: init, add, rm, status, diff, push, pull, log, repair.
 * The decisions are status.ts's and reconcile.ts's; the data moves through copy() (delta,
 * parallel connections, resume), the changed files named with --files-from; deletions there go
 * as a sync --delete of exactly those paths (deletions.ts).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { copy, CopyOptions } from '../client/copy';
import { parseLocation } from '../client/location';
import type { Launcher } from '../launch/launcher';
import { asFcpError, FcpError } from '../errors';
import { showName } from '../showName';
import { LogEntry, TrackDb } from '../state/trackDb';
import { deleteThere } from './deletions';
import {
  DB_FILE, findRoot, hashFiles, ignoreFilter, readConfig, scanFiles, stagingDir, STATE_DIR, statIn, tempDir, TrackConfig, writeConfig,
} from './folder';
import { Action, reconcile, Version, Versions } from './reconcile';
import { afterPush, emptyRecord, parseRecord, RECORD_DIR, RECORD_NAME, RemoteRecord, versionIn } from './remoteRecord';
import { Change, changeAgainstBase, FileStat, quickChange, TrackRecord } from './status';

export interface TrackContext {
  cwd: string;
  /** A line of output (stdout). */
  out(line: string): void;
  /** A progress line (stderr, a terminal only), or undefined to show none. */
  progress?: (text: string) => void;
  /** Tests: how fcpd is started instead of SSH. */
  launcher?: Launcher;
  /** --bwlimit of push and pull, bytes per second. */
  bwlimit?: number;
}

/** An open tracked folder. */
interface Folder {
  root: string;
  config: TrackConfig;
  db: TrackDb;
}

const who = (): string => `${os.userInfo().username}@${os.hostname()}`;
const CACHED_RECORD = nodePath.join(STATE_DIR, RECORD_NAME);
/** Meta key: the time of the last remote log entry a pull has shown. */
const SEEN_LOG = 'seen_log_at';

async function withFolder<T>(ctx: TrackContext, run: (folder: Folder) => Promise<T>): Promise<T> {
  const root = findRoot(ctx.cwd);
  const config = readConfig(root);
  const db = TrackDb.open(nodePath.join(root, STATE_DIR, DB_FILE));
  try {
    return await run({ root, config, db });
  } finally {
    db.close();
  }
}

// --- init, add, rm ----------------------------------------------------------------------------

export function init(ctx: TrackContext, remote: string, ssh: TrackConfig['ssh']): void {
  const location = parseLocation(remote);
  if (location.kind !== 'remote' || location.daemon) {
    throw new FcpError('FCP_ERR_USAGE', `${showName(remote)} is not a remote folder`, { hint: 'give [user@]host:/path' });
  }
  const root = nodePath.resolve(ctx.cwd);
  if (fs.existsSync(nodePath.join(root, STATE_DIR))) {
    throw new FcpError('FCP_ERR_USAGE', `${showName(root)} is already a tracked folder (${STATE_DIR}/ exists)`, { hint: `remove ${STATE_DIR}/ to start again` });
  }
  fs.mkdirSync(nodePath.join(root, STATE_DIR), { mode: 0o700 });
  writeConfig(root, { remote, clone: randomUUID(), ssh });
  TrackDb.open(nodePath.join(root, STATE_DIR, DB_FILE), true).close();
  ctx.out(`tracking ${root} with ${remote}: add files with fcp-track add, or fetch what is there with fcp-track pull`);
}

/** A path the user gave, relative to the folder's root ('' for the root); outside it is FCP_ERR_NOT_TRACKED. */
function inFolder(ctx: TrackContext, root: string, given: string): string {
  const rel = nodePath.relative(root, nodePath.resolve(ctx.cwd, given));
  if (rel.startsWith('..') || nodePath.isAbsolute(rel)) {
    throw new FcpError('FCP_ERR_NOT_TRACKED', `${showName(given)} is outside the tracked folder ${showName(root)}`);
  }
  return rel.split(nodePath.sep).join('/');
}

function freshRecord(path: string, stat: FileStat, hash: string, previous: TrackRecord | undefined): TrackRecord {
  return { path, stat, hash, base: previous?.base ?? null, removed: false };
}

export async function add(ctx: TrackContext, paths: readonly string[]): Promise<void> {
  await withFolder(ctx, async ({ root, db }) => {
    const filter = ignoreFilter(root);
    const found = new Map<string, FileStat>();
    for (const given of paths) {
      const rel = inFolder(ctx, root, given);
      const stat = rel ? statIn(root, rel) : undefined;
      if (stat && !filter.excludes(rel, false)) found.set(rel, stat);
      else if (!stat && fs.existsSync(nodePath.join(root, rel)) && fs.statSync(nodePath.join(root, rel)).isDirectory()) for (const [p, s] of scanFiles(root, filter, rel)) found.set(p, s);
      else throw new FcpError(stat ? 'FCP_ERR_USAGE' : 'FCP_ERR_NOT_FOUND', `${showName(given)}: ${stat ? `${'.fcpignore'} leaves it out` : 'no such file or directory'}`);
    }
    const records = new Map(db.records().map((r) => [r.path, r]));
    const digests = await hashFiles(root, [...found.keys()], hashProgress(ctx));
    db.update([...found].map(([path, stat]) => freshRecord(path, stat, digests.get(path)!, records.get(path))));
    ctx.out(`${found.size} file${found.size === 1 ? '' : 's'} tracked`);
  });
}

export async function rm(ctx: TrackContext, paths: readonly string[], cached: boolean): Promise<void> {
  await withFolder(ctx, async ({ root, db }) => {
    const records = db.records();
    const chosen: TrackRecord[] = [];
    for (const given of paths) {
      const rel = inFolder(ctx, root, given);
      const matched = records.filter((r) => rel === '' || r.path === rel || r.path.startsWith(`${rel}/`));
      if (matched.length === 0) throw new FcpError('FCP_ERR_NOT_TRACKED', `${showName(given)} is not tracked`);
      chosen.push(...matched);
    }
    if (!cached) for (const r of chosen) fs.rmSync(nodePath.join(root, r.path), { force: true });
    // Never pushed: forgotten at once. Pushed: deleted there at the next push.
    db.update(chosen.filter((r) => r.base !== null).map((r) => ({ ...r, removed: true })), chosen.filter((r) => r.base === null).map((r) => r.path));
    ctx.out(`${chosen.length} file${chosen.length === 1 ? '' : 's'} removed from tracking${cached ? ' (kept here)' : ''}`);
  });
}

// --- the local check --------------------------------------------------------------------------

function hashProgress(ctx: TrackContext): (done: number, total: number) => void {
  return (done, total) => ctx.progress?.(`hashing ${done}/${total} changed files`);
}

interface LocalState {
  records: Map<string, TrackRecord>;
  changes: Map<string, Change>;
  /** Each tracked path's version now (null: deleted or removed). */
  versions: Map<string, Version | null>;
  stats: Map<string, FileStat>;
}

/**
 * One lstat per tracked file (from `scanned` when the caller walked the folder anyway), a digest
 * only where size, mtime or ctime moved; the stat cache of files found unchanged is refreshed.
 */
async function checkLocal(ctx: TrackContext, folder: Folder, scanned?: Map<string, FileStat>): Promise<LocalState> {
  const { root, db } = folder;
  const records = new Map(db.records().map((r) => [r.path, r]));
  const state: LocalState = { records, changes: new Map(), versions: new Map(), stats: new Map() };
  const toHash: string[] = [];
  for (const record of records.values()) {
    const stat = record.removed ? undefined : (scanned?.get(record.path) ?? statIn(root, record.path));
    if (stat) state.stats.set(record.path, stat);
    const change = quickChange(record, stat);
    if (change === 'hash') toHash.push(record.path);
    else {
      state.changes.set(record.path, change);
      state.versions.set(record.path, change === 'deleted' ? null : { hash: record.hash, mode: stat!.mode });
    }
  }
  const digests = await hashFiles(root, toHash, hashProgress(ctx));
  const refreshed: TrackRecord[] = [];
  for (const path of toHash) {
    const record = records.get(path)!;
    const now = { hash: digests.get(path)!, mode: state.stats.get(path)!.mode };
    state.changes.set(path, changeAgainstBase(record, now));
    state.versions.set(path, now);
    refreshed.push({ ...record, stat: state.stats.get(path)!, hash: now.hash });
  }
  db.update(refreshed);
  return state;
}

// --- the remote record ------------------------------------------------------------------------

function remoteJoin(remote: string, rel: string): string {
  return `${remote.replace(/\/+$/, '')}/${rel}`;
}

function copyOptions(ctx: TrackContext, config: TrackConfig): Pick<CopyOptions, 'ssh' | 'launcher' | 'bwlimit'> {
  return { ssh: config.ssh, ...(ctx.launcher ? { launcher: ctx.launcher } : {}), ...(ctx.bwlimit ? { bwlimit: ctx.bwlimit } : {}) };
}

/**
 * A copy of files known to have changed: -I, since a change of the same size within the same
 * mtime tick would pass the quick check; the delta still sends only the blocks that differ.
 */
function changedFiles(ctx: TrackContext, config: TrackConfig, source: string, destination: string, paths: readonly string[]): CopyOptions {
  return { sources: [source], destination, filesFrom: [...paths], ignoreTimes: true, ...copyOptions(ctx, config) };
}

/** The remote record (empty when the remote folder has none yet), also kept as .fcp/remote-state.json here. */
async function fetchRecord(ctx: TrackContext, folder: Folder): Promise<RemoteRecord> {
  const dir = tempDir();
  try {
    await copy({ sources: [remoteJoin(folder.config.remote, `${RECORD_DIR}/${RECORD_NAME}`)], destination: dir, ...copyOptions(ctx, folder.config) });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (asFcpError(err).code === 'FCP_ERR_NOT_FOUND') return emptyRecord();
    throw err;
  }
  try {
    const text = fs.readFileSync(nodePath.join(dir, RECORD_NAME), 'utf8');
    const record = parseRecord(text);
    fs.writeFileSync(nodePath.join(folder.root, CACHED_RECORD), text);
    return record;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function cachedRecord(root: string): RemoteRecord {
  try {
    return parseRecord(fs.readFileSync(nodePath.join(root, CACHED_RECORD), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord();
    throw err;
  }
}

async function writeRecord(ctx: TrackContext, folder: Folder, record: RemoteRecord): Promise<void> {
  const text = `${JSON.stringify(record, null, 1)}\n`;
  const dir = stagingDir(folder.root);
  try {
    fs.mkdirSync(nodePath.join(dir, RECORD_DIR));
    fs.writeFileSync(nodePath.join(dir, RECORD_DIR, RECORD_NAME), text);
    // fcp's receiver writes a temporary and renames it once verified: readers see the old record or the new one.
    await copy(changedFiles(ctx, folder.config, dir, folder.config.remote, [`${RECORD_DIR}/${RECORD_NAME}`]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.writeFileSync(nodePath.join(folder.root, CACHED_RECORD), text);
}

// --- status and diff --------------------------------------------------------------------------

export interface StatusReport {
  new: string[];
  modified: string[];
  deleted: string[];
  untracked: string[];
  /** Changed here and there since the last sync (by the remote record last fetched). */
  conflicting: string[];
  /** Changed there only: what a pull would bring. */
  incoming: string[];
}

function versionsOf(local: LocalState, record: RemoteRecord, extraLocal = new Map<string, Version>()): Versions[] {
  const paths = new Set([...local.records.keys(), ...Object.keys(record.files)]);
  return [...paths].map((path) => ({
    path,
    base: local.records.get(path)?.base ?? null,
    local: local.versions.has(path) ? local.versions.get(path)! : (extraLocal.get(path) ?? null),
    remote: versionIn(record, path),
  }));
}

export async function status(ctx: TrackContext, options: { fetch?: boolean }): Promise<StatusReport> {
  return withFolder(ctx, async (folder) => {
    const scanned = scanFiles(folder.root, ignoreFilter(folder.root));
    const local = await checkLocal(ctx, folder, scanned);
    const record = options.fetch ? await fetchRecord(ctx, folder) : cachedRecord(folder.root);
    const report: StatusReport = { new: [], modified: [], deleted: [], untracked: [], conflicting: [], incoming: [] };
    for (const [path, change] of local.changes) if (change !== 'unchanged' && change !== 'untracked') report[change].push(path);
    // A file `rm --cached` left here is untracked, though its record waits for the push that deletes it there.
    for (const path of scanned.keys()) if (!local.records.has(path) || local.records.get(path)!.removed) report.untracked.push(path);
    for (const action of reconcile(versionsOf(local, record))) {
      if (action.kind === 'conflict') report.conflicting.push(action.path);
      else if (action.kind === 'pull' || action.kind === 'deleteLocal') report.incoming.push(action.path);
    }
    for (const list of Object.values(report)) list.sort();
    return report;
  });
}

export interface DiffLine {
  path: string;
  change: Change | 'incoming' | 'conflict';
  /** Bytes here now, and in the remote record (undefined: none). */
  localSize?: number;
  remoteSize?: number;
}

export async function diff(ctx: TrackContext): Promise<DiffLine[]> {
  const report = await status(ctx, {});
  return withFolder(ctx, async ({ root }) => {
    const record = cachedRecord(root);
    const line = (path: string, change: DiffLine['change']): DiffLine => ({ path, change, localSize: statIn(root, path)?.size, remoteSize: record.files[path]?.size });
    return [
      ...report.new.map((p) => line(p, 'new')),
      ...report.modified.map((p) => line(p, 'modified')),
      ...report.deleted.map((p) => line(p, 'deleted')),
      ...report.conflicting.map((p) => line(p, 'conflict')),
      ...report.incoming.map((p) => line(p, 'incoming')),
    ];
  });
}

// --- push and pull ----------------------------------------------------------------------------

export interface SyncReport {
  moved: string[];
  deleted: string[];
  /** Refused: changed on both sides. */
  conflicts: string[];
  /** Left for the other command (a push leaves what changed there, a pull what changed here). */
  left: number;
  bytes: number;
}

function conflictError(conflicts: readonly string[], option: '--ours' | '--theirs', command: string): FcpError {
  return new FcpError('FCP_ERR_CONFLICT', `${conflicts.length} file${conflicts.length === 1 ? '' : 's'} changed here and there since the last sync, left as they are: ${conflicts.slice(0, 10).map(showName).join(', ')}${conflicts.length > 10 ? ', ...' : ''}`, {
    hint: `fcp-track ${command} ${option} takes ${option === '--ours' ? 'this side' : 'the remote side'}'s version of each`,
  });
}

function logEntry(action: LogEntry['action'], files: number, deleted: number, bytes: number): LogEntry {
  return { at: new Date().toISOString(), who: who(), action, files, deleted, bytes };
}

/** The records of paths synced to `version`, their stats read again. */
function syncedRecords(root: string, actions: readonly Action[], local: LocalState): TrackRecord[] {
  const records: TrackRecord[] = [];
  for (const action of actions) {
    const stat = statIn(root, action.path);
    if (!action.result || !stat) continue;
    const known = local.records.get(action.path);
    const cached = known && local.versions.get(action.path)?.hash === action.result.hash;
    // A pulled file's stat is new; a pushed one keeps the stat its digest was taken at.
    records.push({ path: action.path, stat: cached ? (local.stats.get(action.path) ?? stat) : stat, hash: action.result.hash, base: action.result, removed: false });
  }
  return records;
}

export async function push(ctx: TrackContext, options: { ours?: boolean }): Promise<SyncReport> {
  return withFolder(ctx, async (folder) => {
    const { root, config, db } = folder;
    const record = await fetchRecord(ctx, folder);
    const local = await checkLocal(ctx, folder);
    // Only what this clone tracks goes there; paths only there are the pull's.
    const versions = versionsOf(local, record).filter((v) => local.records.has(v.path));
    const actions = reconcile(versions, options.ours ? 'ours' : undefined);
    const sends = actions.filter((a) => a.kind === 'push');
    const deletes = actions.filter((a) => a.kind === 'deleteRemote');
    const settles = actions.filter((a) => a.kind === 'settle');
    let bytes = 0;
    if (sends.length > 0) {
      const summary = await copy(changedFiles(ctx, config, root, config.remote, sends.map((a) => a.path)));
      if (summary.errors.length > 0) throw summary.errors[0]!;
      bytes = summary.bytesSent;
    }
    if (deletes.length > 0) await deleteThere(root, config.remote, deletes.map((a) => a.path), copyOptions(ctx, config));
    const entry = logEntry('push', sends.length, deletes.length, bytes);
    const pushed = sends.map((a) => ({ path: a.path, version: a.result!, size: local.stats.get(a.path)?.size ?? 0 }));
    if (sends.length + deletes.length > 0) await writeRecord(ctx, folder, afterPush(record, config.clone, entry, pushed, deletes.map((a) => a.path)));
    db.update(syncedRecords(root, [...sends, ...settles], local), deletes.map((a) => a.path));
    if (sends.length + deletes.length > 0) db.addLog(entry);
    const conflicts = actions.filter((a) => a.kind === 'conflict').map((a) => a.path);
    const left = actions.filter((a) => a.kind === 'pull' || a.kind === 'deleteLocal').length;
    return { moved: sends.map((a) => a.path), deleted: deletes.map((a) => a.path), conflicts, left, bytes };
  });
}

/** Remote log entries by other clones that this clone has not shown yet. */
function othersPushes(record: RemoteRecord, folder: Folder): RemoteRecord['log'] {
  const seen = folder.db.meta(SEEN_LOG) ?? '';
  return record.log.filter((e) => e.clone !== folder.config.clone && e.at > seen);
}

export async function pull(ctx: TrackContext, options: { theirs?: boolean }): Promise<SyncReport> {
  return withFolder(ctx, async (folder) => {
    const { root, config, db } = folder;
    const record = await fetchRecord(ctx, folder);
    for (const e of othersPushes(record, folder)) {
      ctx.out(`${e.at} ${e.who} pushed ${e.files} file${e.files === 1 ? '' : 's'}, deleted ${e.deleted} (${e.bytes} bytes): ${e.paths.join(', ')}`);
    }
    const local = await checkLocal(ctx, folder);
    // A file here that is not tracked but is there: its content decides (the same: settled; else a conflict).
    const untrackedThere = Object.keys(record.files).filter((p) => !local.records.has(p) && statIn(root, p));
    const digests = await hashFiles(root, untrackedThere, hashProgress(ctx));
    const extra = new Map(untrackedThere.map((p) => [p, { hash: digests.get(p)!, mode: statIn(root, p)!.mode }]));
    const actions = reconcile(versionsOf(local, record, extra), options.theirs ? 'theirs' : undefined);
    const fetches = actions.filter((a) => a.kind === 'pull');
    const deletes = actions.filter((a) => a.kind === 'deleteLocal');
    const settles = actions.filter((a) => a.kind === 'settle');
    let bytes = 0;
    if (fetches.length > 0) {
      const summary = await copy(changedFiles(ctx, config, config.remote, root, fetches.map((a) => a.path)));
      if (summary.errors.length > 0) throw summary.errors[0]!;
      bytes = summary.bytesSent;
    }
    for (const a of deletes) fs.rmSync(nodePath.join(root, a.path), { force: true });
    db.update(syncedRecords(root, [...fetches, ...settles], local), deletes.map((a) => a.path));
    if (fetches.length + deletes.length > 0) db.addLog(logEntry('pull', fetches.length, deletes.length, bytes));
    const latest = record.log.at(-1)?.at;
    if (latest) db.setMeta(SEEN_LOG, latest);
    const conflicts = actions.filter((a) => a.kind === 'conflict').map((a) => a.path);
    const left = actions.filter((a) => a.kind === 'push' || a.kind === 'deleteRemote').length;
    return { moved: fetches.map((a) => a.path), deleted: deletes.map((a) => a.path), conflicts, left, bytes };
  });
}

/** A push's or pull's report as lines, and its refusal of conflicts as the error to exit with. */
export function syncOutcome(report: SyncReport, command: 'push' | 'pull'): { lines: string[]; error?: FcpError } {
  const verb = command === 'push' ? 'pushed' : 'pulled';
  const lines = [`${verb} ${report.moved.length} file${report.moved.length === 1 ? '' : 's'} (${report.bytes} bytes sent), deleted ${report.deleted.length}${command === 'push' ? ' there' : ' here'}`];
  if (report.left > 0) lines.push(`${report.left} change${report.left === 1 ? '' : 's'} ${command === 'push' ? 'there: run fcp-track pull' : 'here: run fcp-track push'}`);
  return { lines, error: report.conflicts.length > 0 ? conflictError(report.conflicts, command === 'push' ? '--ours' : '--theirs', command) : undefined };
}

export async function log(ctx: TrackContext): Promise<LogEntry[]> {
  return withFolder(ctx, async ({ db }) => db.log());
}

// --- repair -----------------------------------------------------------------------------------

/**
 * A database that cannot be read is moved aside and rebuilt: every file here that the remote
 * record has is tracked again, synced where its content is the record's; one that differs has no
 * base (a conflict to resolve, never silently overwritten). Files only here are untracked again.
 */
export async function repair(ctx: TrackContext): Promise<number> {
  const root = findRoot(ctx.cwd);
  const config = readConfig(root);
  const file = nodePath.join(root, STATE_DIR, DB_FILE);
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, `${file}.broken-${Date.now()}${suffix}`);
  }
  const db = TrackDb.open(file, true);
  try {
    const folder = { root, config, db };
    const record = await fetchRecord(ctx, folder);
    const here = Object.keys(record.files).filter((p) => statIn(root, p));
    const digests = await hashFiles(root, here, hashProgress(ctx));
    db.update(here.map((path) => {
      const stat = statIn(root, path)!;
      const now = { hash: digests.get(path)!, mode: stat.mode };
      const there = versionIn(record, path)!;
      return { path, stat, hash: now.hash, base: now.hash === there.hash && now.mode === there.mode ? there : null, removed: false };
    }));
    return here.length;
  } finally {
    db.close();
  }
}

