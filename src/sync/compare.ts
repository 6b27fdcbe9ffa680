/**
 * The receiver's decision for one announced entry (rsync's comparison modes, PROTOCOL.md §7.8):
 * what the sender's listing says of it, what the destination holds under its name (lstat), and
 * the options the request carries in, the action and the itemized change (rsync's `%i`) out.
 * Pure: the receiving engine stats, asks, and does what it is told.
 */

export type EntryKind = 'file' | 'dir' | 'symlink';

/** What the listing (FILE_INFO, DIR_INFO, SYMLINK) says of an entry. */
export interface ListedEntry {
  kind: EntryKind;
  /** Files only. */
  size: number;
  mtimeNs: bigint;
  /** Permission bits (mode & 0o7777); symlinks have none that count. */
  perm: number;
  /** Symlinks only. */
  target?: Buffer;
}

/** What the destination holds under the entry's name (lstat, readlink): 'other' for a FIFO, socket or device. */
export interface FoundEntry {
  kind: EntryKind | 'other';
  size: number;
  mtimeNs: bigint;
  perm: number;
  target?: Buffer;
}

/** How a file with data already at the destination is judged (rsync's options of the same names). */
export interface CompareRules {
  /** -I: every file is sent. */
  ignoreTimes: boolean;
  /** --size-only: a file of the same size is the same file. */
  sizeOnly: boolean;
  /** --checksum: a file of the same size is the same file when its whole-file digest is. */
  checksum: boolean;
  /** -u: a file whose destination copy is newer is left as it is. */
  update: boolean;
  /** --ignore-existing: anything already at the destination is left as it is. */
  ignoreExisting: boolean;
  /** --existing (--ignore-non-existing): nothing is created where nothing is; what is there is judged as ever. */
  existing: boolean;
  /** --min-size, --max-size: a file outside them is left, whatever is at the destination. */
  minSize?: number;
  maxSize?: number;
}

export const QUICK_CHECK: CompareRules = { ignoreTimes: false, sizeOnly: false, checksum: false, update: false, ignoreExisting: false, existing: false };

/**
 * send: create or replace the entry (a file's data is sent); replace: a different type is there
 * and goes first. metadata: the data is the same, apply the listed mode and mtime. keep: nothing
 * to do. skip: left as it is (-u, --ignore-existing, --min-size, --max-size), or not created
 * (--existing). digest (--checksum, a file of the same
 * size): compare whole-file digests, then decide again with `sameContent`.
 */
export type Decision =
  | { action: 'send'; replace: boolean; item: string }
  | { action: 'metadata'; item: string }
  | { action: 'keep' }
  | { action: 'skip' }
  | { action: 'digest' };

const TYPE_LETTER: Record<EntryKind, string> = { file: 'f', dir: 'd', symlink: 'L' };
/** The attribute columns of a new entry: rsync's `+++++++++`. */
const ALL_NEW = '+++++++++';

/** Whether these rules may leave a file as it is (decide's `skip`): -u, --ignore-existing, --existing, --min-size, --max-size. */
export function leavesFiles(rules: Pick<CompareRules, 'update' | 'ignoreExisting' | 'existing' | 'minSize' | 'maxSize'>): boolean {
  return rules.update || rules.ignoreExisting || rules.existing || rules.minSize !== undefined || rules.maxSize !== undefined;
}

/** A file of `size` bytes is one --min-size or --max-size leave out. */
export function outsideSizes(size: number, rules: Pick<CompareRules, 'minSize' | 'maxSize'>): boolean {
  return (rules.minSize !== undefined && size < rules.minSize) || (rules.maxSize !== undefined && size > rules.maxSize);
}

/** The same mtime, to the microsecond: what a receiver sets (PROTOCOL.md §7.2). */
export function sameTime(a: bigint, b: bigint): boolean {
  return a / 1000n === b / 1000n;
}

/** rsync's `%i` for an entry that changed: update letter, type, then c s t p and six columns fcp never sets. */
export function itemString(update: string, kind: EntryKind, changed: { c?: boolean; s?: boolean; t?: boolean; p?: boolean }): string {
  const flag = (on: boolean | undefined, letter: string): string => (on ? letter : '.');
  return `${update}${TYPE_LETTER[kind]}${flag(changed.c, 'c')}${flag(changed.s, 's')}${flag(changed.t, 't')}${flag(changed.p, 'p')}.....`;
}

/** rsync's `%i` for an entry created (or replacing one of another type). */
export function newItemString(kind: EntryKind): string {
  return `${kind === 'file' ? '>' : 'c'}${TYPE_LETTER[kind]}${ALL_NEW}`;
}

/**
 * rsync's `%i` for a hard link to be made at a name (-H): `hf+++++++++` where no file is, none
 * where the name is that file already (sameFile), else what differs from `file`, the one it will
 * name, at the destination (undefined in a dry run that did not make it: all new then too).
 */
export function hardlinkItem(found: FoundEntry | undefined, file: FoundEntry | undefined, sameFile: boolean): string | undefined {
  if (sameFile) return undefined;
  if (found?.kind !== 'file' || file === undefined) return `hf${ALL_NEW}`;
  return itemString('h', 'file', { s: found.size !== file.size, t: !sameTime(found.mtimeNs, file.mtimeNs), p: found.perm !== file.perm });
}

/** rsync's `%i` of a deletion: `*deleting` in the 11 columns. */
export const DELETING_ITEM = '*deleting  ';

/**
 * The decision for `listed` given what the destination holds (`found`, undefined when nothing is
 * there). `sameContent` is the answer to a `digest` decision: whether the whole-file digests match.
 */
export function decide(listed: ListedEntry, found: FoundEntry | undefined, rules: CompareRules, sameContent?: boolean): Decision {
  if (listed.kind === 'file' && outsideSizes(listed.size, rules)) return { action: 'skip' };
  if (found === undefined) return rules.existing ? { action: 'skip' } : { action: 'send', replace: false, item: newItemString(listed.kind) };
  if (found.kind !== listed.kind) {
    // -u keeps a newer file over anything; rsync replaces other types (and --ignore-existing keeps anything).
    if (rules.ignoreExisting) return { action: 'skip' };
    return { action: 'send', replace: true, item: newItemString(listed.kind) };
  }
  // rsync's --ignore-existing leaves existing files, not the directories it goes on into.
  if (rules.ignoreExisting && listed.kind !== 'dir') return { action: 'skip' };
  const t = !sameTime(listed.mtimeNs, found.mtimeNs);
  const p = listed.kind !== 'symlink' && listed.perm !== found.perm;
  switch (listed.kind) {
    case 'dir':
      return t || p ? { action: 'metadata', item: itemString('.', 'dir', { t, p }) } : { action: 'keep' };
    case 'symlink':
      if (!listed.target!.equals(found.target!)) return { action: 'send', replace: false, item: itemString('c', 'symlink', { c: true, t }) };
      return t ? { action: 'metadata', item: itemString('.', 'symlink', { t }) } : { action: 'keep' };
    case 'file':
      return decideFile(listed, found, rules, t, p, sameContent);
  }
}

function decideFile(listed: ListedEntry, found: FoundEntry, rules: CompareRules, t: boolean, p: boolean, sameContent: boolean | undefined): Decision {
  if (rules.update && found.mtimeNs / 1000n > listed.mtimeNs / 1000n) return { action: 'skip' };
  const s = listed.size !== found.size;
  let same: boolean;
  if (rules.ignoreTimes) same = false;
  else if (s) same = false;
  else if (rules.checksum) {
    if (sameContent === undefined) return { action: 'digest' };
    same = sameContent;
  } else same = rules.sizeOnly || !t;
  if (!same) return { action: 'send', replace: false, item: itemString('>', 'file', { c: rules.checksum && !s, s, t, p }) };
  return t || p ? { action: 'metadata', item: itemString('.', 'file', { t, p }) } : { action: 'keep' };
}
