/**
 * The receiving engine: performs what the TransferReceiver machine asks (create directories,
 * symlinks and temporary files, verify and write chunks, commit verified files, write small files
 * whole) and reports each outcome back to it. Entries arrive in pre-order, so a directory exists
 * before anything in it.
 * Flow control: a data connection that has too many chunk writes waiting is paused, so memory
 * stays bounded whatever the file sizes; TCP then slows the sender down.
 */
import { lstatSync } from 'node:fs';
import { FcpError } from '../errors';
import { DATA_UNIT, Feature, FollowEvent, INLINE_MAX, ModeFlag, PacketType } from '../protocol/constants';
import type { Message } from '../protocol/messages';
import { RECEIVE_PAUSE_AT, RECEIVE_RESUME_AT } from '../session/buffering';
import type { EntryScope } from '../session/entryScope';
import { FileIdMap } from '../session/fileIds';
import { ReceiverAction, TransferReceiver, WriteChunkAction, WriteFileAction } from '../session/transfer';
import { copiedBytes } from '../delta/plan';
import type { SignedBlock } from '../delta/blocks';
import { directoryStateAgreed, fileWantAgreed, sameInodeAgreed, sourceKeptAgreed, sourcesRemovedAgreed } from '../session/params';
import { Destination, holdsEntries } from './destination';
import { FileOwner, FileWriter, Resumed } from './fileWriter';
import { loadAccounts, localIds } from './accounts';
import { inflateDataZ } from './compression';
import { fsError } from './fsError';
import { inodeTag, NO_FILE_TAG } from './inodeTag';
import { showName } from '../showName';
import { outOfDescriptors } from './openFileBudget';
import { fileEvent, FollowedSummary, singleChunkFileEvent, runSummary, TransferEvents, TransferLink, TransferRun, TransferSummary } from './link';
import { staleNotice } from '../state/partialFile';
import { FileIdentity, SignatureCache } from '../state/signatureCache';
import type { PathFilter } from '../sync/filter';
import { ChunkAssembly, oldVersion, readChunkWithCopies, signOldVersion } from './deltaFiles';
import { compareRules, SyncOptions } from '../sync/options';
import { FileOutcome, ReceiverSync } from '../sync/receiverSync';
import { appendVerified } from './appendFile';
import { DIGESTS_AT_ONCE, JobLimiter } from '../sync/fileDigest';
import { followNoticeText } from '../follow/notices';


interface IncomingFile {
  path: Buffer;
  owner?: FileOwner;
  perm: number;
  size: number;
  mtimeNs: bigint;
  /** The whole-file digest, once known: FILE_DONE's, or worked out from a FILE_INLINE's hash. */
  digest?: () => Buffer;
  /** Something to know though it was copied: partial state of an interrupted run was not used. */
  warning?: string;
  /** Feature DELTA: the destination's old version of the file, which DELTA_SIG described and DELTA_COPY copies from. */
  old?: Buffer;
  /** Feature DELTA: the old version's identity: its record in the signature cache goes when the file replaces it. */
  oldIdentity?: FileIdentity;
  /** Feature DELTA: the old version's DELTA_SIG came from the signature cache. */
  signatureCached?: boolean;
}

const SLASH = 0x2f;

/** The entry path of an announcement (PROTOCOL.md §7.1), in the order the sender walked. */
function entryPathOf(message: Message): Buffer | undefined {
  switch (message.type) {
    case PacketType.DIR_INFO:
    case PacketType.SYMLINK:
    case PacketType.FILE_INFO:
    case PacketType.FILE_INLINE:
    case PacketType.HARDLINK:
      return message.path;
    default:
      return undefined;
  }
}

/** A directory's error as it is reported: it says that what is below it is not copied either (rsync: "Skipping any contents"). */
function contentsNotCopied(error: FcpError): FcpError {
  return new FcpError(error.code, `${error.message}; nothing below it is copied`, { hint: error.hint, cause: error.cause });
}

/** What the request's MODE asks of the receiver: its flags, and with BACKUP the suffix of backups. */
export interface ReceiveMode {
  flags: number;
  backupSuffix?: Buffer;
  /** The session's --exclude/--include/--max-depth (FILTER_RULES), as the sender's walk applied them. */
  filter?: PathFilter;
  /** A sync (SYNC, PROTOCOL.md §7.8): how files are compared, --delete, --dry-run. */
  sync?: SyncOptions;
  /** A receiving fcpd: each change goes to the client as ITEM. */
  reportItems?: boolean;
}

/** --partial-dir as the bytes the receiver joins to paths. */
export function partialDirBytes(dir: string | undefined): Buffer | undefined {
  return dir === undefined ? undefined : Buffer.from(dir);
}

export class ReceiveEngine extends TransferRun {
  private readonly machine: TransferReceiver;
  private readonly writer: FileWriter;
  private readonly files = new FileIdMap<IncomingFile>();
  /**
   * The small file writeInlineOnce is writing, by id: it is settled (fileOk or fileFailed) within
   * that call, so it takes no place in `files` (a set, a get and a delete fewer a file), and what
   * its event needs is held in fields, not in a record and a digest function made for each file.
   */
  private inlineId = -1;
  private inlinePath: Buffer | undefined;
  private inlineSize = 0;
  private inlineHash = 0n;
  /** Directories that could not be created, by entry path (latin1): what is inside them fails. */
  private readonly failedDirectories = new Map<string, FcpError>();
  private readonly waitingWrites: number[];
  private readonly errors: FcpError[] = [];
  /** Answer FILE_SAME for files the destination holds already (PROTOCOL.md §7.5). */
  private readonly quickCheck: boolean;
  /** More feature DIR_STATE: this side said DEST_STATE(1) and answers each top-level DIR_INFO (PROTOCOL.md §7.4). */
  private answersLandings = false;
  /** Claim the chunks an interrupted run left (PROTOCOL.md §7.5): RESUME negotiated, and no --no-resume. */
  private readonly reuse: boolean;
  /** The session negotiated COMPRESS (-C): DATA_Z may come in place of DATA. */
  private readonly compressed: boolean;
  /** The session negotiated DELTA: a file the destination holds an older version of is described by it (DELTA_SIG). */
  private readonly delta: boolean;
  /** Feature DELTA: the buffers delta chunks are put together in (their copies and literal bytes), a few at a time. */
  private readonly deltaChunks: ChunkAssembly;
  /** Bytes of verified chunks taken from old versions of files (DELTA_COPY). */
  private bytesSaved = 0;
  /**
   * Feature DELTA: the old versions read for DELTA_SIG, a few at a time (as many as --checksum
   * digests: the thread pool's size). A window of announced files (up to 8,192) is created in one
   * go; read all at once, each with a descriptor outside the open-file budget and a buffer of up to
   * 4 MiB, a thousand of them held about 1 GiB and stalled the event loop past the idle timeout.
   */
  private readonly oldVersionReads = new JobLimiter(DIGESTS_AT_ONCE);
  /** Feature DELTA: the signatures of files written as deltas before, which spare reading them again. */
  private readonly signatures: SignatureCache | undefined;
  /** DATA and FILE_INLINE bytes received (DATA_Z's inflated). */
  private bytesSent = 0;
  /**
   * Owners are kept when the session negotiated OWNERS and this process runs as root (only root
   * may give files away, as with rsync); by the sender's names mapped to this machine's ids, or
   * with NUMERIC_IDS by number.
   */
  private readonly keepOwners: { numericIds: boolean; accounts: ReturnType<typeof loadAccounts> } | undefined;
  /** The owner of the entries announced from now on (the last OWNER), when owners are kept. */
  private owner: FileOwner | undefined;
  /** A sync's decisions and --delete (PROTOCOL.md §7.8); undefined for a plain copy, which has the quick check alone. */
  private readonly sync: ReceiverSync | undefined;
  /** --follow (feature FOLLOW and MODE's FOLLOW): what the followed files grew by, and the files sent again. */
  private readonly followed: FollowedSummary | undefined;
  private followStopAsked = false;
  private started = false;
  /** Our DONE, which comes last, is out. */
  private doneSent = false;

  /**
   * mode: the request's MODE; its IGNORE_TIMES (-I) turns the quick check off, as does a session
   * without QUICK_CHECK, and its NO_RESUME (--no-resume) the use of partial state.
   * partialDir: --partial-dir, relative to each destination directory.
   */
  constructor(
    link: TransferLink,
    private readonly destination: Destination,
    scope: EntryScope,
    mode: ReceiveMode,
    private readonly events: TransferEvents = {},
    partialDir?: Buffer,
  ) {
    super(link);
    this.compressed = (link.params.features & Feature.COMPRESS) !== 0;
    this.delta = (link.params.features & Feature.DELTA) !== 0;
    this.deltaChunks = new ChunkAssembly(link.params.chunkSize);
    this.signatures = this.delta ? new SignatureCache(link.xxh) : undefined;
    this.quickCheck = (mode.flags & ModeFlag.IGNORE_TIMES) === 0 && (link.params.features & Feature.QUICK_CHECK) !== 0;
    const resume = (link.params.features & Feature.RESUME) !== 0;
    this.reuse = resume && (mode.flags & ModeFlag.NO_RESUME) === 0;
    this.machine = new TransferReceiver({
      chunkSize: link.params.chunkSize,
      peerName: link.peerName,
      scope,
      hardLinks: (link.params.features & Feature.HARD_LINKS) !== 0,
      owners: (link.params.features & Feature.OWNERS) !== 0,
      reconnect: this.reconnect,
      resume,
      delta: this.delta,
      sigCache: (link.params.features & Feature.SIG_CACHE) !== 0,
      deltaEarly: (link.params.features & Feature.DELTA_EARLY) !== 0,
      follow: (link.params.features & Feature.FOLLOW) !== 0 && (mode.flags & ModeFlag.FOLLOW) !== 0,
      sparse: (link.params.features & Feature.SPARSE) !== 0,
      stream: (link.params.features & Feature.STREAM) !== 0,
      fileWant: fileWantAgreed(link.params),
      awaitRemovals: (mode.flags & ModeFlag.REMOVE_SOURCE) !== 0 && sourcesRemovedAgreed(link.params),
      sameInode: (mode.flags & ModeFlag.REMOVE_SOURCE) !== 0 && sameInodeAgreed(link.params),
      keptReported: (mode.flags & ModeFlag.REMOVE_SOURCE) !== 0 && sourceKeptAgreed(link.params),
    });
    this.followed = (link.params.features & Feature.FOLLOW) !== 0 && (mode.flags & ModeFlag.FOLLOW) !== 0 ? { appends: 0, appendedBytes: 0, resent: 0, newFiles: 0 } : undefined;
    const root = process.getuid?.() === 0;
    this.keepOwners =
      root && (link.params.features & Feature.OWNERS) !== 0 ? { numericIds: (mode.flags & ModeFlag.NUMERIC_IDS) !== 0, accounts: loadAccounts() } : undefined;
    this.writer = new FileWriter(link.xxh, () => this.descriptors.budget.release(), {
      writeTimeoutMs: link.idleMs,
      backupSuffix: mode.flags & ModeFlag.BACKUP ? mode.backupSuffix : undefined,
      partialDir,
      discardPartials: (mode.flags & ModeFlag.NO_RESUME) !== 0,
      renewsSymlinks: this.machine.sameInode,
    });
    this.waitingWrites = new Array<number>(link.params.connections + 1).fill(0);
    this.sync = mode.sync && new ReceiverSync({
      rules: compareRules(mode.flags, mode.sync),
      sync: mode.sync,
      contents: (mode.flags & ModeFlag.CONTENTS) !== 0,
      backupSuffix: mode.flags & ModeFlag.BACKUP ? mode.backupSuffix : undefined,
      xxh: link.xxh,
      chunkSize: link.params.chunkSize,
      partialDir,
      protect: mode.filter?.active ? (relPath, isDir) => mode.filter!.excludes(relPath, isDir) : undefined,
      // An entry path's depth below its source is its count of slashes (its first component is the source).
      listsContents: mode.filter?.maxDepth === undefined ? undefined : (entry) => mode.filter!.descends(slashesIn(entry)),
      oneFileSystem: (mode.flags & ModeFlag.ONE_FILE_SYSTEM) !== 0,
      renewsSymlinks: this.machine.sameInode,
      hardLinks: (link.params.features & Feature.HARD_LINKS) !== 0,
      report: (item) => {
        this.events.item?.(item);
        if (mode.reportItems) this.link.control.conn.send({ type: PacketType.ITEM, item: Buffer.from(item.item, 'latin1'), isDir: item.isDir ? 1 : 0, path: item.path });
      },
    });
  }

  run(): Promise<TransferSummary> {
    // Feature DEST_STATE: first, so that the sender inlines small files only where nothing is to be found (PROTOCOL.md §7.4).
    if (this.link.params.features & Feature.DEST_STATE && !this.link.destStateKnown) {
      const holds = holdsEntries(this.destination.root);
      this.link.control.conn.send({ type: PacketType.DEST_STATE, holds: holds ? 1 : 0 });
      this.answersLandings = holds && directoryStateAgreed(this.link.params);
    }
    this.attach();
    return this.done;
  }

  /** --follow (a pull): asks the sender to stop following (FOLLOW STOP); its DONE follows what it has read. */
  stopFollowing(): void {
    if (!this.followed || this.followStopAsked || this.over) return;
    this.followStopAsked = true;
    this.link.control.conn.send({ type: PacketType.FOLLOW, event: FollowEvent.STOP, name: Buffer.alloc(0) });
  }

  protected onControl(message: Message): void {
    // A followed session counts more files later (FILE_COUNT again): the progress started with the first.
    if (message.type === PacketType.FILE_COUNT && !this.started) {
      this.started = true;
      this.events.start?.(message.count, message.totalBytes);
    } else if (message.type === PacketType.FILE_COUNT && this.followed) {
      // The totals grow by the machine's 'counted' action, as a streamed walk's do.
      this.followed.newFiles += message.count;
    }
    if (message.type === PacketType.ENTRY_ERROR) this.sync?.entrySkippedBySender();
    const announced = this.sync && entryPathOf(message);
    if (announced) this.sync!.announced(announced, message.type === PacketType.DIR_INFO);
    const actions = this.machine.receive(0, message);
    // The sender's digest, for reporting: the machine has checked it against ours by commit time.
    if (message.type === PacketType.FILE_DONE) {
      const file = this.files.get(message.fileId);
      // A copy: the message is a view into a received frame, and the digest may be read much later.
      const digest = Buffer.from(message.digest);
      if (file) file.digest = () => digest;
    }
    this.apply(actions, 0);
  }

  protected onData(connIndex: number, message: Message): void {
    // A DATA_Z that does not inflate to its raw_length ends the session (PROTOCOL.md §7.3): it cannot be
    // damage on the line (its frame is sealed or checksummed whole), and sent again it would lie again.
    if (message.type === PacketType.DATA_Z && this.compressed) message = inflateDataZ(message);
    if (message.type === PacketType.DATA) {
      this.bytesSent += message.data.length;
      if (message.more) for (const piece of message.more) this.bytesSent += piece.length;
    }
    this.apply(this.machine.receive(connIndex, message), connIndex);
  }

  /** Our DONE is out: nothing more comes on data connections, and the sender closes them. */
  protected peerMayCloseData(): boolean {
    return this.doneSent;
  }

  /** The sender hears what arrived on the lost connection; on the server its index is free for a replacement. */
  protected dataLost(connIndex: number): void {
    this.waitingWrites[connIndex] = 0;
    this.apply(this.machine.connectionLost(connIndex), 0);
    this.link.release?.(connIndex);
  }

  /** An interrupted session keeps every partly received file, with its journal, for a rerun to resume. */
  protected async cleanUp(): Promise<void> {
    this.writer.keepAll();
    await this.writer.discarded();
  }

  protected override filesSettled(): Promise<void> {
    return this.writer.discarded();
  }

  private apply(actions: readonly ReceiverAction[], connIndex: number): void {
    // By index: for...of made an iterator each call (about 140 bytes a small file over the receiver's calls).
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i]!;
      if (this.over) return;
      switch (action.type) {
        case 'send':
          this.link.control.conn.send(action.message, action.mayWait);
          break;
        case 'fail':
          return this.failed(action);
        case 'createDir':
          this.createDirectory(action.path, action.perm, action.mtimeNs);
          break;
        case 'createSymlink':
          this.createSymlink(action.path, action.target, action.mtimeNs);
          break;
        case 'createHardlink':
          this.createHardlink(action.path, action.target);
          break;
        case 'setOwner':
          if (this.keepOwners) this.owner = localIds(action, this.keepOwners.accounts, this.keepOwners.numericIds);
          break;
        case 'createFile':
          this.files.set(action.fileId, { path: action.path, owner: this.owner, perm: action.perm, size: action.size, mtimeNs: action.mtimeNs });
          if (this.sync) {
            this.syncFile(action.fileId, action.digest);
            break;
          }
          if (this.unchanged(action.path, action.size, action.perm, action.mtimeNs, this.owner)) {
            this.settleSame(action.fileId, this.destination.localPath(action.path));
            break;
          }
          this.fetch(action.fileId, action.size, action.path);
          break;
        case 'writeChunk':
          this.writeChunk(connIndex, action);
          break;
        case 'writeFile': {
          // A descriptor free at once (the common case): no function made for the use.
          if (this.descriptors.takeNow()) {
            this.writeInline(action, this.owner);
            break;
          }
          const owner = this.owner;
          this.descriptors.take(() => this.writeInline(action, owner));
          break;
        }
        case 'writeWanted': {
          // Written as a FILE_INLINE's, settled within writeInline (reportInline): the record goes now.
          const file = this.files.get(action.fileId)!;
          this.files.delete(action.fileId);
          const write: WriteFileAction = { type: 'writeFile', fileId: action.fileId, path: file.path, perm: file.perm, mtimeNs: file.mtimeNs, hash: action.hash, data: action.data };
          if (this.descriptors.takeNow()) this.writeInline(write, file.owner, true);
          else this.descriptors.take(() => this.writeInline(write, file.owner, true));
          break;
        }
        case 'commitFile':
          this.commitFile(action.fileId, action.signature);
          break;
        case 'discardFile':
          this.writer.discardFile(action.fileId, action.keep === true);
          break;
        case 'finish':
          this.finish();
          break;
        case 'dataLostAnswered':
          this.link.reopen?.(action.connIndex);
          break;
        case 'chunkKept':
          this.events.bytes?.(action.bytes);
          break;
        case 'fileOk':
          if (action.same) this.events.bytes?.(this.files.get(action.fileId)!.size);
          this.report(action.fileId, undefined);
          break;
        case 'fileFailed':
          this.report(action.fileId, action.error);
          break;
        case 'entryFailed':
          this.errors.push(action.error);
          this.events.entryFailed?.(action.path, action.error);
          break;
        case 'appendFile':
          appendVerified(this.link.xxh, this.destination.localPath(action.path), action);
          this.bytesSent += action.data.length;
          this.followed!.appends++;
          this.followed!.appendedBytes += action.data.length;
          this.events.grew?.(0, action.data.length);
          this.events.bytes?.(action.data.length);
          break;
        case 'followNotice': {
          const text = followNoticeText(action.event, action.name, this.link.peerName);
          // A file sent again was counted as new by its FILE_COUNT.
          if (action.event !== FollowEvent.WAITING) {
            this.followed!.resent++;
            this.followed!.newFiles--;
          }
          this.link.log(text);
          this.events.notice?.(text);
          break;
        }
        case 'sourceKept': {
          // A pull's: the user who asked for the move hears what did not move, and the copy is
          // partial (a push's sender counts and tells it itself).
          const error = new FcpError(action.code, `${this.link.peerName} did not remove its source (--remove-source-files): ${action.why}`);
          this.errors.push(error);
          if (this.events.entryFailed) this.events.entryFailed(action.path, error);
          else this.link.log(`${showName(action.path)}: ${error.message}`);
          break;
        }
        case 'counted':
          this.events.counted?.(action.files, action.bytes);
          break;
        case 'complete':
          return this.complete(runSummary(action, this.bytesSent, this.bytesSaved, this.errors, this.followed));
      }
    }
  }

  /** A sync's decision for an announced file: FILE_SAME, or created and sent (after the digests are compared with --checksum). */
  private syncFile(fileId: number, digest: Buffer): void {
    const file = this.files.get(fileId)!;
    const local = this.destination.localPath(file.path);
    const settle = (outcome: FileOutcome): void => {
      if (outcome === 'same') this.settleSame(fileId, local);
      else this.fetch(fileId, file.size, file.path);
    };
    try {
      this.checkEntry(file.path);
    } catch {
      // createFile meets the same problem and fails the file with it.
      return settle('send');
    }
    let outcome: FileOutcome | Promise<FileOutcome>;
    try {
      outcome = this.sync!.file(file.path, local, { kind: 'file', size: file.size, mtimeNs: file.mtimeNs, perm: file.perm }, Buffer.from(digest), file.owner);
    } catch (err) {
      // What is there cannot be inspected, or may not make way (a directory that is not empty): no data is asked for.
      return this.apply(this.machine.fileFailed(fileId, fsError(err, 'compare', local)), 0);
    }
    if (typeof outcome === 'string') return settle(outcome);
    outcome.then(
      (decided) => this.guard(() => settle(decided)),
      (err: unknown) => this.guard(() => this.apply(this.machine.fileFailed(fileId, fsError(err, 'compare', local)), 0)),
    );
  }

  /**
   * The destination holds the file (FILE_SAME), or, when the sender removes its sources and asked
   * for the tag (more feature SAME_INODE), FILE_SAME_INODE with the inode tag of `local`: a sender
   * on this host keeps a source that is this very file. One the receiver can no longer inspect
   * fails; where a sync left the file and nothing is there, the tag names no file.
   */
  private settleSame(fileId: number, local: Buffer): void {
    if (!this.machine.sameInode) return this.apply(this.machine.fileSame(fileId), 0);
    let tag: bigint;
    try {
      const stat = lstatSync(local, { bigint: true, throwIfNoEntry: false });
      tag = stat ? inodeTag(stat.dev, stat.ino) : NO_FILE_TAG;
    } catch (err) {
      return this.apply(this.machine.fileFailed(fileId, fsError(err, 'inspect', local)), 0);
    }
    this.apply(this.machine.fileSame(fileId, tag), 0);
  }

  /**
   * An announced file the destination is to get: a small one is asked for whole (more feature
   * FILE_WANT), to come on the control connection with no descriptor held meanwhile; any other is
   * created, and its FILE_READY waits for a descriptor while the process's budget is spent.
   */
  private fetch(fileId: number, size: number, path: Buffer): void {
    if (this.machine.fileWant && size <= INLINE_MAX && !this.followed && this.admits(path)) return this.apply(this.machine.fileWanted(fileId), 0);
    // createFile fails one the destination refuses, or whose directory failed, before any byte is sent.
    this.descriptors.take(() => this.createFile(fileId));
  }

  /** Whether an entry may be written: checkEntry finds nothing against it. */
  private admits(path: Buffer): boolean {
    try {
      this.checkEntry(path);
      return true;
    } catch {
      return false;
    }
  }

  /** The quick check of an announced file: its destination holds it already. */
  private unchanged(path: Buffer, size: number, perm: number, mtimeNs: bigint, owner: FileOwner | undefined, local = this.destination.localPath(path)): boolean {
    if (!this.quickCheck) return false;
    // In a directory this session made there is nothing to compare with, and an entry refused is not kept: no lstat.
    if (this.writer.inNewDirectory(local) || !this.admits(path)) return false;
    return this.writer.keepIfSame(local, size, perm, mtimeNs, owner);
  }

  /**
   * Throws the error of the entry's directory when that directory could not be created, or why
   * the destination refuses the entry (fcpd's policy): before anything of it is created.
   */
  private checkEntry(entryPath: Buffer): void {
    const refusal = this.destination.refusal?.(this.destination.localPath(entryPath), entryPath);
    if (refusal) throw refusal;
    const failure = this.directoryFailure(entryPath);
    if (failure) throw failure;
  }

  /** The error of the directory `entryPath` is in, when that directory could not be created. */
  private directoryFailure(entryPath: Buffer): FcpError | undefined {
    if (this.failedDirectories.size === 0) return undefined;
    const slash = entryPath.lastIndexOf(SLASH);
    return slash < 0 ? undefined : this.failedDirectories.get(entryPath.subarray(0, slash).toString('latin1'));
  }

  private createDirectory(path: Buffer, perm: number, mtimeNs: bigint): void {
    const topLevel = path.indexOf(SLASH) < 0;
    if (topLevel) this.destination.topLevelDirectory?.(!this.sync?.dryRun);
    const local = this.destination.localPath(path);
    this.placeDirectory(path, local, perm, mtimeNs);
    // More feature DIR_STATE: whether the small files below may go inline.
    if (topLevel && this.answersLandings) this.link.control.conn.send({ type: PacketType.DIR_STATE, holds: this.writer.madeDirectory(local) ? 0 : 1, path });
  }

  private placeDirectory(path: Buffer, local: Buffer, perm: number, mtimeNs: bigint): void {
    try {
      this.checkEntry(path);
      if (this.sync && !this.sync.directory(path, local, { kind: 'dir', size: 0, mtimeNs, perm }, this.owner)) return;
      this.writer.createDirectory(local, perm, mtimeNs, path, this.owner);
    } catch (err) {
      // Entries inside a directory that could not be created fail with its error, and the session
      // goes on, a top-level directory's too: the other sources are copied, as rsync goes on (exit
      // 23). Those below one that failed carry its error as it is, which the reporter shows once.
      const error = err instanceof FcpError && err === this.directoryFailure(path) ? err : contentsNotCopied(fsError(err, 'create directory', local));
      this.failedDirectories.set(path.toString('latin1'), error);
      this.apply(this.machine.entryFailed(path, error), 0);
    }
  }

  private createSymlink(path: Buffer, target: Buffer, mtimeNs: bigint): void {
    const local = this.destination.localPath(path);
    try {
      this.checkEntry(path);
      if (this.sync && !this.sync.symlink(path, local, { kind: 'symlink', size: 0, mtimeNs, perm: 0, target }, this.owner)) return;
      this.writer.createSymlink(local, target, mtimeNs, this.owner);
    } catch (err) {
      this.apply(this.machine.entryFailed(path, fsError(err, 'create symlink', local)), 0);
    }
  }

  /** -H: `path` becomes another name of `target`'s file, which is in place. */
  private createHardlink(path: Buffer, target: Buffer): void {
    const local = this.destination.localPath(path);
    try {
      this.checkEntry(path);
      const targetLocal = this.destination.localPath(target);
      if (this.sync && !this.sync.hardlink(path, local, target, targetLocal)) return;
      this.writer.createHardlink(local, targetLocal);
    } catch (err) {
      this.apply(this.machine.entryFailed(path, fsError(err, 'create hard link', local)), 0);
    }
  }

  /** Creates an announced file's temporary with a descriptor taken for it, which it keeps until commit or discard. */
  private createFile(fileId: number): void {
    const file = this.files.get(fileId);
    // A file that waited for a descriptor may have failed meanwhile (the sender's FILE_ERROR).
    if (!file) return this.descriptors.budget.release();
    const local = this.destination.localPath(file.path);
    const { chunkSize } = this.link.params;
    let resumed: Resumed;
    try {
      this.checkEntry(file.path);
      resumed = this.writer.createFile(fileId, local, file.size, file.perm, {
        header: { size: file.size, mtimeNs: file.mtimeNs, chunkSize },
        reuse: this.reuse,
      }, file.owner);
    } catch (err) {
      if (outOfDescriptors(err)) return this.descriptors.retry(() => this.createFile(fileId));
      this.descriptors.budget.release();
      return this.apply(this.machine.fileFailed(fileId, fsError(err, 'create', local)), 0);
    }
    if (this.reuse && resumed.stale !== undefined) file.warning = staleNotice(local, resumed.stale);
    // A part file to resume has priority over a delta; a small or new file goes whole.
    const old = this.delta && resumed.held.size === 0 ? oldVersion(local, file.size) : undefined;
    if (!old) return this.apply(this.machine.fileCreated(fileId, resumed), 0);
    file.oldIdentity = old.identity;
    // The signature cache knows the old version as it is: its signature goes without reading it.
    const cached = this.signatures?.lookup(old.identity);
    if (cached) {
      file.old = local;
      file.signatureCached = true;
      return this.apply(this.machine.fileCreated(fileId, resumed, cached), 0);
    }
    // Feature DELTA: the old version's blocks go as DELTA_SIG as they are cut (the sender cuts its file meanwhile).
    const describe = (blocks: readonly SignedBlock[]): void =>
      this.guard(() => {
        file.old = local;
        this.apply(this.machine.signaturePart(fileId, blocks), 0);
      });
    const stop = (): boolean => this.over || !this.files.has(fileId);
    // A file that failed (or a session that ended) while it waited for its turn is not read at all.
    const sign = async (): Promise<void> => {
      if (!stop()) await signOldVersion(this.link.xxh, old, file.size, stop, describe);
    };
    void this.oldVersionReads.run(sign).then(() => this.guard(() => this.apply(this.machine.fileCreated(fileId, resumed), 0)));
  }

  private writeChunk(connIndex: number, action: WriteChunkAction): void {
    const { fileId, seq, length, copies } = action;
    const conn = this.link.data[connIndex - 1]!.conn;
    if (++this.waitingWrites[connIndex]! === RECEIVE_PAUSE_AT) conn.pause();
    const settled = (): void => {
      this.link.returnChunk?.(action.data);
      // A lost connection's writes count no more: its replacement starts from none (dataLost).
      if (conn.isOpen && --this.waitingWrites[connIndex]! === RECEIVE_RESUME_AT) conn.resume();
    };
    const old = copies && this.files.get(fileId)?.old;
    if (!old) return this.writeVerified(action, action.data, settled);
    // Feature DELTA: the chunk's bytes are its copies from the old version and the DATA between them.
    this.deltaChunks.withBuffer(length, (chunk, free) => {
      const written = (): void => {
        free();
        settled();
      };
      // A file that failed while its chunk waited for a buffer, or was read, takes no more writes.
      if (!this.writer.isOpen(fileId)) return written();
      void readChunkWithCopies(old, seq * DATA_UNIT, chunk, action.data, copies).then((data) => {
        if (!this.writer.isOpen(fileId)) return written();
        this.writeVerified(action, data, written);
      });
    });
  }

  /** Writes a chunk's bytes when they hash to what CHUNK_SUM says; `settled` runs once its buffers are free. */
  private writeVerified(action: WriteChunkAction, data: Buffer[], settled: () => void): void {
    const { fileId, seq, length, hash, copies, holes } = action;
    const offset = seq * DATA_UNIT;
    this.writer.writeChunk(fileId, offset / this.link.params.chunkSize, offset, data, hash, (error, result) => {
      settled();
      // A disk that stopped answering would hang every later file too: that ends the session.
      if (error?.code === 'FCP_ERR_TIMEOUT') return this.fail(error);
      if (error) return this.guard(() => this.apply(this.machine.fileFailed(fileId, error), 0));
      if (result.ok) this.events.bytes?.(length);
      if (result.ok && copies) this.bytesSaved += copiedBytes(copies);
      // A cached signature that misled the sender (the file changed behind an unchanged identity) is not used again.
      const file = this.files.get(fileId);
      if (!result.ok && copies && file?.signatureCached) this.signatures?.forget(file.oldIdentity!);
      this.guard(() => this.apply(this.machine.chunkWritten(fileId, seq, result.ok, result.hash), 0));
    }, holes);
  }

  /**
   * Writes a small file whole with a descriptor taken for it, given back before this returns (and
   * its bytes, in one process). `needed`: whether it is to be written, decided already (a file
   * asked for whole; a write tried again once a descriptor is free: the sync's decision, which
   * reports an item, is made once). `checked`: its entry and bytes were checked already (a write
   * tried again).
   */
  private writeInline(action: WriteFileAction, owner: FileOwner | undefined, needed?: boolean, checked = false): void {
    if (this.writeInlineOnce(action, owner, needed, checked)) this.link.returnInline?.(action.data);
  }

  /** writeInline's work: false when it is to be tried again once a descriptor is free. */
  private writeInlineOnce(action: WriteFileAction, owner: FileOwner | undefined, needed: boolean | undefined, checked: boolean): boolean {
    const { fileId, path, perm, mtimeNs, hash, data } = action;
    const local = this.destination.localPath(path);
    this.inlineId = fileId;
    this.inlinePath = path;
    this.inlineSize = data.length;
    this.inlineHash = hash;
    let failure: FcpError | undefined;
    try {
      if (!checked) {
        this.checkEntry(path);
        // chunkHash of one part, without its array.
        const actual = this.link.xxh.h64Raw(data, 0n);
        if (actual !== hash) {
          throw new FcpError('FCP_ERR_VERIFY', `${showName(local)}: its bytes hash to xxh64 ${actual.toString(16)}, the sender's to ${hash.toString(16)}`, {
            hint: 'the sender read something other than it hashed; copy it again',
          });
        }
      }
      // A sender that removes its sources (SAME_INODE) checks each one's inode: an unchanged file is
      // written again, not left as it is, so that one which is its own source is not removed as the copy.
      const renews = this.machine.sameInode;
      needed ??= this.sync
        ? this.sync.file(path, local, { kind: 'file', size: data.length, mtimeNs, perm }, undefined, owner, renews) === 'send'
        : renews || !this.unchanged(path, data.length, perm, mtimeNs, owner, local);
      if (needed) this.writer.writeFile(local, data, perm, mtimeNs, owner);
    } catch (err) {
      // Tried again once a descriptor is free; its bytes are counted then, once.
      if (outOfDescriptors(err)) {
        const decided = needed;
        this.descriptors.retry(() => this.writeInline(action, owner, decided, true));
        return false;
      }
      failure = fsError(err, 'write', local);
    }
    this.descriptors.budget.release();
    this.bytesSent += data.length;
    if (failure) {
      this.apply(this.machine.fileFailed(fileId, failure), 0);
    } else {
      this.events.bytes?.(data.length);
      this.apply(this.machine.fileCommitted(fileId), 0);
    }
    return true;
  }

  /** signature: the new file's blocks (NEW_SIG), kept in the signature cache once the file is in place. */
  private commitFile(fileId: number, signature: readonly SignedBlock[] | undefined): void {
    const file = this.files.get(fileId)!;
    try {
      this.writer.commitFile(fileId, file.perm, file.mtimeNs);
    } catch (err) {
      return this.apply(this.machine.fileFailed(fileId, fsError(err, 'finish', file.path)), 0);
    }
    // The old version is gone: its record with it.
    if (file.oldIdentity) this.signatures?.forget(file.oldIdentity);
    if (signature) this.signatures?.store(this.destination.localPath(file.path), signature);
    this.apply(this.machine.fileCommitted(fileId), 0);
  }

  private finish(): void {
    // Before directory times are applied: a deletion changes its directory's mtime.
    this.sync?.deleteExtraneous((path, error) => this.apply(this.machine.entryFailed(path, error), 0));
    this.writer.finishDirectories((path, error) => this.apply(this.machine.entryFailed(path, error), 0));
    this.signatures?.trim();
    // Our DONE goes now: the sender may close data connections before the end (SOURCES_REMOVED: its own DONE).
    this.doneSent = true;
    this.apply(this.machine.finished(), 0);
  }

  private report(fileId: number, error: FcpError | undefined): void {
    if (fileId === this.inlineId) return this.reportInline(error);
    const file = this.files.get(fileId);
    if (!file) return;
    // The file is settled: it is no longer held.
    this.files.delete(fileId);
    if (error) this.errors.push(error);
    this.events.file?.(fileEvent(file.path, file.size, error, file.digest, error ? undefined : file.warning));
  }

  /** report() for the small file writeInlineOnce wrote or failed. */
  private reportInline(error: FcpError | undefined): void {
    const path = this.inlinePath!;
    this.inlineId = -1;
    this.inlinePath = undefined;
    if (error) this.errors.push(error);
    if (!this.events.file) return;
    this.events.file(error ? fileEvent(path, this.inlineSize, error, undefined) : singleChunkFileEvent(path, this.inlineSize, this.link.params.chunkSize, this.inlineHash));
  }
}

function slashesIn(path: Buffer): number {
  let count = 0;
  for (let at = path.indexOf(SLASH); at >= 0; at = path.indexOf(SLASH, at + 1)) count++;
  return count;
}
