/**
 * The change check of a tracked folder, pure: from a file's record (what was hashed last, and the
 * version at the last sync) and one lstat, what the file is now. Size, mtime and ctime equal to
 * the record's: the content is the recorded one, no read needed. Otherwise the caller hashes the
 * file and asks again with the digest: an mtime-only touch is then unchanged, a chmod modified.
 */
import type { Version } from './reconcile';

/** One lstat of a regular file, as the check compares it. */
export interface FileStat {
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

export interface TrackRecord {
  path: string;
  /** The stat the recorded digest was taken at (the stat cache). */
  stat: FileStat;
  /** The content digest at that stat. */
  hash: string;
  /** The version at the last push or pull of this path; null: never synced (added since). */
  base: Version | null;
  /** `fcp-track rm`: to be deleted there at the next push (the record stays until then). */
  removed: boolean;
  /** The chunk hashes of the content at `hash`, when just read (trackDb keeps the stored ones otherwise). */
  chunks?: Buffer;
}

export type Change = 'unchanged' | 'new' | 'modified' | 'deleted' | 'untracked';

/** A change, or 'hash' when only the content can tell (the stat differs from the recorded one). */
export function quickChange(record: TrackRecord | undefined, stat: FileStat | undefined): Change | 'hash' {
  if (!record) return stat ? 'untracked' : 'deleted';
  if (record.removed || !stat) return 'deleted';
  const cached = record.stat;
  if (stat.size !== cached.size || stat.mtimeNs !== cached.mtimeNs || stat.ctimeNs !== cached.ctimeNs) return 'hash';
  return changeAgainstBase(record, record.hash, stat.mode);
}

/** A tracked file's change from its content's digest and its mode now (the digest read when quickChange said 'hash'). */
export function changeAgainstBase(record: TrackRecord, hash: string, mode: number): Change {
  if (record.base === null) return 'new';
  return record.base.hash === hash && record.base.mode === mode ? 'unchanged' : 'modified';
}
