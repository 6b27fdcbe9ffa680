/**
 * The remote record of a tracked folder: `.fcp/remote-state.json` in the remote folder, the
 * state every clone pushed to (README "Tracked folders" documents the format). Push replaces it
 * last, once the files are in place; pull and status read it. Pure: parsing (it comes from the
 * remote host: every path and field is checked) and building the next one.
 */
import { FcpError } from '../errors';
import { listedPath } from '../sync/filesFrom';
import type { LogEntry } from '../state/trackDb';
import type { Version } from './reconcile';

export const RECORD_FORMAT = 'fcp-track-remote';
export const RECORD_VERSION = 1;
/** Where the record lives, relative to the remote folder (and its cached copy, relative to the local one). */
export const RECORD_DIR = '.fcp';
export const RECORD_NAME = 'remote-state.json';
/** The remote log keeps this many entries, the latest. */
const MAX_LOG = 1000;

export interface RecordFile extends Version {
  size: number;
  /** The clone that pushed this version. */
  by: string;
}

export interface RemoteLogEntry extends LogEntry {
  /** The clone that pushed. */
  clone: string;
}

export interface RemoteRecord {
  format: typeof RECORD_FORMAT;
  version: typeof RECORD_VERSION;
  files: Record<string, RecordFile>;
  /** Per clone: who it is and when it last pushed. */
  clones: Record<string, { who: string; pushedAt: string }>;
  log: RemoteLogEntry[];
}

export function emptyRecord(): RemoteRecord {
  return { format: RECORD_FORMAT, version: RECORD_VERSION, files: {}, clones: {}, log: [] };
}

function bad(why: string): FcpError {
  return new FcpError('FCP_ERR_TRACK_STATE', `the remote record ${RECORD_DIR}/${RECORD_NAME} is not valid: ${why}`, {
    hint: 'a newer fcp may have written it; or fcp-track repair, then push, writes a new one',
  });
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isText = (s: unknown): s is string => typeof s === 'string' && s.length <= 4096;

/** A path from the record: relative, normalized, inside the folder, not the record's own directory. */
function checkPath(path: string): void {
  const bytes = Buffer.from(path);
  let normalized: Buffer;
  try {
    normalized = listedPath(bytes, 'FCP_ERR_BAD_FIELD');
  } catch {
    throw bad(`path ${JSON.stringify(path)} leads out of the folder`);
  }
  if (normalized.length === 0 || !normalized.equals(bytes) || path === RECORD_DIR || path.startsWith(`${RECORD_DIR}/`)) throw bad(`path ${JSON.stringify(path)} is not a file of the folder`);
}

export function parseRecord(text: string): RemoteRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const record = value as RemoteRecord;
  if (typeof value !== 'object' || value === null || record.format !== RECORD_FORMAT) throw bad('not an fcp-track record');
  if (record.version !== RECORD_VERSION) throw bad(`version ${String(record.version)}, this fcp reads ${RECORD_VERSION}`);
  if (typeof record.files !== 'object' || record.files === null || typeof record.clones !== 'object' || record.clones === null || !Array.isArray(record.log)) throw bad('files, clones or log missing');
  for (const [path, file] of Object.entries(record.files)) {
    checkPath(path);
    if (typeof file !== 'object' || file === null || !/^[0-9a-f]{64}$/.test(file.hash) || !isCount(file.mode) || file.mode > 0o7777 || !isCount(file.size) || !isText(file.by)) {
      throw bad(`the entry of ${JSON.stringify(path)} is malformed`);
    }
  }
  for (const entry of record.log) {
    if (typeof entry !== 'object' || entry === null || !isText(entry.at) || !isText(entry.who) || !isText(entry.clone) || !isCount(entry.files) || !isCount(entry.deleted) || !isCount(entry.bytes) || !Array.isArray(entry.paths) || !entry.paths.every(isText)) {
      throw bad('a log entry is malformed');
    }
  }
  return record;
}

export function versionIn(record: RemoteRecord, path: string): Version | null {
  const file = Object.prototype.hasOwnProperty.call(record.files, path) ? record.files[path] : undefined;
  return file ? { hash: file.hash, mode: file.mode } : null;
}

/** The record after a push by `clone`: `pushed` set (with their sizes), `deleted` removed, the push logged. */
export function afterPush(
  record: RemoteRecord,
  clone: string,
  entry: LogEntry,
  pushed: readonly { path: string; version: Version; size: number }[],
  deleted: readonly string[],
): RemoteRecord {
  const files = { ...record.files };
  for (const { path, version, size } of pushed) files[path] = { hash: version.hash, mode: version.mode, size, by: clone };
  for (const path of deleted) delete files[path];
  return {
    ...record,
    files,
    clones: { ...record.clones, [clone]: { who: entry.who, pushedAt: entry.at } },
    log: [...record.log, { ...entry, clone }].slice(-MAX_LOG),
  };
}
