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
import { sshLogin } from '../client/remoteLauncher';
import { asFcpError, FcpError } from '../errors';
import { showName } from '../showName';
import { connectSsh, SshConnection } from '../ssh/sshClient';
import { LOG_PATHS, LogEntry, TrackDb } from '../state/trackDb';
import { deleteThere } from './deletions';
import { takeLock } from './remoteLock';
import {
  DB_FILE, Digest, findRoot, hashFiles, ignoreFilter, readConfig, scanFiles, stagingDir, STATE_DIR, statIn, tempDir, TrackConfig, writeConfig,
} from './folder';
import { ChunkRange, changedRanges } from './chunkDiff';
import { Action, reconcile, sameVersion, Version, Versions } from './reconcile';
import { afterPush, emptyRecord, parseRecord, RECORD_DIR, RECORD_NAME, RemoteRecord, versionIn } from './remoteRecord';
import { Change, changeAgainstBase, FileStat, quickChange, TrackRecord } from './status';

export interface TrackContext {
  cwd: string;
  /** A line of output (stdout). */
  out(line: string): void;
  /** A progress line (stderr, a terminal only), or undefined to show none. */
  progress?: (text: string) => void;
  /** --bwlimit of push and pull, bytes per second. */
  bwlimit?: number;
}

/** An open tracked folder. */
interface Folder {
  root: string;
  config: TrackConfig;
  db: TrackDb;
  /** While a push or pull runs: its one SSH login to the remote host, which each of its steps uses (loggedIn). */
  connection?: SshConnection;
}

const who = (): string => `${os.userInfo().username}@${os.hostname()}`;
/** Where schema 1 kept the remote record last fetched (now in the database's remote table). */
const LEGACY_RECORD = nodePath.join(STATE_DIR, RECORD_NAME);
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

function freshRecord(path: string, stat: FileStat, digest: Digest, previous: TrackRecord | undefined): TrackRecord {
  return { path, stat, hash: digest.hash, chunks: digest.chunks, base: previous?.base ?? null, removed: false };
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
    const records = db.records();
    const digests = await hashFiles(root, [...found.keys()], hashProgress(ctx));
    db.update([...found].map(([path, stat]) => freshRecord(path, stat, digests.get(path)!, records.get(path))));
    ctx.out(`${found.size} file${found.size === 1 ? '' : 's'} tracked`);
  });
}

export async function rm(ctx: TrackContext, paths: readonly string[], cached: boolean): Promise<void> {
  await withFolder(ctx, async ({ root, db }) => {
    const records = [...db.records().values()];
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
  /** The stat of tracked files here now (none: deleted), and of any other file the caller scanned. */
  stats: Map<string, FileStat>;
  /** Tracked paths that changed since their base (an unchanged path is not in it). */
  changes: Map<string, Exclude<Change, 'unchanged' | 'untracked'>>;
  /** The digests read this time: of files whose stat moved, and any the caller added. */
  digests: Map<string, Digest>;
}

/** A path's version here now: null when it is deleted, removed, or neither tracked nor digested. */
function versionHere(local: LocalState, path: string): Version | null {
  const record = local.records.get(path);
  const stat = local.stats.get(path);
  const hash = local.digests.get(path)?.hash ?? record?.hash;
  return !stat || record?.removed || hash === undefined ? null : { hash, mode: stat.mode };
}

/**
 * One lstat per tracked file (from `scanned` when the caller walked the folder anyway), a digest
 * only where size, mtime or ctime moved; the stat cache of files read again is refreshed. No
 * object per unchanged file: at 100,000 files the allocations cost more than the lstats.
 */
async function checkLocal(ctx: TrackContext, folder: Folder, scanned = new Map<string, FileStat>()): Promise<LocalState> {
  const { root, db } = folder;
  const local: LocalState = { records: db.records(), stats: scanned, changes: new Map(), digests: new Map() };
  const toHash: string[] = [];
  for (const record of local.records.values()) {
    let stat: FileStat | undefined;
    if (!record.removed) {
      stat = scanned.get(record.path);
      if (!stat) {
        stat = statIn(root, record.path);
        if (stat) scanned.set(record.path, stat);
      }
    }
    const change = quickChange(record, stat);
    if (change === 'hash') toHash.push(record.path);
    else if (change !== 'unchanged' && change !== 'untracked') local.changes.set(record.path, change);
  }
  local.digests = await hashFiles(root, toHash, hashProgress(ctx));
  const refreshed: TrackRecord[] = [];
  for (const [path, digest] of local.digests) {
    const record = local.records.get(path)!;
    const stat = scanned.get(path)!;
    const change = changeAgainstBase(record, digest.hash, stat.mode);
    if (change !== 'unchanged') local.changes.set(path, change as 'new' | 'modified');
    refreshed.push({ ...record, stat, hash: digest.hash, chunks: digest.chunks });
  }
  db.update(refreshed);
  return local;
}

// --- the remote record ------------------------------------------------------------------------

function remoteJoin(remote: string, rel: string): string {
  return `${remote.replace(/\/+$/, '')}/${rel}`;
}

function copyOptions(ctx: TrackContext, folder: Folder): Pick<CopyOptions, 'ssh' | 'bwlimit'> {
  const ssh = folder.connection ? { ...folder.config.ssh, connection: folder.connection } : folder.config.ssh;
  return { ssh, ...(ctx.bwlimit ? { bwlimit: ctx.bwlimit } : {}) };
}

/**
 * Runs `work` with one SSH login to the remote folder's host, made here and closed at the end:
 * the lock's commands and each copy's fcpd (the record, the data, the deletions) go over it, where
 * each used to log in again (most of a small push's time on a fast link).
 */
async function loggedIn<T>(folder: Folder, work: () => Promise<T>): Promise<T> {
  const location = parseLocation(folder.config.remote);
  // Not a folder over SSH (init refuses one): the copies report it as they did.
  if (location.kind !== 'remote' || location.daemon) return work();
  const { host, context } = sshLogin(location, folder.config.ssh, () => {});
  folder.connection = await connectSsh(host, context);
  try {
    return await work();
  } finally {
    folder.connection.close();
    folder.connection = undefined;
  }
}

/**
 * A copy of files known to have changed: -I, since a change of the same size within the same
 * mtime tick would pass the quick check; the delta still sends only the blocks that differ.
 */
function changedFiles(ctx: TrackContext, folder: Folder, source: string, destination: string, paths: readonly string[]): CopyOptions {
  return { sources: [source], destination, filesFrom: [...paths], ignoreTimes: true, ...copyOptions(ctx, folder) };
}

/** The remote record (empty when the remote folder has none yet), its files also kept in the database. */
async function fetchRecord(ctx: TrackContext, folder: Folder): Promise<RemoteRecord> {
  const dir = tempDir();
  try {
    await copy({ sources: [remoteJoin(folder.config.remote, `${RECORD_DIR}/${RECORD_NAME}`)], destination: dir, ...copyOptions(ctx, folder) });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (asFcpError(err).code !== 'FCP_ERR_NOT_FOUND') throw err;
    folder.db.setRemote({}, new Date().toISOString());
    return emptyRecord();
  }
  try {
    const record = parseRecord(fs.readFileSync(nodePath.join(dir, RECORD_NAME), 'utf8'));
    folder.db.setRemote(record.files, new Date().toISOString());
    return record;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The remote record last fetched against each path's base: the paths whose version there is
 * not their base (null: not there). A schema 1 folder's copy of the record is taken in once.
 */
function remoteAgainstBase(folder: Folder): Map<string, Version | null> {
  const legacy = nodePath.join(folder.root, LEGACY_RECORD);
  if (!folder.db.remoteKnown() && fs.existsSync(legacy)) {
    folder.db.setRemote(parseRecord(fs.readFileSync(legacy, 'utf8')).files, fs.statSync(legacy).mtime.toISOString());
    fs.rmSync(legacy);
  }
  return folder.db.remoteAgainstBase();
}

async function writeRecord(ctx: TrackContext, folder: Folder, record: RemoteRecord): Promise<void> {
  const text = `${JSON.stringify(record)}\n`;
  const dir = stagingDir(folder.root);
  try {
    fs.mkdirSync(nodePath.join(dir, RECORD_DIR));
    fs.writeFileSync(nodePath.join(dir, RECORD_DIR, RECORD_NAME), text);
    // fcp's receiver writes a temporary and renames it once verified: readers see the old record or the new one.
    await copy(changedFiles(ctx, folder, dir, folder.config.remote, [`${RECORD_DIR}/${RECORD_NAME}`]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  folder.db.setRemote(record.files, new Date().toISOString());
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

/**
 * The versions of every path that may need an action: changed here, or there (`there`: the
 * paths whose remote version is not their base). The others, unchanged on both sides, are most
 * paths most times.
 */
function versionsOf(local: LocalState, there: Map<string, Version | null>): Versions[] {
  return [...new Set([...local.changes.keys(), ...there.keys()])].map((path) => {
    const base = local.records.get(path)?.base ?? null;
    return { path, base, local: versionHere(local, path), remote: there.has(path) ? there.get(path)! : base };
  });
}

export async function status(ctx: TrackContext, options: { fetch?: boolean }): Promise<StatusReport> {
  return withFolder(ctx, async (folder) => {
    const scanned = scanFiles(folder.root, ignoreFilter(folder.root));
    const local = await checkLocal(ctx, folder, scanned);
    if (options.fetch) await fetchRecord(ctx, folder);
    const report: StatusReport = { new: [], modified: [], deleted: [], untracked: [], conflicting: [], incoming: [] };
    for (const [path, change] of local.changes) report[change].push(path);
    // A file `rm --cached` left here is untracked, though its record waits for the push that deletes it there.
    for (const path of scanned.keys()) if (!local.records.has(path) || local.records.get(path)!.removed) report.untracked.push(path);
    for (const action of reconcile(versionsOf(local, remoteAgainstBase(folder)))) {
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
  /** Bytes here now, and in the remote record last fetched (undefined: none). */
  localSize?: number;
  remoteSize?: number;
  /**
   * A modified or conflicting file: the chunks that differ from its content at the last sync
   * (none: only the mode changed). Left out where either side's chunk hashes are not known.
   */
  chunkSize?: number;
  ranges?: ChunkRange[];
}

/** status, and each changed file's sizes and, compared by chunk hashes (no file read but those status reads), its changed chunks. */
export async function diff(ctx: TrackContext): Promise<DiffLine[]> {
  const report = await status(ctx, {});
  return withFolder(ctx, async ({ root, db }) => {
    const chunks = db.chunksOf([...report.modified, ...report.conflicting]);
    const line = (path: string, change: DiffLine['change']): DiffLine => {
      const localSize = statIn(root, path)?.size;
      const remoteSize = db.remoteFile(path)?.size;
      const known = chunks.get(path);
      if (!known?.now || !known.base) return { path, change, localSize, remoteSize };
      const ranges = changedRanges(known.now, known.base, known.chunkSize, Math.max(localSize ?? 0, remoteSize ?? 0));
      return { path, change, localSize, remoteSize, chunkSize: known.chunkSize, ranges };
    };
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

function logEntry(action: LogEntry['action'], moved: readonly Action[], deleted: readonly Action[], bytes: number): LogEntry {
  const paths = [...moved, ...deleted].slice(0, LOG_PATHS).map((a) => a.path);
  return { at: new Date().toISOString(), who: who(), action, files: moved.length, deleted: deleted.length, bytes, paths };
}

/**
 * The records of paths synced by these actions: a pushed or settled file at the stat its digest
 * was taken at (a change during the push shows at the next status); a pulled one as read after
 * the copy (`pulled`), which is then what both sides hold.
 */
function syncedRecords(actions: readonly Action[], local: LocalState, pulled = new Map<string, Digest>()): TrackRecord[] {
  const records: TrackRecord[] = [];
  for (const { path, result } of actions) {
    const stat = local.stats.get(path);
    const read = pulled.get(path);
    if (!result || !stat) continue;
    if (read) records.push({ path, stat, hash: read.hash, chunks: read.chunks, base: { hash: read.hash, mode: stat.mode }, removed: false });
    else records.push({ path, stat, hash: result.hash, chunks: local.digests.get(path)?.chunks, base: result, removed: false });
  }
  return records;
}

/** Stats and digests of these files here into `local` (files pulled, or found where the remote record has them). */
async function readInto(ctx: TrackContext, root: string, local: LocalState, paths: readonly string[]): Promise<Map<string, Digest>> {
  const present = paths.filter((path) => {
    const stat = statIn(root, path);
    if (stat) local.stats.set(path, stat);
    return stat !== undefined;
  });
  const digests = await hashFiles(root, present, hashProgress(ctx));
  for (const [path, digest] of digests) local.digests.set(path, digest);
  return digests;
}

export async function push(ctx: TrackContext, options: { ours?: boolean }): Promise<SyncReport> {
  return withFolder(ctx, (folder) =>
    loggedIn(folder, async () => {
      // Held from reading the record to writing the next: two pushes never interleave.
      const lock = await takeLock(folder.config, folder.connection!, who());
      try {
        return await pushLocked(ctx, folder, options);
      } finally {
        // One that cannot be removed goes stale (remoteLock.ts) and is taken over then.
        await lock.release().catch(() => undefined);
      }
    }),
  );
}

async function pushLocked(ctx: TrackContext, folder: Folder, options: { ours?: boolean }): Promise<SyncReport> {
  const { root, config, db } = folder;
  const record = await fetchRecord(ctx, folder);
  const local = await checkLocal(ctx, folder);
  // Only what this clone tracks goes there; paths only there are the pull's.
  const versions = versionsOf(local, db.remoteAgainstBase()).filter((v) => local.records.has(v.path));
  const actions = reconcile(versions, options.ours ? 'ours' : undefined);
  const sends = actions.filter((a) => a.kind === 'push');
  const deletes = actions.filter((a) => a.kind === 'deleteRemote');
  const settles = actions.filter((a) => a.kind === 'settle');
  let bytes = 0;
  if (sends.length > 0) {
    const summary = await copy(changedFiles(ctx, folder, root, config.remote, sends.map((a) => a.path)));
    if (summary.errors.length > 0) throw summary.errors[0]!;
    bytes = summary.bytesSent;
  }
  if (deletes.length > 0) await deleteThere(root, config.remote, deletes.map((a) => a.path), copyOptions(ctx, folder));
  const entry = logEntry('push', sends, deletes, bytes);
  const pushed = sends.map((a) => ({ path: a.path, version: a.result!, size: local.stats.get(a.path)?.size ?? 0 }));
  if (sends.length + deletes.length > 0) await writeRecord(ctx, folder, afterPush(record, config.clone, entry, pushed, deletes.map((a) => a.path)));
  db.update(syncedRecords([...sends, ...settles], local), deletes.map((a) => a.path));
  if (sends.length + deletes.length > 0) db.addLog(entry);
  const conflicts = actions.filter((a) => a.kind === 'conflict').map((a) => a.path);
  const left = actions.filter((a) => a.kind === 'pull' || a.kind === 'deleteLocal').length;
  return { moved: sends.map((a) => a.path), deleted: deletes.map((a) => a.path), conflicts, left, bytes };
}

/** Remote log entries by other clones that this clone has not shown yet. */
function othersPushes(record: RemoteRecord, folder: Folder): RemoteRecord['log'] {
  const seen = folder.db.meta(SEEN_LOG) ?? '';
  return record.log.filter((e) => e.clone !== folder.config.clone && e.at > seen);
}

export async function pull(ctx: TrackContext, options: { theirs?: boolean }): Promise<SyncReport> {
  return withFolder(ctx, (folder) => loggedIn(folder, () => pullLogged(ctx, folder, options)));
}

async function pullLogged(ctx: TrackContext, folder: Folder, options: { theirs?: boolean }): Promise<SyncReport> {
  const { root, config, db } = folder;
  const record = await fetchRecord(ctx, folder);
  for (const e of othersPushes(record, folder)) {
    ctx.out(`${e.at} ${e.who} pushed ${e.files} file${e.files === 1 ? '' : 's'}, deleted ${e.deleted} (${e.bytes} bytes): ${e.paths.join(', ')}`);
  }
  const local = await checkLocal(ctx, folder);
  // A file here that is not tracked but is there: its content decides (the same: settled; else a conflict).
  await readInto(ctx, root, local, Object.keys(record.files).filter((p) => !local.records.has(p)));
  const actions = reconcile(versionsOf(local, db.remoteAgainstBase()), options.theirs ? 'theirs' : undefined);
  const fetches = actions.filter((a) => a.kind === 'pull');
  const deletes = actions.filter((a) => a.kind === 'deleteLocal');
  const settles = actions.filter((a) => a.kind === 'settle');
  let bytes = 0;
  if (fetches.length > 0) {
    const summary = await copy(changedFiles(ctx, folder, config.remote, root, fetches.map((a) => a.path)));
    if (summary.errors.length > 0) throw summary.errors[0]!;
    bytes = summary.bytesSent;
  }
  // Read back: the chunk hashes diff compares later, and the content as it arrived.
  const pulled = await readInto(ctx, root, local, fetches.map((a) => a.path));
  for (const a of deletes) fs.rmSync(nodePath.join(root, a.path), { force: true });
  db.update(syncedRecords([...fetches, ...settles], local, pulled), deletes.map((a) => a.path));
  if (fetches.length + deletes.length > 0) db.addLog(logEntry('pull', fetches, deletes, bytes));
  const latest = record.log.at(-1)?.at;
  if (latest) db.setMeta(SEEN_LOG, latest);
  const conflicts = actions.filter((a) => a.kind === 'conflict').map((a) => a.path);
  const left = actions.filter((a) => a.kind === 'push' || a.kind === 'deleteRemote').length;
  return { moved: fetches.map((a) => a.path), deleted: deletes.map((a) => a.path), conflicts, left, bytes };
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
      const { hash, chunks } = digests.get(path)!;
      const there = versionIn(record, path)!;
      return { path, stat, hash, chunks, base: sameVersion({ hash, mode: stat.mode }, there) ? there : null, removed: false };
    }));
    return here.length;
  } finally {
    db.close();
  }
}

