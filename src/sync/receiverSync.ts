/**
 * A sync's receiving side (PROTOCOL.md §7.8): the decision for every announced entry (compare.ts)
 * acted on at the destination (metadata without data, a type replaced, nothing at all in a dry
 * run), the changes reported as rsync's itemized lines, and at the end the --delete pass over the
 * directories the listing announced. The receiving engine asks it before it creates anything.
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import type { XXHashAPI } from '../protocol/xxhash';
import type { FileOwner } from '../transfer/fileWriter';
import { decide, DELETING_ITEM, CompareRules, EntryKind, FoundEntry, hardlinkItem, leavesFiles, ListedEntry, outsideSizes } from './compare';
import { applyMetadata, inspect, Inspected, removeForReplacement, replacementRefusal } from './destinationEntry';
import { contentsOf, isBackupName, maxDeleteError, removeEntry } from './deletion';
import { DeletionListing } from './deletionListing';
import { digestOfFile, DIGESTS_AT_ONCE, JobLimiter } from './fileDigest';
import { relativeName } from './itemize';
import type { SyncOptions } from './options';

const ZERO_DIGEST_BYTE = 0;

/** One change at the destination: rsync's `%i`, the entry path, what kind of entry it names. */
export interface ItemReport {
  item: string;
  path: Buffer;
  isDir: boolean;
  /** A symlink's target. */
  target?: Buffer;
}

export interface ReceiverSyncOptions {
  rules: CompareRules;
  sync: SyncOptions;
  /** MODE's CONTENTS: entry paths are named without their first component. */
  contents: boolean;
  backupSuffix: Buffer | undefined;
  xxh: XXHashAPI;
  chunkSize: number;
  partialDir?: Buffer;
  report(item: ItemReport): void;
  /** Filters' keep-hook for --delete: excluded entries are kept unless --delete-excluded. */
  protect?: (relPath: string, isDir: boolean) => boolean;
  /**
   * --max-depth: whether the listing names what the directory at this entry path holds. One past
   * the depth is sent without its contents, and --delete leaves what it holds alone.
   */
  listsContents?: (entry: Buffer) => boolean;
  /**
   * MODE's ONE_FILE_SYSTEM (-x), for --delete: a mount point the sender did not enter is announced
   * as an empty directory, which the receiver cannot tell from one that is empty, so what any
   * directory announced empty holds stays (safe: extraneous entries below an empty source
   * directory stay too); and no extraneous directory on another file system is gone into.
   */
  oneFileSystem?: boolean;
  /** A symlink already as listed is made again, not kept (FileWriterOptions.renewsSymlinks: a sender that removes its sources checks its inode). */
  renewsSymlinks?: boolean;
  /** -H (HARD_LINKS): other names of a file may come, linked to it (hardlink). */
  hardLinks?: boolean;
}

/** What to do with an announced file: send it, or settle it with FILE_SAME (the same data, or skipped, or a dry run). */
export type FileOutcome = 'send' | 'same';

/** What --delete leaves: what the filters exclude, and with --backup the backups it made before. */
function keeping(protect: ReceiverSyncOptions['protect'], backupSuffix: Buffer | undefined): ReceiverSyncOptions['protect'] {
  if (!backupSuffix) return protect;
  return (relPath, isDir) => isBackupName(relPath, backupSuffix) || (protect?.(relPath, isDir) ?? false);
}

export class ReceiverSync {
  /** --delete: what the listing announced, directory by directory; none without --delete, which alone needs it. */
  private readonly deletions: DeletionListing | undefined;
  private readonly digests = new JobLimiter(DIGESTS_AT_ONCE);
  /** The sender skipped entries (ENTRY_ERROR): as rsync after an I/O error, nothing is deleted. */
  private senderSkipped = false;
  /**
   * -H with an option that leaves files: the files left, by entry path (latin1), and whether the
   * size limits left them (their other names are of the same size, so left too) or -u,
   * --ignore-existing or --existing (what the destination holds there is not the source's data, so
   * no other name may be linked to it). Kept only where links can come.
   */
  private readonly left: Map<string, 'size' | 'kept'> | undefined;

  constructor(private readonly options: ReceiverSyncOptions) {
    const { sync, contents, partialDir } = options;
    this.deletions = sync.delete
      ? new DeletionListing({
          relative: (entry) => relativeName(entry, contents).toString('latin1'),
          protect: sync.deleteExcluded ? undefined : keeping(options.protect, options.backupSuffix),
          partialDir,
          oneFileSystem: options.oneFileSystem,
        })
      : undefined;
    this.left = options.hardLinks && leavesFiles(options.rules) ? new Map() : undefined;
  }

  /** --delete: names held for the directories still being announced (a test seam). */
  get heldNames(): number {
    return this.deletions?.heldNames ?? 0;
  }

  get dryRun(): boolean {
    return this.options.sync.dryRun;
  }

  /** A source entry the sender could not send: deleting its destination copy would lose it. */
  entrySkippedBySender(): void {
    this.senderSkipped = true;
  }

  /**
   * Every entry the sender announces, as it comes (DIR_INFO, SYMLINK, FILE_INFO, FILE_INLINE,
   * HARDLINK), before anything is decided or created for it: what --delete keeps.
   */
  announced(entry: Buffer, isDir: boolean): void {
    this.deletions?.entry(entry, isDir);
  }

  /**
   * A hard link `entry` (at `local`) to the file at entry path `target` (at `targetLocal`): made by
   * the writer, but not in a dry run, nor where --existing finds nothing or --ignore-existing finds
   * something (rsync's rules for any name), nor for a file the size limits left, and never to a
   * file another option left (linkRefusal's error, thrown); itemized as rsync does
   * (`hf+++++++++ name => target`).
   */
  hardlink(entry: Buffer, local: Buffer, target: Buffer, targetLocal: Buffer): boolean {
    const found = inspect(local);
    const { existing, ignoreExisting } = this.options.rules;
    if ((existing && !found) || (ignoreExisting && found)) return false;
    if (this.left?.get(target.toString('latin1')) === 'size') return false;
    const refusal = this.linkRefusal(entry, target);
    if (refusal) throw refusal;
    const file = inspect(targetLocal);
    const sameFile = found !== undefined && file !== undefined && found.ino === file.ino && found.dev === file.dev;
    const item = hardlinkItem(found?.found, file?.found, sameFile);
    if (item) this.report(item, entry, 'file', target);
    return !this.dryRun;
  }

  /**
   * Why no other name may be linked to the file at entry path `target`: -u, --ignore-existing or
   * --existing left it as it is, so its data there is not the source's (rsync sends such a name's
   * data instead; fcp has only the link to make, and refuses it). Undefined when it may.
   */
  private linkRefusal(path: Buffer, target: Buffer): FcpError | undefined {
    if (this.left?.get(target.toString('latin1')) !== 'kept') return undefined;
    return new FcpError('FCP_ERR_CONFLICT', `${showName(path)} is not linked: ${showName(target)}, the file it names, was left as it is by -u, --ignore-existing or --existing, so its data at the destination is not the source's`, {
      hint: 'copy this name without -H, or sync without that option',
    });
  }

  /** DIR_INFO: true when the writer is to create the directory (or take the one there). */
  directory(entry: Buffer, local: Buffer, listed: ListedEntry, owner: FileOwner | undefined): boolean {
    const found = inspect(local);
    const decision = decide(listed, found?.found, this.options.rules);
    if (decision.action === 'skip' || decision.action === 'digest') return false;
    if (decision.action !== 'keep') this.report(decision.item, entry, 'dir');
    if (this.options.listsContents?.(entry) !== false) this.deletions?.scan(entry, local);
    if (this.dryRun) return false;
    // What is in the way is a file or symlink (never a directory: that is the same type).
    if (decision.action === 'send' && decision.replace) removeForReplacement(local, found!.found, this.options.backupSuffix, this.deletes);
    else if (found && owner) applyMetadata(local, listed, found, owner);
    return true;
  }

  /** SYMLINK: true when the writer is to create it; metadata alone is applied here. */
  symlink(entry: Buffer, local: Buffer, listed: ListedEntry, owner: FileOwner | undefined): boolean {
    const found = inspect(local);
    const decision = decide(listed, found?.found, this.options.rules);
    if (decision.action === 'skip' || decision.action === 'digest') return false;
    const directoryInTheWay = decision.action === 'send' && decision.replace && found!.found.kind === 'dir';
    if (directoryInTheWay) this.makeWay(entry, local, found!.found);
    if (decision.action !== 'keep') this.report(decision.item, entry, 'symlink', listed.target);
    if (this.dryRun) return false;
    if (decision.action === 'send') {
      // A file or symlink in the way is replaced by the rename into place (with its backup).
      if (directoryInTheWay) removeForReplacement(local, found!.found, this.options.backupSuffix, this.deletes);
      return true;
    }
    // Kept or given its metadata: a symlink as listed, which the writer makes again when told to.
    if (this.options.renewsSymlinks) return true;
    if (decision.action === 'metadata' || owner) applyMetadata(local, listed, found!, owner);
    return false;
  }

  /**
   * FILE_INFO or FILE_INLINE: whether its data is needed. `digest` is FILE_INFO's (--checksum
   * compares it with the destination's, a promise then). `renews`: a file that is there with this
   * data is written again, not kept (a FILE_INLINE to a sender that removes its sources, which
   * checks each source's inode: one that is its own destination is then not removed as the copy).
   */
  file(entry: Buffer, local: Buffer, listed: ListedEntry, digest: Buffer | undefined, owner: FileOwner | undefined, renews = false): FileOutcome | Promise<FileOutcome> {
    const found = inspect(local);
    const decision = decide(listed, found?.found, this.options.rules);
    if (renews && !this.dryRun && (decision.action === 'keep' || decision.action === 'metadata')) return 'send';
    if (decision.action !== 'digest') return this.settleFile(entry, local, listed, found, owner, decision);
    if (digest === undefined || digest.every((byte) => byte === ZERO_DIGEST_BYTE)) {
      return this.settleFile(entry, local, listed, found, owner, decide(listed, found?.found, this.options.rules, false));
    }
    const { xxh, chunkSize } = this.options;
    return this.digests
      .run(() => digestOfFile(xxh, local, listed.size, chunkSize))
      .catch(() => undefined)
      .then((ours) => this.settleFile(entry, local, listed, found, owner, decide(listed, found?.found, this.options.rules, ours?.equals(digest) === true)));
  }

  private settleFile(entry: Buffer, local: Buffer, listed: ListedEntry, found: Inspected | undefined, owner: FileOwner | undefined, decision: ReturnType<typeof decide>): FileOutcome {
    switch (decision.action) {
      case 'skip':
        this.left?.set(entry.toString('latin1'), outsideSizes(listed.size, this.options.rules) ? 'size' : 'kept');
        return 'same';
      case 'digest':
        throw new FcpError('FCP_ERR_INTERNAL', 'a digest decision after the digests were compared');
      case 'send':
        if (decision.replace && found!.found.kind === 'dir') this.makeWay(entry, local, found!.found);
        this.report(decision.item, entry, 'file');
        if (this.dryRun) return 'same';
        // A directory in the way goes first; a file or symlink is replaced by the rename into place (with its backup).
        if (decision.replace && found!.found.kind === 'dir') removeForReplacement(local, found!.found, this.options.backupSuffix, this.deletes);
        return 'send';
      case 'metadata':
        this.report(decision.item, entry, 'file');
        if (!this.dryRun) applyMetadata(local, listed, found!, owner);
        return 'same';
      case 'keep':
        if (!this.dryRun && owner && (found!.uid !== owner.uid || found!.gid !== owner.gid)) applyMetadata(local, listed, found!, owner);
        return 'same';
    }
  }

  /**
   * The --delete pass, once every entry is settled and before directory times are applied (a
   * deletion changes its directory's mtime). The error is --max-delete's, after its N deletions.
   */
  deleteExtraneous(failed: (entry: Buffer, error: FcpError) => void): void {
    const { sync } = this.options;
    if (!this.deletions || this.senderSkipped) return;
    const plan = this.deletions.plan(failed);
    const allowed = Math.min(plan.length, sync.maxDelete ?? plan.length);
    for (const deletion of plan.slice(0, allowed)) {
      try {
        // A directory that keeps the backups of what was in it stays, and is not reported deleted.
        if (!this.dryRun && !removeEntry(deletion, this.options.backupSuffix)) continue;
      } catch (err) {
        failed(deletion.entry, err as FcpError);
        continue;
      }
      this.options.report({ item: DELETING_ITEM, path: deletion.entry, isDir: deletion.isDir });
    }
    if (allowed < plan.length) failed(plan[allowed]!.entry, maxDeleteError(plan.length, allowed));
  }

  /** --delete is on: a directory in an entry's way goes with what it holds (rsync's rule). */
  private get deletes(): boolean {
    return this.options.sync.delete;
  }

  /**
   * A directory an entry of another type is to replace: refused (the entry fails) unless it may
   * go, a dry run's as the run's; else its contents reported deleted, as rsync lists them.
   */
  private makeWay(entry: Buffer, local: Buffer, found: FoundEntry): void {
    const refusal = replacementRefusal(local, found, this.options.backupSuffix, this.deletes);
    if (refusal) throw refusal;
    this.reportContents(entry, local);
  }

  /** A directory an entry of another type replaces: its contents are reported deleted, as rsync lists them. */
  private reportContents(entry: Buffer, local: Buffer): void {
    for (const deletion of contentsOf(local, entry)) this.options.report({ item: DELETING_ITEM, path: deletion.entry, isDir: deletion.isDir });
  }

  private report(item: string, path: Buffer, kind: EntryKind, target?: Buffer): void {
    // A copy: entry paths are views into received frames.
    this.options.report({ item, path: Buffer.from(path), isDir: kind === 'dir', target: target && Buffer.from(target) });
  }
}
