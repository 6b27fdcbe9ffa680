/**
 * The sending engine: announces the walked entries on the control connection (a window of files
 * ahead, no round trip per file), sends files of at most INLINE_MAX bytes whole with their
 * announcement (FILE_INLINE), and streams each larger ready file's chunks over the data
 * connections. Each data connection runs one pump: read a chunk with one positional readv
 * straight into the payload slots of its DATA frames, hash it while it is in memory, seal the
 * frames around it, add CHUNK_SUM, write it all as one Buffer. A large file's chunks spread
 * over every connection; small chunks stream back to back.
 */
import { constants, openSync, readv as readvCallback, readvSync } from 'node:fs';
import { promisify } from 'node:util';
import { FcpError } from '../errors';
import { writeEntryHeader } from '../protocol/batch';
import {
  BATCH_ENTRY_HEADER,
  BATCH_ROOM,
  DATA_HEADER_SIZE,
  DATA_UNIT,
  Feature,
  GCM_TAG_SIZE,
  HEADER_SIZE,
  INLINE_MAX,
  PacketType,
} from '../protocol/constants';
import { writePayload } from '../protocol/serializer';
import type { Message } from '../protocol/messages';
import { SEND_BUFFERS_PER_CONNECTION } from '../session/buffering';
import { sameStart } from '../session/entryScope';
import { directoryStateAgreed, fileWantAgreed, sameInodeAgreed, sourceKeptAgreed, sourcesRemovedAgreed } from '../session/params';
import { OutstandingChunks } from '../session/dataLoss';
import { FileIdMap } from '../session/fileIds';
import { chunkCount, FileDigest } from '../session/digest';
import { SenderAction, TransferSender } from '../session/transfer';
import type { FrameEncoder } from '../protocol/frameEncoder';
import { chunkHash } from '../protocol/xxhash';
import { FramedConnection } from '../wire/framedConnection';
import { encodeCompressedData } from './compression';
import { closeQuietly, fsError } from './fsError';
import { outOfDescriptors } from './openFileBudget';
import { SliceArena } from './sliceArena';
import { checkSource, grewWarning, sourceChanged, SourceState, sourceState } from './sourceCheck';
import { openFileReader, readSmallFile } from './smallFile';
import { GREW, IS_ITS_DESTINATION, isItsDestination, keptError, type KeptSource, NAME_OF_OWN_DESTINATION, type RemovableEntry, removeSource } from './sourceRemoval';
import { fileEvent, runSummary, sentEntryFileEvent, LinkConnection, LinkedConnection, TransferEvents, TransferLink, TransferRun, TransferSummary } from './link';
import { MemoryConnection } from './memoryLink';
import { WALK_AHEAD, type Entry, type EntryIds, type WalkStream } from './walk';
import { loadAccounts } from './accounts';
import { staleNotice } from '../state/partialFile';
import type { SignedBlock } from '../delta/blocks';
import { copiedBytes, Piece } from '../delta/plan';
import { newSignatureMessages } from '../delta/signature';
import { allLiteral, deltaChunkMessages, deltaRoom, FileScan, scanFile } from './deltaFrames';
import { DeltaSending } from './deltaSending';
import { DigestsAhead } from '../sync/digestsAhead';
import { DIGESTS_AT_ONCE, JobLimiter } from '../sync/fileDigest';
import type { SyncOptions } from '../sync/options';
import { leavesFiles } from '../sync/compare';
import { isHardlinkItem } from '../sync/itemize';
import { SourceFollower } from '../follow/sourceFollower';
import { followNoticeText } from '../follow/notices';
import type { FollowSources } from '../follow/followWalk';
import { hasHoles, sparseChunk, SparseChunkMessage } from './sparse';

const readv = promisify(readvCallback);

/**
 * Chunk reads up to this size are done at once on the main thread: for small files a trip
 * through libuv's thread pool costs more than the read. Opening and closing are always
 * synchronous for the same reason; larger reads go to the pool and overlap with sending.
 */
const SYNC_READ_MAX = 64 * 1024;

/** CHUNK_SUM frame: header, 20-byte payload, room for a GCM tag. */
const CHUNK_SUM_SIZE = 20;
const CHUNK_SUM_ROOM = HEADER_SIZE + CHUNK_SUM_SIZE + GCM_TAG_SIZE;
/**
 * On a sealed connection chunks up to this size travel as BATCH entries, many to one seal
 * (an AES-GCM setup costs more than sealing a few KiB); larger ones as frames of their own.
 */
const BATCH_CHUNK_MAX = 16 * 1024;
/** Entry bytes of one batched chunk of `length` bytes: DATA and CHUNK_SUM. */
const batchEntriesLength = (length: number): number => 2 * BATCH_ENTRY_HEADER + DATA_HEADER_SIZE + length + CHUNK_SUM_SIZE;

/**
 * Bytes of small files read for FILE_INLINE in one go before the control connection is given a
 * chance to write them: the window of files bounds memory, this bounds the time between writes.
 */
const INLINE_BURST = 1024 * 1024;
/**
 * Bytes of small files the walk reads as it finds them (WalkStream.readWhileWalking) and holds
 * until they are announced, at most, in bursts: two, so that the next burst's files are read
 * while this one's go out; a tree of tiny files has its whole walk-ahead read (4,096 files).
 */
const WALK_READ_BURSTS = 2;
/**
 * Small files read for FILE_INLINE in one go, at most, whatever their bytes: 1 MiB of tiny files
 * is the whole inline window (16,384 files, near a second of work), and while it runs the event
 * loop turns for nothing else, not the memory governor nor V8's tasks that finish a collection (a
 * 200,000-file push grew its old space by 50 MB in one such stretch).
 */
const INLINE_BURST_FILES = 1024;
const SLASH = 0x2f;

type FileEntry = Extract<Entry, { kind: 'file' }>;

interface SendingFile {
  fileId: number;
  entry: FileEntry;
  fd: number;
  /** Its size, mtime and ctime when opened: every read is checked against them (sourceCheck.ts). */
  opened: SourceState;
  chunkCount: number;
  /** Chunks handed to a pump, in order (a file sent as a delta: in the order they are planned, `delta`). */
  nextChunk: number;
  chunksSent: number;
  digest: FileDigest;
  failed: boolean;
  /**
   * Chunks the receiver claims to hold (CHUNKS_HELD): the pumps skip them; verifyClaims reads and
   * hashes them meanwhile and hands the ones that differ to the pumps.
   */
  claimed: ReadonlySet<number> | undefined;
  /** Feature DELTA: the file as pieces copied from the receiver's old version or sent literally, planned chunk by chunk (its chunks resent go whole). */
  delta: DeltaSending | undefined;
  /** Feature SPARSE: the file has holes (fewer blocks allocated than its size needs), so its chunks are scanned for zeros. */
  sparse: boolean;
}

/** Feature DELTA without DELTA_EARLY: a file cut into blocks while the receiver still describes its old version (from its first DELTA_SIG to FILE_READY). */
interface EarlyScan {
  fd: number;
  opened: SourceState;
  scan: Promise<FileScan | undefined>;
  /** The file is over: the scan stops, and the descriptor is closed once no read is in flight on it. */
  dropped: boolean;
}

interface ChunkJob {
  file: SendingFile;
  index: number;
  /** A resend carries no new hash for the digest. */
  resend: boolean;
}

export class SendEngine extends TransferRun {
  private readonly machine: TransferSender;
  private chunkSize: number;
  /** FILE_COUNT went out (in a first flight, or when run() began). */
  private started = false;
  private readonly files = new Map<number, SendingFile>();
  /** Entries (by file_id) announced and not yet over; a small file sent inline only when something reads it later (readsSentEntries). */
  private readonly announced = new FileIdMap<FileEntry>();
  /** Feature DELTA: files being cut into blocks before FILE_READY, by file_id; each holds a descriptor. */
  private readonly earlyScans = new Map<number, EarlyScan>();
  /**
   * Feature DELTA: files cut into blocks a few at a time, as the receiver reads its old versions:
   * with their signatures cached, a whole window of files is ready at once, and each scan holds a
   * buffer of up to 4 MiB (a thousand files of 1 MiB held about 500 MiB).
   */
  private readonly scans = new JobLimiter(DIGESTS_AT_ONCE);
  private filesAnnounced = 0;
  /** Files and bytes FILE_COUNT has counted so far (the walk's counts when it went out). */
  private readonly counted = { files: 0, bytes: 0 };
  /** Files whose chunks are being handed out, oldest first; resends go ahead of them. */
  private readonly sendQueue: SendingFile[] = [];
  private readonly resendQueue: ChunkJob[] = [];
  /** Files whose claimed chunks are to be checked (verifyClaims), oldest first. */
  private readonly claimQueue: SendingFile[] = [];
  /** verifyClaims is running. */
  private verifying = false;
  private readonly idlePumps: (() => void)[] = [];
  private readonly errors: FcpError[];
  /** The session negotiated BATCH: small chunks go many to a frame on sealed connections. */
  private readonly batching: boolean;
  /** The session negotiated COMPRESS (-C): a DATA frame that deflates smaller goes as DATA_Z. */
  private readonly compressing: boolean;
  /** The session negotiated DELTA: the receiver may describe old versions of files (DELTA_SIG). */
  private readonly deltaNegotiated: boolean;
  /** The session negotiated SIG_CACHE: the blocks of each file sent as a delta go to the receiver too (NEW_SIG). */
  private readonly sigCacheNegotiated: boolean;
  /** The session negotiated DELTA_EARLY: a file's delta chunks go as they are planned, from its first DELTA_SIG on. */
  private readonly deltaEarly: boolean;
  /** The session negotiated SPARSE: runs of zeros in files with holes go as HOLE. */
  private readonly sparseNegotiated: boolean;
  /** The session negotiated INLINE: files up to INLINE_MAX go whole on the control connection. */
  private readonly inlining: boolean;
  private readonly inlineBuffers: SliceArena;
  /**
   * Over a connection: the slices of inlineBuffers read in this burst, given back once their
   * FILE_INLINE is encoded, so that the arena fills its blocks again rather than new ones whose
   * pages each cost a page fault on their first touch (one a 4 KiB file). Unset in one process,
   * where the receiver gives them back (memoryLink.ts).
   */
  private readonly slicesRead: Buffer[] | undefined;
  /** More feature FILE_WANT: the slices of the FILE_WHOLE messages sent in this tick, given back together once encoded. */
  private readonly slicesSentWhole: Buffer[] = [];
  /** Entries the walk finds ahead of the announcements once the first count is out (the link's, or WALK_AHEAD). */
  private readonly walkAhead: number;
  /** Bytes of small files read in one burst of announcing (the link's, or INLINE_BURST). */
  private readonly inlineBurst: number;
  /** What the receiver's DEST_STATE said (feature DEST_STATE): whether its destination holds entries; undefined until it came. */
  private destinationHolds: boolean | undefined;
  /**
   * More feature DIR_STATE: the last top-level directory announced, and whether the receiver made
   * it now (its DIR_STATE; undefined until that came): small files below a new one go inline.
   */
  private landing: { path: Buffer; made: boolean | undefined } | undefined;
  private readonly dirStateAgreed: boolean;
  /** Announcing waits for DEST_STATE or DIR_STATE (awaitDestinationWord); which wait, counted, so that an earlier one's drain starts no later one's deadline. */
  private awaitingWord = false;
  private wordWaits = 0;
  /** The deadline for it, once running (a peer that keeps the link alive and never says would hold the copy forever). */
  private destinationWordDeadline: NodeJS.Timeout | undefined;
  /** Small files are read as the walk finds them (over a connection, when they may go inline). */
  private readonly readsAhead: boolean;
  /** Every entry is announced and DONE sent; files may still be moving on the data connections. */
  private announcedAll = false;
  /** xxh64 of files sent inline and not yet over, for their digest in file events. */
  private readonly inlineHashes = new FileIdMap<bigint>();
  /** Announcing waits for the control connection to take the last burst of inline files, or for a descriptor to read them. */
  private announcePaused = false;
  /** An announce() is set for the next turn of the event loop (announceSoon). */
  private announceDue = false;
  /** A descriptor of the budget is held for reading small files whole, during one burst of announcing. */
  private readingInline = false;
  /** Files that grew while they were read (announced, not yet over): their file event carries a warning. */
  private readonly grown = new Set<FileEntry>();
  /** Notices for files the receiver had partial state of that it could not use (PARTIAL_STALE), by file_id. */
  private readonly staleNotices = new Map<number, string>();
  /** Chunk and inline bytes sent. */
  private bytesSent = 0;
  /** Bytes of chunks the receiver took from its old version of their file (DELTA_COPY). */
  private bytesSaved = 0;
  /** A sync: each announced symlink's target and hard link's file, by entry path (latin1), for the ITEM lines that name them. */
  private readonly itemTargets: Map<string, Buffer> | undefined;
  /** --remove-source-files: the symlinks and other names of linked files announced, removed once the receiver is done. */
  private readonly linkEntries: Exclude<Entry, FileEntry>[] | undefined;
  /** Feature RECONNECT: by data connection index, the chunks written on it and not acknowledged. */
  private readonly outstanding: (OutstandingChunks | undefined)[] = [];
  /** Indexes whose lost connection the receiver has reported (DATA_LOST) and that have no replacement yet. */
  private readonly freeIndexes = new Set<number>();
  /** Lost data connections whose DATA_LOST has not come yet, with the deadline for it. */
  private readonly lossDeadlines = new Map<number, NodeJS.Timeout>();
  /** Feature OWNERS: this machine's names for the ids, and the ids of the last OWNER sent (-1 before the first). */
  private readonly owners: { accounts: ReturnType<typeof loadAccounts>; uid: number; gid: number } | undefined;
  /** --remove-source-files: entry paths (latin1) of the symlinks and links the receiver reported failed. */
  private readonly failedEntries: Set<string> | undefined;

  /** --checksum: whole-file digests of the files to announce, worked out ahead of their FILE_INFO. */
  private readonly digestsAhead: DigestsAhead | undefined;
  /** --follow: watches the files once they are OK; DONE waits until it is stopped. */
  private readonly follower: SourceFollower | undefined;
  private followState: 'copying' | 'following' | 'stopping' | 'stopped' = 'copying';
  private readonly followMissing: Buffer[] = [];
  /** --remove-source-files outside a dry run: sources are removed once in place. */
  private readonly removing: boolean;
  /** -u or --ignore-existing with --remove-source-files: a file not sent, a symlink or a link keeps its source. */
  private readonly keepsSkipped: boolean;
  /** --remove-source-files: the entry paths (latin1) of source files that were their own destination (more feature SAME_INODE). */
  private readonly ownDestinations = new Set<string>();
  /** What following sent: APPENDs and their bytes, files sent again, files new since the walk. */
  private readonly followed = { appends: 0, appendedBytes: 0, resent: 0, newFiles: 0 };

  /**
   * removeSources: --remove-source-files (MODE's REMOVE_SOURCE). sync: a sync (PROTOCOL.md §7.8):
   * every file is announced with FILE_INFO, so that the receiver decides before any byte is sent.
   */
  constructor(
    link: TransferLink,
    private readonly walk: WalkStream,
    private readonly events: TransferEvents = {},
    removeSources = false,
    private readonly sync?: SyncOptions,
    follow?: FollowSources,
  ) {
    super(link);
    const following = follow !== undefined && (link.params.features & Feature.FOLLOW) !== 0;
    // What a push's login read ahead with is not this sender's (readWhileWalking again below).
    walk.readWhileWalking(undefined, 0);
    // Following and --checksum's digests ahead need every entry: the walk is done whole for them.
    const listing = follow || sync?.checksum ? walk.whole() : undefined;
    this.chunkSize = link.params.chunkSize;
    this.walkAhead = link.walkAhead ?? WALK_AHEAD;
    this.inlineBurst = link.inlineBurst ?? INLINE_BURST;
    const recycling = !link.inlineBuffers && link.control.conn instanceof FramedConnection;
    this.inlineBuffers = link.inlineBuffers ?? new SliceArena(4 * INLINE_BURST, recycling);
    this.slicesRead = recycling ? [] : undefined;
    this.dirStateAgreed = directoryStateAgreed(link.params);
    // A file in the window holds a descriptor once it is ready, so the window is the process's budget.
    this.machine = new TransferSender({
      chunkSize: this.chunkSize,
      windowFiles: this.descriptors.budget.size,
      peerName: link.peerName,
      quickCheck: (link.params.features & Feature.QUICK_CHECK) !== 0,
      reconnect: this.reconnect,
      resume: (link.params.features & Feature.RESUME) !== 0,
      delta: (link.params.features & Feature.DELTA) !== 0,
      deltaEarly: (link.params.features & Feature.DELTA_EARLY) !== 0,
      sync: sync !== undefined && (link.params.features & Feature.SYNC) !== 0,
      follow: following,
      destState: (link.params.features & Feature.DEST_STATE) !== 0,
      dirState: this.dirStateAgreed,
      stream: (link.params.features & Feature.STREAM) !== 0,
      fileWant: fileWantAgreed(link.params),
      removeSources,
      confirmRemovals: sourcesRemovedAgreed(link.params),
      sameInode: sameInodeAgreed(link.params),
      reportsKept: sourceKeptAgreed(link.params),
    });
    if (following) {
      this.followMissing = follow.missing;
      this.follower = new SourceFollower(this.followSink(), { walk: listing!, missing: follow.missing }, follow.rewalk);
    }
    this.digestsAhead = sync?.checksum ? new DigestsAhead(listing!.entries, link.xxh, () => this.guard(() => this.announce())) : undefined;
    this.errors = [];
    this.batching = (link.params.features & Feature.BATCH) !== 0;
    this.inlining = (link.params.features & Feature.INLINE) !== 0;
    this.compressing = (link.params.features & Feature.COMPRESS) !== 0;
    this.deltaNegotiated = (link.params.features & Feature.DELTA) !== 0;
    this.sigCacheNegotiated = this.deltaNegotiated && (link.params.features & Feature.SIG_CACHE) !== 0;
    this.deltaEarly = this.deltaNegotiated && (link.params.features & Feature.DELTA_EARLY) !== 0;
    this.sparseNegotiated = (link.params.features & Feature.SPARSE) !== 0;
    // A dry run removes nothing; the protocol's part of --remove-source-files (the DONE that says
    // removals are over) still runs as the peer asked, so that its wait ends.
    this.removing = removeSources && !sync?.dryRun;
    // The receiver reports what -u, --ignore-existing, --existing, --min-size and --max-size leave
    // as it reports what is already the same (FILE_SAME; nothing at all for a symlink or link):
    // only files sent lose their source.
    this.keepsSkipped = sync !== undefined && leavesFiles(sync);
    this.failedEntries = this.removing ? new Set() : undefined;
    this.linkEntries = this.removing && !this.keepsSkipped ? [] : undefined;
    this.itemTargets = sync ? new Map() : undefined;
    this.owners = link.params.features & Feature.OWNERS ? { accounts: loadAccounts(), uid: -1, gid: -1 } : undefined;
    // Small files go inline: the walk reads them as it finds them, into this arena's slices, given
    // back once encoded (readWhole). Not in one process, whose receiver gives its slices back.
    this.readsAhead = recycling && this.inlining && !sync;
    this.readSmallFilesAhead(true);
  }

  /** Whether the walk reads small files as it finds them: only while they may go inline (readsAhead). */
  private readSmallFilesAhead(on: boolean): void {
    if (!this.readsAhead) return;
    if (on) this.walk.readWhileWalking(openFileReader((size) => this.inlineBuffers.take(size)), WALK_READ_BURSTS * this.inlineBurst);
    else this.walk.readWhileWalking(undefined, 0);
  }

  /**
   * The first flight (PROTOCOL.md §5.3), sent right behind PUSH before the server has answered, on
   * sealed sessions only: FILE_COUNT, then directories, symlinks and small files whole, up to the
   * first file that needs FILE_INFO (its chunking waits for the agreed chunk size) or the first
   * burst; DONE when that was everything.
   */
  prime(): void {
    // A first flight counts every file once: the server has not said yet whether it takes STREAM.
    this.walk.fill(WALK_AHEAD);
    if (!this.walk.complete) return;
    if (this.link.params.features & Feature.BATCH) this.link.control.conn.batchSends();
    this.guard(() => {
      this.begin();
      this.announce(true);
    });
  }

  /** Starts sending (or goes on after prime); `done` settles with the summary or the error that ended the session. */
  run(): Promise<TransferSummary> {
    // The server may have lowered the chunk size below the offer a first flight went out with: fixed
    // before what came early (DEST_STATE, with SESSION) lets a FILE_INFO go.
    if (this.link.params.chunkSize !== this.chunkSize) {
      this.chunkSize = this.link.params.chunkSize;
      this.guard(() => this.machine.setChunkSize(this.chunkSize));
    }
    this.attach();
    this.guard(() => {
      this.begin();
      this.announce();
    });
    return this.done;
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.digestsAhead?.start(this.chunkSize);
    // A peer without STREAM takes one FILE_COUNT: the walk is then done whole first. The first
    // count goes WALK_AHEAD ahead whatever the link's pace, so that a tree of up to that many
    // entries starts with its whole totals.
    if (this.link.params.features & Feature.STREAM) this.walk.fill(WALK_AHEAD);
    else this.walk.finish();
    this.counted.files = this.walk.fileCount;
    this.counted.bytes = this.walk.totalBytes;
    this.events.start?.(this.counted.files, this.counted.bytes);
    this.apply(this.machine.start(this.counted.files, this.counted.bytes));
  }

  /** Feature STREAM: before a file FILE_COUNT has not counted, the walk goes ahead and the files it found are counted. */
  private countWalked(): void {
    if (this.filesAnnounced < this.counted.files) return;
    this.walk.fill(this.walkAhead);
    const files = this.walk.fileCount - this.counted.files;
    const bytes = this.walk.totalBytes - this.counted.bytes;
    this.counted.files = this.walk.fileCount;
    this.counted.bytes = this.walk.totalBytes;
    this.events.counted?.(files, bytes);
    this.apply(this.machine.countMore(files, bytes));
  }

  protected override dataReady(linked: LinkedConnection): void {
    const index = linked.established.connIndex;
    this.freeIndexes.delete(index);
    if (this.reconnect) this.outstanding[index] ??= new OutstandingChunks();
    const conn = linked.conn;
    void (conn instanceof MemoryConnection ? this.pumpInMemory(conn) : this.pump(conn, this.outstanding[index]));
  }

  /**
   * Our DONE is out: once its files are over the receiver closes data connections, and their close
   * may overtake the last FILE_OK and DONE on control (which still end the session, or its idle
   * timeout). With RECONNECT a lost one is news still: its chunks in flight go again.
   */
  protected peerMayCloseData(): boolean {
    return this.announcedAll && !this.reconnect;
  }

  /**
   * This side noticed the loss: the receiver's DATA_LOST will say which chunks arrived. It
   * notices too (the connection closed, or went silent past its idle limit), so a report that
   * does not come within twice that limit means the session is lost.
   */
  protected dataLost(connIndex: number): void {
    this.wakePumps();
    const limitMs = 2 * this.link.idleMs;
    const deadline = setTimeout(() => this.fail(new FcpError(
      'FCP_ERR_CONNECTION_LOST',
      `data connection ${connIndex} to ${this.link.peerName} was lost, and ${this.link.peerName} did not report it within ${limitMs / 1000} s`,
    )), limitMs);
    deadline.unref();
    this.lossDeadlines.set(connIndex, deadline);
  }

  /** The receiver's DATA_LOST: what it did not get whole goes again on the other connections; answered, the index is free. */
  private onDataLost(connIndex: number, chunks: number): void {
    const ring = this.outstanding[connIndex];
    if (!ring || this.freeIndexes.has(connIndex)) {
      return this.fail(new FcpError('FCP_ERR_PROTOCOL', `DATA_LOST for data connection ${connIndex}, which carried nothing since it was attached`));
    }
    this.dropData(connIndex);
    clearTimeout(this.lossDeadlines.get(connIndex));
    this.lossDeadlines.delete(connIndex);
    const problem = ring.lose(chunks, (fileId, index) => {
      const file = this.files.get(fileId);
      if (file && !file.failed) this.resendQueue.push({ file, index, resend: true });
    });
    if (problem) return this.fail(new FcpError('FCP_ERR_PROTOCOL', `DATA_LOST for data connection ${connIndex}: ${problem}`));
    this.freeIndexes.add(connIndex);
    this.link.control.conn.send({ type: PacketType.DATA_LOST, connIndex, chunks });
    this.link.release?.(connIndex);
    this.link.reopen?.(connIndex);
    this.wakePumps();
  }

  private onChunksAcked(connIndex: number, chunks: number): void {
    const ring = this.outstanding[connIndex];
    const problem = ring ? ring.ack(chunks) : 'it carried nothing';
    if (problem) return this.fail(new FcpError('FCP_ERR_PROTOCOL', `CHUNK_ACK for data connection ${connIndex}: ${problem}`));
    this.wakePumps();
  }

  protected onControl(message: Message): void {
    this.apply(this.machine.receive(message));
  }

  protected onData(connIndex: number, message: Message): void {
    this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `receiver sent ${message.type} on data connection ${connIndex}`));
  }

  protected async cleanUp(): Promise<void> {
    void this.follower?.stop();
    this.wakePumps();
    for (const deadline of this.lossDeadlines.values()) clearTimeout(deadline);
    this.destinationWordCame();
    for (const file of this.files.values()) this.close(file);
    this.files.clear();
    for (const fileId of [...this.earlyScans.keys()]) this.dropEarlyScan(fileId);
  }

  /**
   * Announces entries while the window has room; DONE once all are announced. A first flight
   * (priming) stops at the first file that needs FILE_INFO, or that cannot be read, and after one
   * burst; the rest follows in run(). Small files are read with one descriptor taken for the burst.
   */
  private announce(priming = false): void {
    if (this.announcePaused) return;
    try {
      this.announceEntries(priming);
    } finally {
      if (this.readingInline) {
        this.readingInline = false;
        this.descriptors.budget.release();
      }
      if (this.slicesRead?.length) this.giveBackOnceEncoded(this.slicesRead.splice(0));
    }
  }

  /** The slices read in a burst, given back to the arena once the FILE_INLINE messages sent with them are encoded. */
  private giveBackOnceEncoded(slices: Buffer[]): void {
    (this.link.control.conn as FramedConnection).afterEncoded(() => {
      for (const slice of slices.splice(0)) this.inlineBuffers.give(slice);
    });
  }

  private announceEntries(priming: boolean): void {
    let inlineBytes = 0;
    let inlineFiles = 0;
    let entry: Entry | undefined;
    while (!this.over && (entry = this.walk.peek()) !== undefined) {
      if (entry.kind !== 'hardlink') this.announceOwner(entry.ids);
      if (entry.kind !== 'file') {
        this.walk.take();
        this.apply(this.announceOther(entry));
        continue;
      }
      // A file found in a directory makes its entry path when asked (walk.ts FileInDirectory): asked once here.
      const path = entry.path;
      const inline = this.inlining && !this.sync && entry.size <= INLINE_MAX && this.mayInline(path);
      // A small file waits for the receiver to say whether it may go inline; DEST_STATE or DIR_STATE announces on.
      if (inline === undefined) return this.awaitDestinationWord();
      const digest = this.digestsAhead?.of(entry);
      if (digest === null) return;
      if (!(inline ? this.machine.canSendInline(entry.size) : this.machine.canAnnounce)) return;
      if (inlineBytes >= this.inlineBurst || inlineFiles >= INLINE_BURST_FILES) return priming ? undefined : this.pauseAnnouncing();
      if (inline && !this.readingInline) {
        this.readingInline = this.descriptors.budget.tryTake();
        if (!this.readingInline) return priming ? undefined : this.awaitDescriptor((use) => this.descriptors.take(use));
      }
      // What was read ahead for a file that is not going inline is dropped now rather than when the file is over.
      const data = inline ? this.readWhole(entry) : (entry.readAhead = undefined);
      if (priming && (data === undefined || data instanceof FcpError)) return;
      if (data instanceof FcpError && outOfDescriptors(data)) {
        this.readingInline = false;
        return this.awaitDescriptor((use) => this.descriptors.retry(use));
      }
      this.walk.take();
      this.countWalked();
      // file_ids are 0, 1, 2, ... in announcement order (PROTOCOL.md §7.1).
      const fileId = this.filesAnnounced++;
      const sendsInline = data !== undefined && !(data instanceof FcpError);
      if (!sendsInline || this.readsSentEntries(entry)) this.announced.set(fileId, entry);
      if (!sendsInline) {
        // A small file that cannot be read is announced and failed as a larger one would be.
        this.apply(this.machine.announceFile(path, entry.perm, entry.size, entry.mtimeNs, digest));
        if (data) this.apply(this.machine.fileFailed(fileId, data));
      } else {
        this.sendInline(fileId, entry, data, path);
        inlineBytes += entry.size;
        inlineFiles++;
      }
    }
    if (entry !== undefined || this.announcedAll || this.over) return;
    if (this.holdsDone(priming)) return;
    // What the walk skipped is reported before DONE, so that the receiver counts it too.
    for (const { path, error } of this.walk.skipped) this.apply(this.machine.skipEntry(path, error));
    this.announcedAll = true;
    this.apply(this.machine.finish());
  }

  /** A top-level directory announced (more feature DIR_STATE): what is below it waits for its DIR_STATE, and is not read ahead until that says it is new. */
  private newLanding(path: Buffer): void {
    this.landing = { path, made: undefined };
    if (this.destinationHolds === true) this.readSmallFilesAhead(false);
  }

  /**
   * Announcing waits for DEST_STATE or DIR_STATE. The receiver says only once it has taken what was
   * queued ahead of the question (a tree's directories, a burst of inline files), which a limited
   * link may take longer than any limit to carry: the deadline starts once that has left this side.
   */
  private awaitDestinationWord(): void {
    if (this.awaitingWord) return;
    this.awaitingWord = true;
    const wait = ++this.wordWaits;
    // As pauseAnnouncing: what was sent this tick is written to the connection first.
    setImmediate(() => {
      void this.link.control.conn.drain().then(() => {
        if (this.awaitingWord && wait === this.wordWaits && !this.over) this.startWordDeadline();
      });
    });
  }

  /** Twice the idle limit, as for a lost connection's report. */
  private startWordDeadline(): void {
    const limitMs = 2 * this.link.idleMs;
    this.destinationWordDeadline = setTimeout(() => this.fail(new FcpError(
      'FCP_ERR_TIMEOUT',
      `${this.link.peerName} did not say within ${limitMs / 1000} s whether its destination holds what the next small files would land on (${this.destinationHolds === undefined ? 'DEST_STATE' : 'DIR_STATE'})`,
    )), limitMs);
    this.destinationWordDeadline.unref();
  }

  private destinationWordCame(): void {
    this.awaitingWord = false;
    clearTimeout(this.destinationWordDeadline);
    this.destinationWordDeadline = undefined;
  }

  /**
   * Feature DEST_STATE (PROTOCOL.md §7.4): a small file at `path` goes inline into a destination
   * that holds nothing, or below a top-level directory the receiver made now (more feature
   * DIR_STATE); undefined while the receiver has not said.
   */
  private mayInline(path: Buffer): boolean | undefined {
    if ((this.link.params.features & Feature.DEST_STATE) === 0 || this.destinationHolds === false) return true;
    if (this.destinationHolds === undefined) return undefined;
    const landing = this.landing;
    if (landing === undefined || path[landing.path.length] !== SLASH || !sameStart(path, landing.path, landing.path.length)) return false;
    return landing.made;
  }

  /** --follow: DONE waits until following has stopped; the first time all entries are out (not in a first flight), following starts. */
  private holdsDone(priming: boolean): boolean {
    if (!this.follower || this.followState === 'stopped') return false;
    if (this.followState === 'copying' && !priming) {
      this.followState = 'following';
      this.follower.start(this.followMissing);
    }
    return true;
  }

  /**
   * --follow: stop (Ctrl-C, SIGTERM, --follow-idle, the receiver's FOLLOW STOP): what a poll under
   * way read is sent, then what is left to announce, then DONE; the files in flight finish.
   */
  stopFollowing(): void {
    if (!this.follower || this.followState === 'stopping' || this.followState === 'stopped') return;
    const wasFollowing = this.followState === 'following';
    this.followState = 'stopping';
    void this.follower.stop().then(() =>
      this.guard(() => {
        this.followState = 'stopped';
        if (wasFollowing) this.announce();
      }),
    );
  }

  private followSink(): ConstructorParameters<typeof SourceFollower>[0] {
    return {
      chunkSize: this.chunkSize,
      hash: (data) => chunkHash(this.link.xxh, [data]),
      append: (fileId, offset, mtimeNs, hash, data) => {
        this.followed.appends++;
        this.followed.appendedBytes += data.length;
        this.bytesSent += data.length;
        this.events.grew?.(0, data.length);
        this.events.bytes?.(data.length);
        this.apply(this.machine.append(fileId, offset, mtimeNs, hash, data));
      },
      announceMore: (entries, resent) => {
        const files = entries.filter((entry): entry is FileEntry => entry.kind === 'file');
        if (resent) this.followed.resent += files.length;
        else this.followed.newFiles += files.length;
        const bytes = files.reduce((sum, file) => sum + file.size, 0);
        this.events.grew?.(files.length, bytes);
        this.counted.files += files.length;
        this.counted.bytes += bytes;
        this.apply(this.machine.countMore(files.length, bytes));
        this.walk.entries!.push(...entries);
        this.announce();
      },
      notice: (event, name) => {
        const text = followNoticeText(event, name);
        this.link.log(text);
        this.events.notice?.(text);
        this.apply(this.machine.followNotice(event, name));
      },
      drained: () => this.link.control.conn.drain(),
      log: (line) => this.link.log(line),
    };
  }

  /** Feature OWNERS: an OWNER ahead of an entry whose ids differ from the last one's (it holds until the next). */
  private announceOwner(ids: EntryIds | undefined): void {
    if (!this.owners || !ids) return;
    if (ids.uid === this.owners.uid && ids.gid === this.owners.gid) return;
    this.owners.uid = ids.uid;
    this.owners.gid = ids.gid;
    const { users, groups } = this.owners.accounts;
    this.apply(this.machine.announceOwner(ids.uid, ids.gid, users.nameOf(ids.uid), groups.nameOf(ids.gid)));
  }

  private announceOther(entry: Exclude<Entry, FileEntry>): readonly SenderAction[] {
    if (entry.kind !== 'dir') this.linkEntries?.push(entry);
    if (entry.kind === 'symlink' || entry.kind === 'hardlink') this.itemTargets?.set(entry.path.toString('latin1'), entry.target);
    switch (entry.kind) {
      case 'dir':
        if (this.dirStateAgreed && entry.path.indexOf(SLASH) < 0) this.newLanding(entry.path);
        return this.machine.announceDir(entry.path, entry.perm, entry.mtimeNs);
      case 'symlink':
        return this.machine.announceSymlink(entry.path, entry.target, entry.mtimeNs);
      case 'hardlink':
        return this.machine.announceHardlink(entry.path, entry.target);
    }
  }

  /** Goes on announcing once the control connection has written what was queued and drained. */
  private pauseAnnouncing(): void {
    this.announcePaused = true;
    setImmediate(() => {
      void this.link.control.conn.drain().then(() => {
        this.announcePaused = false;
        this.guard(() => this.announce());
      });
    });
  }

  /** Goes on announcing once a descriptor to read small files with is held (`wait` queues for it). */
  private awaitDescriptor(wait: (use: () => void) => void): void {
    this.announcePaused = true;
    wait(() => {
      this.announcePaused = false;
      this.readingInline = true;
      this.announce();
    });
  }

  /**
   * Whether a small file's entry is read once it went inline: for its file event, --follow,
   * --remove-source-files, or the warning of a file that grew while it was read. Otherwise it is
   * not held (`announced`) until its FILE_OK: the window of inline files in flight (16,384) then
   * holds no object of theirs for the scavenges to copy again and again and promote.
   */
  private readsSentEntries(entry: FileEntry): boolean {
    return this.events.file !== undefined || this.follower !== undefined || this.removing || this.grown.has(entry);
  }

  /** Sends small file `entry` (entry path `path`), read whole into `data`, as FILE_INLINE. */
  private sendInline(fileId: number, entry: FileEntry, data: Buffer, path: Buffer): void {
    const hash = this.wholeFileSent(fileId, data);
    const message = this.machine.inlineMessage(path, entry.perm, entry.mtimeNs, data, hash);
    if (message && !this.over) this.link.control.conn.send(message);
  }

  /**
   * More feature FILE_WANT: reads a small file the receiver asked for whole, with a descriptor
   * taken for it and given back before this returns, and sends it as FILE_WHOLE.
   */
  private sendWhole(fileId: number): void {
    const entry = this.announced.get(fileId);
    if (!entry || this.over) return this.descriptors.budget.release();
    const slice = this.inlineBuffers.take(entry.size);
    const read = readSmallFile(entry, slice);
    if (read instanceof FcpError && outOfDescriptors(read)) {
      this.inlineBuffers.give(slice);
      return this.descriptors.retry(() => this.sendWhole(fileId));
    }
    this.descriptors.budget.release();
    if (read instanceof FcpError) {
      this.inlineBuffers.give(slice);
      return this.apply(this.machine.fileFailed(fileId, read));
    }
    if (read.grew) this.grown.add(entry);
    const message = this.machine.wholeMessage(fileId, read.data, this.wholeFileSent(fileId, read.data));
    if (message) this.link.control.conn.send(message);
    // As a burst's slices, once for all those of this tick (in one process the receiver gives them back once written).
    if (this.slicesRead && this.slicesSentWhole.push(slice) === 1) this.giveBackOnceEncoded(this.slicesSentWhole);
  }

  /** A small file's bytes go whole (FILE_INLINE, FILE_WHOLE): counted, and followed. Returns their xxh64. */
  private wholeFileSent(fileId: number, data: Buffer): bigint {
    const hash = chunkHash(this.link.xxh, [data]);
    if (this.events.file) this.inlineHashes.set(fileId, hash);
    this.follower?.chunkSent(fileId, 0, true, data.length, hash);
    this.events.bytes?.(data.length);
    this.bytesSent += data.length;
    return hash;
  }

  /**
   * The target of the symlink or hard link an ITEM line names (`cL+++++++++ link -> target`,
   * `hf+++++++++ name => file`, as rsync prints them): ITEM carries no target, and the walk holds it.
   */
  private itemTarget(item: string, path: Buffer): Buffer | undefined {
    if (item[1] !== 'L' && !isHardlinkItem(item)) return undefined;
    return this.itemTargets?.get(path.toString('latin1'));
  }

  /** The first entry.size bytes of the file (read now, or while the login waited), or why they cannot be read (smallFile.ts). */
  private readWhole(entry: FileEntry): Buffer | FcpError {
    const ahead = entry.readAhead;
    // A slice the walk read into is this arena's like one taken now (or a login's, which give ignores).
    if (ahead) this.slicesRead?.push(ahead.data);
    const read = ahead ?? readSmallFile(entry, this.takeSlice(entry.size));
    entry.readAhead = undefined;
    if (read instanceof FcpError) return read;
    if (read.grew) this.grown.add(entry);
    return read.data;
  }

  private takeSlice(size: number): Buffer {
    const slice = this.inlineBuffers.take(size);
    this.slicesRead?.push(slice);
    return slice;
  }

  private apply(actions: readonly SenderAction[]): void {
    // By index: for...of made an iterator each call (as in the receiver's apply).
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i]!;
      if (this.over) return;
      switch (action.type) {
        case 'send':
          this.link.control.conn.send(action.message);
          break;
        case 'fail':
          return this.failed(action);
        case 'signatureStarted':
          this.descriptors.take(() => (this.deltaEarly ? this.openDelta(action.fileId, action.signature) : this.scanEarly(action.fileId, action.signature)));
          break;
        case 'sendFile': {
          // DELTA_EARLY: a file opened at its first DELTA_SIG, some of its chunks sent already.
          const opened = this.files.get(action.fileId);
          if (opened?.delta) {
            this.deltaReady(opened);
            break;
          }
          // A file cut early holds its descriptor already.
          const early = this.earlyScans.get(action.fileId);
          this.earlyScans.delete(action.fileId);
          if (early) this.openFile(action.fileId, action.claimed, action.signature, early);
          else this.descriptors.take(() => this.openFile(action.fileId, action.claimed, action.signature));
          break;
        }
        case 'sendWhole':
          // A descriptor free at once (the common case): no function made for the use.
          if (this.descriptors.takeNow()) this.sendWhole(action.fileId);
          else this.descriptors.take(() => this.sendWhole(action.fileId));
          break;
        case 'chunkKept':
          this.events.bytes?.(action.bytes);
          break;
        case 'partialStale': {
          const entry = this.announced.get(action.fileId);
          if (entry) this.staleNotices.set(action.fileId, staleNotice(entry.source, action.reason));
          break;
        }
        case 'resendChunk':
          this.queueResend(action.fileId, action.seq);
          break;
        case 'chunksAcked':
          this.onChunksAcked(action.connIndex, action.chunks);
          break;
        case 'item':
          this.events.item?.({ item: action.item, path: action.path, isDir: action.isDir, target: this.itemTarget(action.item, action.path) });
          break;
        case 'dataLost':
          this.onDataLost(action.connIndex, action.chunks);
          break;
        case 'fileOk':
          if (action.same) this.events.bytes?.(this.announced.get(action.fileId)!.size);
          this.followSettled(action.fileId, true, action.same === true);
          this.fileOver(action.fileId, undefined, action.same === true, action.inodeTag);
          break;
        case 'fileFailed':
          this.followSettled(action.fileId, false, false);
          this.fileOver(action.fileId, action.error);
          break;
        case 'followStop':
          this.stopFollowing();
          break;
        case 'destState':
          this.destinationHolds = action.holds;
          this.destinationWordCame();
          // Files that will not go inline are not read ahead.
          if (action.holds) this.readSmallFilesAhead(false);
          // It may come ahead of run()'s start (with SESSION): run() announces then.
          if (this.started) this.announce();
          break;
        case 'dirState':
          // Only the last top-level directory's answer decides anything: announcing waits for it.
          if (this.landing?.path !== action.path) break;
          this.destinationWordCame();
          this.landing.made = !action.holds;
          this.readSmallFilesAhead(this.landing.made);
          if (this.started) this.announce();
          break;
        case 'entryFailed':
          this.errors.push(action.error);
          this.failedEntries?.add(action.path.toString('latin1'));
          this.events.entryFailed?.(action.path, action.error);
          break;
        case 'removeSources':
          this.removeLinkSources();
          this.apply(this.machine.removalsOver());
          break;
        case 'complete':
          return this.complete(runSummary(action, this.bytesSent, this.bytesSaved, this.errors, this.follower && this.followed));
      }
    }
  }

  private followSettled(fileId: number, ok: boolean, same: boolean): void {
    const entry = this.announced.get(fileId);
    if (this.follower && entry?.kind === 'file') this.follower.settled(fileId, entry, ok, same);
  }

  /**
   * Opens a ready file with a descriptor taken for it, which it keeps until the file is over; a
   * file cut early (feature DELTA) comes open with its scan.
   */
  private openFile(fileId: number, claimed: ReadonlySet<number> | undefined, signature: readonly SignedBlock[] | undefined, early?: EarlyScan): void {
    const entry = this.announced.get(fileId);
    // A file that waited for a descriptor may have failed meanwhile (the receiver's FILE_ERROR).
    if (!entry) return this.descriptors.budget.release();
    // DELTA_EARLY: opened at its first DELTA_SIG while this waited for a descriptor.
    const started = this.files.get(fileId);
    if (started?.delta) {
      this.descriptors.budget.release();
      return this.deltaReady(started);
    }
    // A scan that started while this waited for its descriptor is not needed.
    if (!early) this.dropEarlyScan(fileId);
    let fd: number | undefined = early?.fd;
    let opened: SourceState;
    try {
      fd ??= openSync(entry.source, constants.O_RDONLY);
      opened = early?.opened ?? sourceState(fd);
    } catch (err) {
      if (fd !== undefined) closeQuietly(fd);
      if (outOfDescriptors(err)) return this.descriptors.retry(() => this.openFile(fileId, claimed, signature));
      this.descriptors.budget.release();
      return this.apply(this.machine.fileFailed(fileId, fsError(err, 'open', entry.source)));
    }
    // A file sent as a delta has no HOLE (PROTOCOL.md §7.3): its chunks are pieces of the plan.
    const file = this.sendingFile(fileId, entry, fd, opened, claimed, this.sparseNegotiated && !signature && hasHoles(opened));
    this.files.set(fileId, file);
    if (file.chunkCount === 0) return this.apply(this.machine.fileSent(fileId, file.digest.digest()));
    if (signature) return this.planDelta(file, signature, early?.scan);
    file.nextChunk = unclaimedFrom(file, 0);
    if (file.nextChunk < file.chunkCount) this.sendQueue.push(file);
    if (claimed?.size) {
      this.claimQueue.push(file);
      void this.verifyClaims();
    }
    this.wakePumps();
  }

  /** A file opened for sending, nothing of it sent yet. */
  private sendingFile(fileId: number, entry: FileEntry, fd: number, opened: SourceState, claimed: ReadonlySet<number> | undefined, sparse: boolean): SendingFile {
    const { chunkSize } = this;
    const digest = new FileDigest(entry.size, chunkSize);
    return { fileId, entry, fd, opened, chunkCount: chunkCount(entry.size, chunkSize), nextChunk: 0, chunksSent: 0, digest, failed: false, claimed, delta: undefined, sparse };
  }

  /**
   * Reads and hashes the chunks the receiver claims, one at a time, while the pumps send the
   * missing ones: a rerun after an interruption does not wait for the held half of a file to be
   * read before it sends the other half. A chunk counts as delivered only once its hash matched
   * the claim (kept); one that differs goes to the pumps to be sent whole.
   */
  private async verifyClaims(): Promise<void> {
    if (this.verifying) return;
    this.verifying = true;
    const buf = Buffer.allocUnsafe(this.chunkSize);
    for (let file = this.claimQueue.shift(); file && !this.over; file = this.claimQueue.shift()) {
      for (const index of [...file.claimed!].sort((a, b) => a - b)) {
        if (this.over || file.failed) break;
        const job: ChunkJob = { file, index, resend: false };
        const length = this.chunkLength(file, index);
        let hash: bigint | undefined;
        try {
          hash = await this.readChunk(file, [buf.subarray(0, length)], index * this.chunkSize, length);
        } catch (err) {
          const failed = file;
          this.guard(() => this.readFailed(failed, err));
        }
        if (hash === undefined) break;
        const read = hash;
        this.guard(() => {
          if (this.kept(job, read)) return;
          this.resendQueue.push(job);
          this.wakePumps();
        });
      }
    }
    this.verifying = false;
  }

  /**
   * Feature DELTA without DELTA_EARLY: the file is read once for its blocks (or was, while the
   * receiver described its old version: `early`), then planned against the receiver's signature
   * and its chunks queued. An early scan that stopped or failed is done again here, where a read
   * error fails the file.
   */
  private planDelta(file: SendingFile, signature: readonly SignedBlock[], early: Promise<FileScan | undefined> | undefined): void {
    const stop = (): boolean => this.over || file.failed;
    const scanned = async (): Promise<FileScan | undefined> => (await early) ?? this.scanInTurn(file.fd, file.entry.size, signature, stop);
    file.delta = new DeltaSending(file.entry.size, this.chunkSize, signature, this.scanOrFail(file, scanned()));
    this.deltaReady(file);
  }

  /**
   * Feature DELTA_EARLY: the receiver started describing its old version of a file: the file is
   * opened (with a descriptor taken for it) and cut into blocks following the `signature` as it
   * comes, and each chunk goes as soon as the scan and the signature settle its plan (regions.ts),
   * while the receiver still reads its old version. Nothing is done for a file that is over or
   * already open; an open that fails is left to openFile (FILE_READY).
   */
  private openDelta(fileId: number, signature: readonly SignedBlock[]): void {
    const entry = this.announced.get(fileId);
    if (!entry || this.files.has(fileId)) return this.descriptors.budget.release();
    let fd: number | undefined;
    let opened: SourceState;
    try {
      fd = openSync(entry.source, constants.O_RDONLY);
      opened = sourceState(fd);
    } catch {
      if (fd !== undefined) closeQuietly(fd);
      return this.descriptors.budget.release();
    }
    const file = this.sendingFile(fileId, entry, fd, opened, undefined, false);
    const planned = (scan: FileScan, covered: number): void => this.guard(() => this.planMore(file, scan, covered));
    const scan = this.scanInTurn(fd, entry.size, signature, () => this.over || file.failed, planned);
    file.delta = new DeltaSending(entry.size, this.chunkSize, signature, this.scanOrFail(file, scan));
    this.files.set(fileId, file);
  }

  /** The scan of a file sent as a delta; one that fails fails the file (undefined). */
  private scanOrFail(file: SendingFile, scan: Promise<FileScan | undefined>): Promise<FileScan | undefined> {
    return scan.catch((err: unknown) => {
      this.guard(() => this.readFailed(file, err));
      return undefined;
    });
  }

  /**
   * FILE_READY came for a file sent as a delta: the signature is whole. Once its scan is over, the
   * new file's blocks go (NEW_SIG, before FILE_DONE) and the chunks not planned yet are; FILE_DONE
   * follows the last chunk sent (here, when every one went before).
   */
  private deltaReady(file: SendingFile): void {
    const delta = file.delta!;
    void delta.scan.then((scan) =>
      this.guard(() => {
        if (scan === undefined || file.failed) return;
        if (this.sigCacheNegotiated) for (const message of newSignatureMessages(file.fileId, scan.blocks)) this.link.control.conn.send(message);
        delta.whole = true;
        this.planMore(file, scan, file.entry.size);
        if (file.chunksSent === file.chunkCount) this.apply(this.machine.fileSent(file.fileId, file.digest.digest()));
      }),
    );
  }

  /** The chunks of a delta file that the scan so far (`covered` bytes of it) settles go to the pumps. */
  private planMore(file: SendingFile, scan: FileScan, covered: number): void {
    const delta = file.delta!;
    if (file.failed || delta.advance(scan, covered) === 0) return;
    if (!delta.queued) {
      delta.queued = true;
      this.sendQueue.push(file);
    }
    this.wakePumps();
  }

  /**
   * Feature DELTA: the receiver started describing its old version of a file: the file is opened
   * (with a descriptor taken for it) and cut into blocks meanwhile, following the `signature` as it
   * comes, for openFile to take over.
   * Nothing is done for a file that is over or already open; an open that fails is left to openFile.
   */
  private scanEarly(fileId: number, signature: readonly SignedBlock[]): void {
    const entry = this.announced.get(fileId);
    if (!entry || this.files.has(fileId)) return this.descriptors.budget.release();
    let fd: number | undefined;
    try {
      fd = openSync(entry.source, constants.O_RDONLY);
      const early: EarlyScan = {
        fd,
        opened: sourceState(fd),
        dropped: false,
        scan: this.scanInTurn(fd, entry.size, signature, () => this.over || early.dropped || !this.announced.has(fileId)).catch(() => undefined),
      };
      this.earlyScans.set(fileId, early);
    } catch {
      if (fd !== undefined) closeQuietly(fd);
      this.descriptors.budget.release();
    }
  }

  /** scanFile once a scan is free (undefined when `stop` says so by then): a few files at a time. */
  private scanInTurn(fd: number, size: number, signature: readonly SignedBlock[], stop: () => boolean, progress?: (scan: FileScan, covered: number) => void): Promise<FileScan | undefined> {
    return this.scans.run(async () => (stop() ? undefined : scanFile(this.link.xxh, fd, size, this.chunkSize, signature, stop, progress)));
  }

  /** Stops the early scan of a file, if any; its descriptor is closed once no read is in flight on it. */
  private dropEarlyScan(fileId: number): void {
    const early = this.earlyScans.get(fileId);
    if (!early) return;
    this.earlyScans.delete(fileId);
    early.dropped = true;
    void early.scan.then(() => {
      closeQuietly(early.fd);
      this.descriptors.budget.release();
    });
  }

  private queueResend(fileId: number, seq: number): void {
    const file = this.files.get(fileId);
    if (!file) return;
    this.resendQueue.push({ file, index: (seq * DATA_UNIT) / this.chunkSize, resend: true });
    this.wakePumps();
  }

  /** same: the receiver held the file already (FILE_SAME); inodeTag: its tag of that file (FILE_SAME_INODE). */
  private fileOver(fileId: number, error: FcpError | undefined, same = false, inodeTag?: bigint): void {
    const entry = this.announced.get(fileId);
    this.announced.delete(fileId);
    this.dropEarlyScan(fileId);
    const file = this.files.get(fileId);
    if (file) {
      file.failed = true;
      this.files.delete(fileId);
      this.close(file);
    }
    const inlineHash = this.inlineHashes.get(fileId);
    if (inlineHash !== undefined) this.inlineHashes.delete(fileId);
    // A file sent inline may have no entry held (readsSentEntries): its error counts all the same.
    if (error) this.errors.push(error);
    const stale = this.staleNotices.get(fileId);
    this.staleNotices.delete(fileId);
    // What a followed file grew by while it was read is sent next (APPEND): no warning for it.
    const grew = entry !== undefined && this.grown.delete(entry) && !this.follower;
    const warning = error ? undefined : joinWarnings(stale, entry && grew ? grewWarning(entry.source, entry.size) : undefined);
    if (warning) this.link.log(warning);
    if (entry && this.events.file) {
      const event =
        inlineHash !== undefined && !error
          ? sentEntryFileEvent(entry, entry.size, this.chunkSize, inlineHash, warning)
          : fileEvent(entry.path, entry.size, error, file ? () => file.digest.digest() : undefined, warning);
      this.events.file(event);
    }
    if (entry && !error) this.removeFileSource(entry, grew, same, inodeTag);
    this.announceSoon();
  }

  /**
   * Announces at the next turn of the event loop, once for every file that was over in this one:
   * a batch of FILE_OK answers frees the window once, rather than announcing a file per answer.
   */
  private announceSoon(): void {
    if (this.announceDue) return;
    this.announceDue = true;
    setImmediate(() => {
      this.announceDue = false;
      this.guard(() => this.announce());
    });
  }

  /**
   * --remove-source-files: the source of a file that is in place, unless it grew while it was
   * read (keptSource tells why one is kept). Under -u, --ignore-existing, --existing, --min-size or
   * --max-size, a file the receiver did not need (`same`) may be one those options left (the
   * destination holding another version, or none):
   * its source stays (as rsync keeps what those options skip). A source that is its own
   * destination (inodeTag, on this host) stays, and so do its other names (removeLinkSources).
   */
  private removeFileSource(entry: FileEntry, grew: boolean, same: boolean, inodeTag: bigint | undefined): void {
    if (!this.removing || (same && this.keepsSkipped)) return;
    let kept: KeptSource | undefined;
    if (grew) kept = GREW;
    else if (inodeTag !== undefined && isItsDestination(entry.source, inodeTag)) {
      this.ownDestinations.add(entry.path.toString('latin1'));
      kept = IS_ITS_DESTINATION;
    } else kept = removeSource(entry);
    if (kept) this.keptSource(entry, kept);
  }

  /**
   * A source --remove-source-files kept: an error of the run, not of the entry, which is in place
   * (the copy is partial, as rsync exits 23), told as an entry's (fcpd's log where no one shows
   * them), and the receiver hears why where it asked to (SOURCE_KEPT, a pull's).
   */
  private keptSource(entry: RemovableEntry, kept: KeptSource): void {
    const error = keptError(entry.source, kept);
    this.errors.push(error);
    if (this.events.entryFailed) this.events.entryFailed(entry.path, error);
    else this.link.log(error.message);
    this.apply(this.machine.sourceKept(entry.path, kept.code, kept.why));
  }

  /**
   * --remove-source-files: symlinks and other names of linked files, once the receiver's DONE says
   * that every one it did not report (ENTRY_ERROR) is in place.
   */
  private removeLinkSources(): void {
    if (!this.failedEntries || !this.linkEntries) return;
    for (const entry of this.linkEntries) {
      if (entry.kind === 'dir' || this.failedEntries.has(entry.path.toString('latin1'))) continue;
      // A receiver that found a file the same leaves its other names as they are: where the file
      // was its own destination, they are their own too. (A symlink is made again: its inode tells.)
      const linksOwnDestination = entry.kind === 'hardlink' && this.ownDestinations.has(entry.target.toString('latin1'));
      const kept = linksOwnDestination ? NAME_OF_OWN_DESTINATION : removeSource(entry);
      if (kept) this.keptSource(entry, kept);
    }
  }

  private close(file: SendingFile): void {
    // A delta file's scan may have a read in flight on its descriptor: it stops after it (the file failed, or the session is over).
    if (file.delta) {
      void file.delta.scan.then(() => this.closeNow(file));
      return;
    }
    this.closeNow(file);
  }

  private closeNow(file: SendingFile): void {
    closeQuietly(file.fd);
    this.descriptors.budget.release();
  }

  /**
   * The next chunk to send on conn, waiting while there is none or its ring of unacknowledged
   * chunks is full; undefined when the session or the connection is over.
   */
  private async nextJob(conn: LinkConnection, ring: OutstandingChunks | undefined): Promise<ChunkJob | undefined> {
    for (;;) {
      if (this.over || !conn.isOpen) return undefined;
      const job = ring?.room === 0 ? undefined : this.takeJob(Infinity);
      if (job) return job;
      await new Promise<void>((resolve) => this.idlePumps.push(resolve));
    }
  }

  /**
   * The next chunk if there is one now; with an encoder, only a chunk small enough to read at once
   * whose frames take at most `room` bytes (one to add behind others in a pump's buffer).
   */
  private takeJob(room: number, encoder?: FrameEncoder): ChunkJob | undefined {
    for (;;) {
      const resend = this.resendQueue[0];
      if (resend) {
        if (!resend.file.failed && !this.fits(resend.file, resend.index, room, encoder)) return undefined;
        this.resendQueue.shift();
        if (resend.file.failed) continue;
        return resend;
      }
      const file = this.sendQueue[0];
      if (!file) return undefined;
      if (!file.failed && !this.fits(file, file.nextChunk, room, encoder)) return undefined;
      const { delta } = file;
      const job = { file, index: delta ? delta.take()! : file.nextChunk, resend: false };
      if (!delta) file.nextChunk = unclaimedFrom(file, file.nextChunk + 1);
      // A delta file leaves the queue when its planned chunks are taken; planMore queues it again.
      if (file.failed || (delta ? !delta.hasReady : file.nextChunk === file.chunkCount)) {
        this.sendQueue.shift();
        if (delta) delta.queued = false;
      }
      if (!file.failed) return job;
    }
  }

  private fits(file: SendingFile, index: number, room: number, encoder: FrameEncoder | undefined): boolean {
    if (!encoder) return true;
    // A delta chunk's frames are bounded by the pump's room only when it is the first in its buffer.
    if (file.delta) return false;
    const length = this.chunkLength(file, index);
    return length <= SYNC_READ_MAX && encoder.dataLength(length) + CHUNK_SUM_ROOM <= room;
  }

  private wakePumps(): void {
    for (const wake of this.idlePumps.splice(0)) wake();
  }

  /**
   * Sends chunks over one data connection: a chunk, then as many small chunks as are ready and
   * fit behind it in the same buffer, written at once. Ten thousand small files then go out in a
   * few dozen writes rather than one write (and its waits) each.
   */
  private async pump(conn: FramedConnection, ring: OutstandingChunks | undefined): Promise<void> {
    const room = conn.encoder.dataLength(this.chunkSize) + CHUNK_SUM_ROOM + (this.deltaNegotiated ? deltaRoom(this.chunkSize) : 0);
    // A buffer is reused only once the socket has flushed the previous write from it.
    const flushed: Promise<unknown>[] = Array.from({ length: SEND_BUFFERS_PER_CONNECTION }, () => Promise.resolve());
    let taken = await this.nextJob(conn, ring);
    if (!taken) return;
    // Taken at the first chunk, not before: a tree of small files (all sent inline) needs none of
    // these, which are 3 chunks a connection (12-24 MiB at 4-8 connections of 1 MiB chunks).
    const buffers = Array.from({ length: SEND_BUFFERS_PER_CONNECTION }, () => Buffer.allocUnsafe(room));
    // -C: each chunk is read here, then deflated frame by frame into a buffer (no BATCH: a chunk's frames are its own).
    const plain = this.compressing ? Buffer.allocUnsafe(this.chunkSize) : undefined;
    // Features DELTA and SPARSE: a delta chunk, or one of a file with holes, is read here whole, then only its literal bytes are framed.
    const whole = plain ?? (this.deltaNegotiated || this.sparseNegotiated ? Buffer.allocUnsafe(this.chunkSize) : undefined);
    for (let turn = 0; ; turn = (turn + 1) % SEND_BUFFERS_PER_CONNECTION) {
      const first = taken ?? (await this.nextJob(conn, ring));
      taken = undefined;
      if (!first) return;
      // Chunks this buffer may take: each one written stays in the ring until acknowledged.
      let ringRoom = ring ? ring.room : Infinity;
      await flushed[turn];
      const buf = buffers[turn]!;
      const sent: { job: ChunkJob; hash: bigint; length: number; literal?: number }[] = [];
      let used = 0;
      // Where an open BATCH frame of small chunks starts (its entries follow its header), or -1.
      let batchAt = -1;
      const closeBatch = (): void => {
        if (batchAt < 0) return;
        // A batch whose only chunk failed to read holds nothing: it is dropped unsealed.
        used = used === batchAt + HEADER_SIZE ? batchAt : conn.encoder.finishFrame(buf, batchAt, PacketType.BATCH, used - batchAt - HEADER_SIZE);
        batchAt = -1;
      };
      for (let job: ChunkJob | undefined = first; job && !this.over; job = --ringRoom > 0 ? this.takeJob(room - used, conn.encoder) : undefined) {
        try {
          const length = this.chunkLength(job.file, job.index);
          let encoded: { end: number; hash: bigint; length: number; literal?: number } | undefined;
          if (this.batching && !plain && conn.encoder.sealed && length <= BATCH_CHUNK_MAX) {
            if (batchAt >= 0 && used + batchEntriesLength(length) - batchAt - HEADER_SIZE > BATCH_ROOM) closeBatch();
            if (batchAt < 0) {
              batchAt = used;
              used += HEADER_SIZE;
            }
            encoded = await this.encodeBatchedChunk(job, buf, used);
          } else {
            closeBatch();
            encoded = await this.encodeChunk(conn, job, buf.subarray(used), plain, whole);
            if (encoded) encoded.end += used;
          }
          if (!encoded) continue;
          used = encoded.end;
          sent.push({ job, hash: encoded.hash, length: encoded.length, literal: encoded.literal });
        } catch (err) {
          const file = job.file;
          this.guard(() => this.readFailed(file, err));
        }
      }
      closeBatch();
      if (used === 0) continue;
      if (!conn.isOpen) {
        // Lost while these were read: they go over the other connections, as they are.
        for (const { job } of sent) this.resendQueue.push(job);
        return this.wakePumps();
      }
      for (const { job, hash, length, literal } of sent) {
        ring?.push(job.file.fileId, job.index);
        this.guard(() => this.chunkSent(job, hash, length, literal));
      }
      // Sealed frames are always sent: skipping one would put the peer's GCM counter out of
      // step. The receiver drops data for a file that failed in the meantime.
      flushed[turn] = new Promise((resolve) => conn.write(buf.subarray(0, used), resolve));
      await conn.drain();
    }
  }

  /**
   * Hands chunks to a receiver in this process (memoryLink.ts): each is read into a pooled buffer,
   * hashed, and given over as it is, with no frame around it and no copy of it.
   */
  private async pumpInMemory(conn: MemoryConnection): Promise<void> {
    for (let job = await this.nextJob(conn, undefined); job; job = await this.nextJob(conn, undefined)) {
      const { file, index } = job;
      const offset = index * this.chunkSize;
      const length = this.chunkLength(file, index);
      const data = conn.chunkBuffer(length);
      const pieces = this.deltaPieces(job);
      let sparse: SparseChunkMessage[] | undefined;
      let hash: bigint | undefined;
      try {
        if (pieces) hash = await this.deltaChunkHash(job, pieces, data);
        else if (file.sparse) ({ hash, messages: sparse } = (await this.readSparseChunk(file, data, offset)) ?? {});
        else hash = await this.readChunk(file, [data], offset, length);
      } catch (err) {
        this.guard(() => this.readFailed(file, err));
      }
      // A chunk the receiver holds already (resume) is kept, not handed over; its buffer is collected.
      if (hash === undefined || this.kept(job, hash)) continue;
      if (pieces) for (const message of deltaChunkMessages(file.fileId, offset, data, pieces, hash)) conn.send(message);
      else if (sparse) this.sendSparse(conn, sparse, data);
      else conn.sendChunk(file.fileId, offset / DATA_UNIT, data, hash);
      await conn.drain();
      const sent = hash;
      this.guard(() => this.chunkSent(job, sent, length, pieces && length - copiedBytes(pieces)));
    }
  }

  /** A chunk of a file with holes handed over in memory; a chunk of holes only hands over no buffer, so it goes back to the pool here. */
  private sendSparse(conn: MemoryConnection, messages: readonly Message[], data: Buffer): void {
    for (const message of messages) conn.send(message);
    if (!messages.some((message) => message.type === PacketType.DATA)) conn.returnBuffer(data);
  }

  /**
   * Reads, hashes and frames one chunk (DATA frames, then CHUNK_SUM) at the start of buf; returns
   * where its frames end, or undefined when the file failed or the session ended while it was
   * being read, so nothing was sealed. Without `plain` the chunk is read straight into its DATA
   * frames; with it (-C), into `plain`, then deflated into buf.
   */
  private async encodeChunk(
    conn: FramedConnection,
    job: ChunkJob,
    buf: Buffer,
    plain: Buffer | undefined,
    whole: Buffer | undefined,
  ): Promise<{ end: number; hash: bigint; length: number; literal?: number } | undefined> {
    const { file, index } = job;
    const offset = index * this.chunkSize;
    const length = this.chunkLength(file, index);
    const pieces = whole && this.deltaPieces(job);
    if (pieces) return this.encodeDeltaChunk(conn, job, pieces, buf, whole!.subarray(0, length));
    if (file.sparse && whole) return this.encodeSparseChunk(conn, job, buf, whole.subarray(0, length));
    const slots = plain ? [plain.subarray(0, length)] : conn.encoder.dataSlots(buf, length);
    const hash = await this.readChunk(file, slots, offset, length);
    if (hash === undefined || this.kept(job, hash)) return undefined;
    const seq = offset / DATA_UNIT;
    const dataEnd = plain
      ? encodeCompressedData(conn.encoder, file.fileId, seq, slots[0]!, buf, 0)
      : conn.encoder.sealData(file.fileId, seq, buf, length).length;
    const end = conn.encoder.encodeInto({ type: PacketType.CHUNK_SUM, fileId: file.fileId, seq, length, hash }, buf, dataEnd);
    return { end, hash, length };
  }

  /** A chunk of a file with holes, read whole into `data`, framed as HOLE and DATA (DATA_Z with -C) and CHUNK_SUM. */
  private async encodeSparseChunk(conn: FramedConnection, job: ChunkJob, buf: Buffer, data: Buffer): Promise<{ end: number; hash: bigint; length: number } | undefined> {
    const scanned = await this.readSparseChunk(job.file, data, job.index * this.chunkSize);
    if (scanned === undefined || this.kept(job, scanned.hash)) return undefined;
    return { end: this.encodeMessages(conn, scanned.messages, buf), hash: scanned.hash, length: data.length };
  }

  /** A chunk of a file with holes read whole into `data`, its hash and its messages (sparse.ts); undefined as readChunk. */
  private async readSparseChunk(file: SendingFile, data: Buffer, offset: number): Promise<{ hash: bigint; messages: SparseChunkMessage[] } | undefined> {
    let scanned: { hash: bigint; messages: SparseChunkMessage[] } | undefined;
    const hash = await this.readChunk(file, [data], offset, data.length, () => (scanned = sparseChunk(this.link.xxh, file.fileId, offset, data)).hash);
    return hash === undefined ? undefined : scanned;
  }

  /** Frames messages at the start of buf, DATA deflated with -C; returns where they end. */
  private encodeMessages(conn: FramedConnection, messages: readonly Message[], buf: Buffer): number {
    let end = 0;
    for (const message of messages) {
      end =
        message.type === PacketType.DATA && this.compressing
          ? encodeCompressedData(conn.encoder, message.fileId, message.seq, message.data, buf, end)
          : conn.encoder.encodeInto(message, buf, end);
    }
    return end;
  }

  /**
   * Reads a chunk into its slots and hashes it while it is in memory; undefined when the file
   * failed or the session ended meanwhile, so the caller seals nothing. `scan`: how a chunk of a
   * file with holes is hashed, as it is scanned for zeros (sparse.ts).
   */
  private async readChunk(file: SendingFile, slots: Buffer[], offset: number, length: number, scan?: () => bigint): Promise<bigint | undefined> {
    await readFully(file, slots, offset, length);
    if (this.over || file.failed) return undefined;
    if (checkSource(file.fd, file.opened, file.entry.source, file.entry.size).grew) this.grown.add(file.entry);
    return scan ? scan() : chunkHash(this.link.xxh, slots);
  }

  private chunkLength(file: SendingFile, index: number): number {
    return Math.min(this.chunkSize, file.entry.size - index * this.chunkSize);
  }

  /**
   * Reads and hashes a small chunk into buf at pos as two BATCH entries, DATA then CHUNK_SUM (the
   * BATCH frame around them is sealed once for all its chunks); returns where they end, or
   * undefined when the file failed or the session ended while it was being read.
   */
  private async encodeBatchedChunk(job: ChunkJob, buf: Buffer, pos: number): Promise<{ end: number; hash: bigint; length: number } | undefined> {
    const { file, index } = job;
    const offset = index * this.chunkSize;
    const length = this.chunkLength(file, index);
    const seq = offset / DATA_UNIT;
    const at = writeEntryHeader(buf, pos, PacketType.DATA, DATA_HEADER_SIZE + length);
    buf.writeUInt32BE(file.fileId, at);
    buf.writeUInt32BE(seq, at + 4);
    const hash = await this.readChunk(file, [buf.subarray(at + DATA_HEADER_SIZE, at + DATA_HEADER_SIZE + length)], offset, length);
    if (hash === undefined || this.kept(job, hash)) return undefined;
    const sum = writeEntryHeader(buf, at + DATA_HEADER_SIZE + length, PacketType.CHUNK_SUM, CHUNK_SUM_SIZE);
    const end = writePayload({ type: PacketType.CHUNK_SUM, fileId: file.fileId, seq, length, hash }, buf, sum);
    return { end, hash, length };
  }

  /**
   * A chunk the receiver claims, read and hashed: true when its hash matches the claim, so it is
   * done without being sent (CHUNK_KEPT); false when it is to be sent.
   */
  private kept(job: ChunkJob, hash: bigint): boolean {
    if (job.resend || !job.file.claimed?.has(job.index)) return false;
    const actions = this.machine.chunkRead(job.file.fileId, job.index, hash);
    if (!actions) return false;
    this.apply(actions);
    this.chunkDone(job, hash);
    return true;
  }

  /** literal: of a delta chunk, the bytes that went (the rest the receiver copied from its old version). */
  private chunkSent(job: ChunkJob, hash: bigint, length: number, literal = length): void {
    this.events.bytes?.(length);
    this.bytesSent += literal;
    this.bytesSaved += length - literal;
    this.chunkDone(job, hash);
  }

  /** Feature DELTA: the chunk's share of its file's plan, when it copies anything (a resent chunk goes whole). */
  private deltaPieces(job: ChunkJob): Piece[] | undefined {
    const { file, index } = job;
    if (!file.delta || job.resend) return undefined;
    const pieces = file.delta.piecesOf(index);
    return pieces && !allLiteral(pieces) ? pieces : undefined;
  }

  /**
   * A delta chunk's literal bytes, read into `data` at their places in the chunk (the ranges the
   * receiver copies are neither read nor sent), and the chunk's hash, the one the plan's scan gave;
   * undefined when the file failed or the session ended meanwhile. Literal bytes that changed since
   * the scan fail the chunk's hash at the receiver: RESEND, and the chunk comes whole, read again.
   */
  private async deltaChunkHash(job: ChunkJob, pieces: readonly Piece[], data: Buffer): Promise<bigint | undefined> {
    const { file, index } = job;
    const start = index * this.chunkSize;
    for (const { at, length, from } of pieces) {
      if (from !== undefined) continue;
      await readFully(file, [data.subarray(at - start, at - start + length)], at, length);
      if (this.over || file.failed) return undefined;
    }
    if (this.over || file.failed) return undefined;
    if (checkSource(file.fd, file.opened, file.entry.source, file.entry.size).grew) this.grown.add(file.entry);
    return file.delta!.chunkHash(index);
  }

  /** A delta chunk (its bytes go into `data` when it has literal ones), framed as DELTA_COPY and DATA (DATA_Z with -C) and CHUNK_SUM. */
  private async encodeDeltaChunk(conn: FramedConnection, job: ChunkJob, pieces: readonly Piece[], buf: Buffer, data: Buffer): Promise<{ end: number; hash: bigint; length: number; literal: number } | undefined> {
    const hash = await this.deltaChunkHash(job, pieces, data);
    if (hash === undefined) return undefined;
    const end = this.encodeMessages(conn, deltaChunkMessages(job.file.fileId, job.index * this.chunkSize, data, pieces, hash), buf);
    return { end, hash, length: data.length, literal: data.length - copiedBytes(pieces) };
  }

  /** A chunk was sent, or kept: its hash goes into the digest, and FILE_DONE follows the last one. */
  private chunkDone(job: ChunkJob, hash: bigint): void {
    const file = job.file;
    if (job.resend || file.failed) return;
    file.delta?.sent(job.index);
    file.digest.add(job.index, hash);
    this.follower?.chunkSent(file.fileId, job.index, job.index === file.chunkCount - 1, this.chunkLength(file, job.index), hash);
    // A delta file's chunks may all go before its FILE_READY: deltaReady sends FILE_DONE then.
    if (++file.chunksSent === file.chunkCount && file.delta?.whole !== false) this.apply(this.machine.fileSent(file.fileId, file.digest.digest()));
  }

  private readFailed(file: SendingFile, err: unknown): void {
    if (file.failed) return;
    file.failed = true;
    this.apply(this.machine.fileFailed(file.fileId, fsError(err, 'read', file.entry.source)));
  }
}

/** The warnings that are there, joined; undefined when none is (the usual case: nothing allocated per file). */
function joinWarnings(...warnings: (string | undefined)[]): string | undefined {
  let joined: string | undefined;
  for (const text of warnings) if (text) joined = joined === undefined ? text : `${joined}; ${text}`;
  return joined;
}

/** The first chunk index from `index` on that the receiver does not claim (chunkCount when none is left). */
function unclaimedFrom(file: SendingFile, index: number): number {
  while (index < file.chunkCount && file.claimed?.has(index)) index++;
  return index;
}

/** Fills the slots from the file at offset; a file that got shorter since the walk is an error. */
async function readFully(file: SendingFile, slots: Buffer[], offset: number, length: number): Promise<void> {
  let pending = slots.slice();
  let position = offset;
  let left = length;
  while (pending.length > 0) {
    const bytesRead = left <= SYNC_READ_MAX ? readvSync(file.fd, pending, position) : (await readv(file.fd, pending, position)).bytesRead;
    left -= bytesRead;
    if (bytesRead === 0) throw sourceChanged(file.entry.source, 'shrank');
    position += bytesRead;
    let skip = bytesRead;
    while (pending.length > 0 && skip >= pending[0]!.length) skip -= pending.shift()!.length;
    if (skip > 0) pending = [pending[0]!.subarray(skip), ...pending.slice(1)];
  }
}

