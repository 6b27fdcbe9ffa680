/**
 * The transfer phase (PROTOCOL.md §7 and §11.3) as two pure machines. TransferSender announces
 * entries and answers the receiver's acknowledgements; TransferReceiver checks everything the
 * sender sends and tells its owner what to create, write, commit and discard. The owners do the
 * file I/O and report the outcome back (fileCreated, chunkWritten, fileSent, ...). Every `send`
 * action goes on the control connection.
 *
 * Crossing messages: a file can fail on one side while the other still sends about it (and a
 * FILE_ERROR on the control connection can overtake DATA on a data connection). So once a file has
 * FAILED, what the peer could still legitimately send about it is dropped, not refused; what it
 * could never legitimately send is refused as for any other file.
 *
 * Owner calls that cannot happen in a correct owner (an unknown file_id, a chunk that is not being
 * written, finish() before every file is announced) throw FCP_ERR_INTERNAL. Owner calls about a
 * file that has FAILED in the meantime are no-ops, since the owner's work races the peer.
 */
import { codeFromWire, FcpError, FcpErrorCode, wireFromCode } from '../errors';
import { showName } from '../showName';
import { DATA_FRAME_BYTES, DATA_UNIT, DELTA_MAX_BLOCK, DIGEST_SIZE, FollowEvent, HASH_SIZE, INLINE_MAX, MAX_ERROR_MESSAGE_BYTES, MAX_HELD_HASHES, PacketType } from '../protocol/constants';
import type {
  ChunkKeptMessage,
  ChunksHeldMessage,
  ChunkSumMessage,
  DataMessage,
  DeltaCopyMessage,
  DeltaSigMessage,
  NewSigMessage,
  EntryErrorMessage,
  FileDoneMessage,
  FileErrorMessage,
  FileInfoMessage,
  FileInlineMessage,
  FileOkMessage,
  FileReadyMessage,
  FileWantMessage,
  FileWholeMessage,
  HardlinkMessage,
  HoleMessage,
  Message,
  PartialStaleMessage,
  ResendMessage,
  AppendMessage,
} from '../protocol/messages';
import { fail, FailAction, peerError, send, SendAction, sendAnswer, unexpected } from './actions';
import { ACK_EVERY } from './dataLoss';
import { chunkCount, FileDigest } from './digest';
import { IdRanges } from './idRanges';
import type { EntryKind, EntryScope } from './entryScope';
import type { SignedBlock } from '../delta/blocks';
import type { CopyPiece } from '../delta/plan';
import { newSignatureLimit, SignatureCollector, signatureLimit, signatureMessages } from '../delta/signature';
import { FollowLedger } from '../follow/ledger';
import { FileIdMap } from './fileIds';

/** Attempts at one chunk before its file fails with FCP_ERR_VERIFY (PROTOCOL.md §7.3, §12). */
export const MAX_CHUNK_ATTEMPTS = 3;
/** Files announced but not yet acknowledged, at most (PROTOCOL.md §7.1: at least 256). */
export const DEFAULT_WINDOW_FILES = 2048;
/**
 * Bytes of FILE_INLINE files sent but not yet acknowledged, at most. They hold no descriptor on
 * either side, so the file window does not bound them; this is enough to keep a long fat link
 * busy (1 Gbit/s over a 500 ms round trip).
 */
export const INLINE_WINDOW_BYTES = 64 * 1024 * 1024;
/**
 * FILE_INLINE files sent but not yet acknowledged, at most: each holds a little state on both
 * sides until its FILE_OK, and tiny files would otherwise fill the byte window by the million.
 * Enough for about 80,000 files a second over a 200 ms round trip.
 */
export const INLINE_WINDOW_FILES = 16 * 1024;
/**
 * Answers (FILE_OK, FILE_SAME, FILE_WANT) that wait for the end of their turn of the event loop,
 * at most: a turn reads up to 32 socket reads, some 20,000 tiny inline files, more than the
 * sender's inline window, which would then wait for the whole turn. A sixteenth of that window.
 */
export const ANSWERS_WAITING_MAX = INLINE_WINDOW_FILES / 16;

/** Receiver: create a directory (its mode and mtime are applied at `finish`, deepest first). */
export interface CreateDirAction { type: 'createDir'; path: Buffer; perm: number; mtimeNs: bigint }
export interface CreateSymlinkAction { type: 'createSymlink'; path: Buffer; target: Buffer; mtimeNs: bigint }
/**
 * Receiver (-H): link entry `path` to the file of entry `target`, which is in place; on failure
 * call entryFailed.
 */
export interface CreateHardlinkAction { type: 'createHardlink'; path: Buffer; target: Buffer }
/** Receiver (feature OWNERS): the owner and group of the entries announced from now on (names are copies). */
export interface SetOwnerAction { type: 'setOwner'; uid: number; gid: number; user: Buffer; group: Buffer }
/** Receiver: create the temporary file, then call fileCreated or fileFailed. */
export interface CreateFileAction {
  type: 'createFile';
  fileId: number;
  path: Buffer;
  perm: number;
  size: number;
  mtimeNs: bigint;
  /** FILE_INFO's whole-file digest (zero when the sender sends it in FILE_DONE only): --checksum compares it. */
  digest: Buffer;
}
/**
 * Receiver: hash `data` (the chunk's DATA payloads in order, views into the frames received),
 * compare with `hash`, write it at seq × DATA_UNIT when it matches, then call chunkWritten.
 * `attempt` counts from 1.
 */
export interface WriteChunkAction {
  type: 'writeChunk';
  fileId: number;
  seq: number;
  length: number;
  hash: bigint;
  data: Buffer[];
  attempt: number;
  /**
   * Feature DELTA: ranges of the chunk to take from the old file (DELTA_COPY), in order; `data`
   * then holds the bytes of the rest of the chunk, in order.
   */
  copies?: readonly CopyPiece[];
  /** Feature SPARSE: ranges of the chunk that are zeros (HOLE), in order; `data` then holds the bytes between them, in order. */
  holes?: readonly HolePiece[];
}

/** A range of a chunk that is zeros (HOLE), by file offset. */
export interface HolePiece {
  at: number;
  length: number;
}
/**
 * Receiver: a whole small file (FILE_INLINE). Check data against hash, write it under a temporary
 * name, apply mode and mtime and rename it into place, then call fileCommitted or fileFailed.
 */
export interface WriteFileAction {
  type: 'writeFile';
  fileId: number;
  path: Buffer;
  perm: number;
  mtimeNs: bigint;
  hash: bigint;
  data: Buffer;
}
/**
 * Receiver (more feature FILE_WANT): the small file it asked for whole came (FILE_WHOLE). Check data
 * against hash and write it as a FILE_INLINE's, with the path, mode, mtime and owner of its
 * FILE_INFO, then call fileCommitted or fileFailed.
 */
export interface WriteWantedAction { type: 'writeWanted'; fileId: number; hash: bigint; data: Buffer }
/**
 * Receiver: rename the verified file into place, apply mode and mtime, then call fileCommitted.
 * `signature`: feature SIG_CACHE, the new file's blocks as the sender cut it (NEW_SIG), covering
 * it whole: what the owner keeps in its signature cache once the file is in place.
 */
export interface CommitFileAction { type: 'commitFile'; fileId: number; signature?: readonly SignedBlock[] }
/** Receiver: delete the temporary file of a file that FAILED. */
/** keep: the file failed for want of space; its part file and journal stay for a rerun after space was freed to resume. */
export interface DiscardFileAction { type: 'discardFile'; fileId: number; keep?: true }
/** Receiver: apply directory metadata, then call finished. */
export interface FinishAction { type: 'finish' }
/**
 * Sender: FILE_READY came, stream the file's chunks, then call fileSent. `claimed`: chunks the
 * receiver holds (CHUNKS_HELD, feature RESUME), by index: each is read and hashed like any other and
 * handed to chunkRead, which says whether it is sent. `signature`: the blocks of the receiver's old
 * version of the file (DELTA_SIG, feature DELTA), in order: the file is sent as a delta against them.
 */
export interface SendFileAction { type: 'sendFile'; fileId: number; claimed: ReadonlySet<number> | undefined; signature: readonly SignedBlock[] | undefined }
/** Sender (more feature FILE_WANT): FILE_WANT came; read the file whole and send wholeMessage's FILE_WHOLE, or call fileFailed. */
export interface SendWholeAction { type: 'sendWhole'; fileId: number }
/**
 * Sender (feature DELTA): the first DELTA_SIG of a file came: the receiver is reading its old
 * version and describes it as it goes, so the file may be cut into blocks meanwhile (sendFile,
 * with the whole signature, follows FILE_READY). `signature`: its blocks so far, a list that grows
 * as the next DELTA_SIG messages come (the scan follows it: guidedScan.ts).
 */
export interface SignatureStartedAction { type: 'signatureStarted'; fileId: number; signature: readonly SignedBlock[] }
/**
 * Progress: `bytes` of a file were not sent, the receiver held them and the sender's data matched
 * (CHUNK_KEPT).
 */
export interface ChunkKeptAction { type: 'chunkKept'; fileId: number; bytes: number }
/** Sender (feature SYNC): a receiving fcpd changed an entry (ITEM): `item` is rsync's `%i` (copies of the message's bytes). */
export interface ItemAction { type: 'item'; item: string; isDir: boolean; path: Buffer }
/** Sender: the receiver discarded partial state of the file (PARTIAL_STALE, a StaleReason): it is sent whole. */
export interface PartialStaleAction { type: 'partialStale'; fileId: number; reason: number }
/** Sender: send this chunk again (the receiver's copy failed its hash). */
export interface ResendChunkAction { type: 'resendChunk'; fileId: number; seq: number; length: number }
/**
 * Receiver: the sender answered this side's DATA_LOST (feature RECONNECT): it no longer holds
 * connection index connIndex, so a replacement may attach there.
 */
export interface DataLostAnsweredAction { type: 'dataLostAnswered'; connIndex: number }
/** Sender: the receiver acknowledged `chunks` whole chunks of data connection connIndex (CHUNK_ACK). */
export interface ChunksAckedAction { type: 'chunksAcked'; connIndex: number; chunks: number }
/**
 * Sender: data connection connIndex is gone and `chunks` whole chunks arrived on it (DATA_LOST):
 * send the others again, answer with the same DATA_LOST, and give up the index.
 */
export interface DataLostAction { type: 'dataLost'; connIndex: number; chunks: number }
/**
 * Progress: the file is verified and in place; same: the destination held it already (FILE_SAME),
 * nothing was sent; inodeTag: the destination file's (FILE_SAME_INODE), which a sender compares with its source's.
 */
export interface FileOkAction { type: 'fileOk'; fileId: number; same?: true; inodeTag?: bigint }
/** Progress: the file failed (this side's error, or the peer's FILE_ERROR). */
export interface FileFailedAction { type: 'fileFailed'; fileId: number; error: FcpError }
/**
 * Progress: an entry that is not a file failed, or was skipped by the sender (its ENTRY_ERROR, or
 * this side's): the transfer is partial.
 */
export interface EntryFailedAction { type: 'entryFailed'; path: Buffer; error: FcpError }
/**
 * Both DONE were exchanged; bytes counts the files that ended OK, bytesResumed those of them the
 * destination already held (FILE_SAME); entriesFailed the ENTRY_ERRORs either side sent.
 */
/**
 * Receiver (feature FOLLOW): `data` (hashing to `hash`) goes at `offset` of the file of entry
 * `path`, which is in place under its final name and exactly `offset` bytes long; then its mtime
 * is set. A failure ends the session (the file's first part is in place and verified).
 */
export interface AppendFileAction { type: 'appendFile'; fileId: number; path: Buffer; offset: number; mtimeNs: bigint; hash: bigint; data: Buffer }
/** Receiver (feature FOLLOW): the sender's FOLLOW notice (a FollowEvent) about `name` (a copy), to show. */
export interface FollowNoticeAction { type: 'followNotice'; event: number; name: Buffer }
/** Receiver (FOLLOW or STREAM): a FILE_COUNT after the first counted more files: the totals to show grow. */
export interface CountedAction { type: 'counted'; files: number; bytes: number }
/** Sender (feature FOLLOW): the receiver asked to stop following (FOLLOW STOP): DONE once what was read is sent. */
export interface FollowStopAction { type: 'followStop' }
/** Sender (feature DEST_STATE): the receiver's destination holds entries, or is empty (DEST_STATE). */
export interface DestStateAction { type: 'destState'; holds: boolean }
/** Sender (more feature DIR_STATE): the receiver made the top-level directory `path` now (holds false), or found it (DIR_STATE). */
export interface DirStateAction { type: 'dirState'; path: Buffer; holds: boolean }
/**
 * Sender (--remove-source-files): the receiver's DONE is in: every entry it did not report is in
 * place, so the symlinks and other names of linked files sent go now (files went at their FILE_OK);
 * the owner then calls removalsOver().
 */
export interface RemoveSourcesAction { type: 'removeSources' }
/** Receiver (more feature SOURCE_KEPT): the sender kept the source of `path`, for the reason it gives, of that code (SOURCE_KEPT). */
export interface SourceKeptAction { type: 'sourceKept'; path: Buffer; code: FcpErrorCode; why: string }
export interface CompleteAction { type: 'complete'; filesOk: number; filesFailed: number; entriesFailed: number; bytes: number; bytesResumed: number; filesSame: number }

export type ReceiverAction =
  | SendAction
  | FailAction
  | CreateDirAction
  | CreateSymlinkAction
  | CreateHardlinkAction
  | SetOwnerAction
  | CreateFileAction
  | WriteChunkAction
  | WriteFileAction
  | WriteWantedAction
  | CommitFileAction
  | DiscardFileAction
  | FinishAction
  | DataLostAnsweredAction
  | ChunkKeptAction
  | FileOkAction
  | FileFailedAction
  | EntryFailedAction
  | AppendFileAction
  | FollowNoticeAction
  | SourceKeptAction
  | CountedAction
  | CompleteAction;
export type SenderAction =
  | SendAction
  | FailAction
  | SendFileAction
  | SendWholeAction
  | SignatureStartedAction
  | ResendChunkAction
  | ChunksAckedAction
  | DataLostAction
  | ChunkKeptAction
  | PartialStaleAction
  | ItemAction
  | FileOkAction
  | FileFailedAction
  | EntryFailedAction
  | FollowStopAction
  | RemoveSourcesAction
  | DestStateAction
  | DirStateAction
  | CompleteAction;
export type TransferAction = ReceiverAction | SenderAction;

/** What most events return; shared so that the DATA path allocates nothing. */
const NO_ACTIONS: readonly never[] = Object.freeze([]);
const SLASH = 0x2f;
/**
 * Failures after which a file's verified chunks are worth keeping: once space is freed, the same
 * command resumes it (ENOSPC and EDQUOT). After any other failure resuming is pointless (the data
 * or the source is wrong), so the part file goes.
 */
const RESUMABLE_FAILURES: ReadonlySet<string> = new Set(['FCP_ERR_NO_SPACE']);
/** FILE_INFO.digest of a sender that sends the digest in FILE_DONE. */
const ZERO_DIGEST: Buffer = Buffer.alloc(DIGEST_SIZE);

/** Length of the chunk that starts at byte `offset` of a file, or 0 when no chunk starts there. */
function chunkLengthAt(offset: number, size: number, chunkSize: number): number {
  return offset % chunkSize === 0 && offset < size ? Math.min(chunkSize, size - offset) : 0;
}

/**
 * The CHUNKS_HELD messages that claim `held` (chunk index → xxh64): one per run of consecutive
 * indexes, a run cut at MAX_HELD_HASHES so that every message fits a frame.
 */
export function heldMessages(fileId: number, held: ReadonlyMap<number, bigint>): ChunksHeldMessage[] {
  const indexes = [...held.keys()].sort((a, b) => a - b);
  const messages: ChunksHeldMessage[] = [];
  for (let start = 0; start < indexes.length; ) {
    let end = start + 1;
    while (end < indexes.length && end - start < MAX_HELD_HASHES && indexes[end] === indexes[end - 1]! + 1) end++;
    const hashes = Buffer.allocUnsafe((end - start) * HASH_SIZE);
    for (let i = start; i < end; i++) hashes.writeBigUInt64BE(held.get(indexes[i]!)!, (i - start) * HASH_SIZE);
    messages.push({ type: PacketType.CHUNKS_HELD, fileId, firstIndex: indexes[start]!, hashes });
    start = end;
  }
  return messages;
}

/** `text` cut to what the wire takes, at a UTF-8 character boundary. */
function wireText(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_ERROR_MESSAGE_BYTES) return text;
  let end = MAX_ERROR_MESSAGE_BYTES;
  while ((bytes[end] & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

function fileError(fileId: number, error: FcpError): SendAction {
  return send({
    type: PacketType.FILE_ERROR,
    fileId,
    code: wireFromCode(error.code),
    message: wireText(error.message),
  });
}

function entryError(path: Buffer, error: FcpError): (SendAction | EntryFailedAction)[] {
  return [
    send({ type: PacketType.ENTRY_ERROR, code: wireFromCode(error.code), path, message: wireText(error.message) }),
    { type: 'entryFailed', path, error },
  ];
}

function protocolError(text: string): FcpError {
  return new FcpError('FCP_ERR_PROTOCOL', text);
}

function internalError(text: string): FcpError {
  return new FcpError('FCP_ERR_INTERNAL', text);
}

function hex64(hash: bigint): string {
  return hash.toString(16).padStart(16, '0');
}

/** What both machines share: the announcement count, the tallies, and the trip to FAILED. */
abstract class TransferMachine<S extends string> {
  state: S | 'FAILED';
  /** The error that took the machine to FAILED. */
  failure: FcpError | undefined;
  /** From FILE_COUNT. */
  protected count = 0;
  protected totalBytes = 0;
  /** file_ids are 0, 1, 2, ...: this is also the number of files announced. */
  protected nextFileId = 0;
  protected announcedBytes = 0;
  protected filesOk = 0;
  protected filesFailed = 0;
  protected entriesFailed = 0;
  protected bytesOk = 0;
  /** Bytes of files settled by FILE_SAME, and of chunks kept (CHUNK_KEPT): OK without a byte sent. */
  protected bytesResumed = 0;
  /** Files settled by FILE_SAME: the destination held them, or a sync left them as they are. */
  protected filesSame = 0;

  protected constructor(
    initial: S,
    /** How the peer is named in errors: "server 10.0.0.2:7523". */
    protected readonly peerName: string,
  ) {
    this.state = initial;
  }

  protected fail(error: FcpError, notifyPeer = true): FailAction[] {
    this.state = 'FAILED';
    this.failure = error;
    return [fail(error, notifyPeer)];
  }

  /** Why one more file of `size` bytes breaks FILE_COUNT, or undefined when it fits. */
  protected announcementProblem(size: number): string | undefined {
    if (this.nextFileId >= this.count) return `FILE_COUNT announced ${this.count} files and all were announced`;
    if (this.announcedBytes + size > this.totalBytes) {
      return `file_id ${this.nextFileId} of ${size} bytes brings the announced sizes to ` +
        `${this.announcedBytes + size}, over FILE_COUNT's total of ${this.totalBytes}`;
    }
    return undefined;
  }

  /** Why the announcement of `fileId` (`what`: FILE_INFO, FILE_INLINE) breaks FILE_COUNT or the id order. */
  protected refusedAnnouncement(what: string, fileId: number, path: Buffer, size: number): FcpError | undefined {
    const problem = this.announcementProblem(size);
    if (problem !== undefined) return protocolError(`${what} for ${showName(path)}: ${problem}`);
    if (fileId !== this.nextFileId) return protocolError(`${what} announces file_id ${fileId}; the next file_id is ${this.nextFileId}`);
    return undefined;
  }

  /** Counts one more announced file; returns its file_id. */
  protected recordAnnouncement(size: number): number {
    this.announcedBytes += size;
    return this.nextFileId++;
  }

  /** A message about a file_id that is neither in progress nor failed. */
  protected notInProgress(what: string, fileId: number): FcpError {
    const status = fileId < this.nextFileId ? 'is already complete' : 'was never announced';
    return protocolError(`${what} for file_id ${fileId}, which ${status}`);
  }

  /** An entry that is not a file failed: this side's (ENTRY_ERROR to send) or the peer's. */
  protected entryFailedHere(path: Buffer, error: FcpError): (SendAction | EntryFailedAction)[] {
    this.entriesFailed++;
    return entryError(path, error);
  }

  protected entryFailedThere(message: EntryErrorMessage): EntryFailedAction[] {
    this.entriesFailed++;
    return [{ type: 'entryFailed', path: message.path, error: peerError(message, this.peerName) }];
  }

  protected summary(): CompleteAction {
    return {
      type: 'complete',
      filesOk: this.filesOk,
      filesFailed: this.filesFailed,
      entriesFailed: this.entriesFailed,
      bytes: this.bytesOk,
      bytesResumed: this.bytesResumed,
      filesSame: this.filesSame,
    };
  }
}

// ─── Receiver ────────────────────────────────────────────────────────────────────────────────

/**
 * AWAIT_FILE_COUNT → RECEIVING (entries are announced) → SENDER_DONE (the sender's DONE is in,
 * files are still open) → FINISHING (every file settled, `finish` asked for) → CLOSED, by way of
 * AWAIT_REMOVALS (this side's DONE is out, the sender's second is due) under more feature
 * SOURCES_REMOVED.
 */
type ReceiverState = 'AWAIT_FILE_COUNT' | 'RECEIVING' | 'SENDER_DONE' | 'FINISHING' | 'AWAIT_REMOVALS' | 'CLOSED';

/** A chunk between its first DATA and its verification. */
interface ChunkProgress {
  /** CHUNK_SUMs received for it so far. */
  attempts: number;
  /** receiving: DATA is coming; writing: the owner is hashing it; resend: RESEND sent. */
  phase: 'receiving' | 'writing' | 'resend';
  /** The hash of the last CHUNK_SUM. */
  hash: bigint;
}

/** A file announced and not yet OK or FAILED. */
interface IncomingFile {
  readonly fileId: number;
  readonly path: Buffer;
  readonly size: number;
  /** ANNOUNCED: being created; READY: FILE_READY sent; COMMITTING: the owner renames it into place. */
  state: 'ANNOUNCED' | 'READY' | 'COMMITTING';
  /**
   * Hashes of the verified chunks, and the chunks that started but are not verified yet, by chunk
   * index: made when the first chunk is (digestOf, claimChunk). Most announced files of a rerun
   * are found in place (FILE_SAME) and need neither.
   */
  digest: FileDigest | undefined;
  chunks: Map<number, ChunkProgress> | undefined;
  /** FILE_INFO's digest: zero when the sender sends it in FILE_DONE only. */
  readonly announcedDigest: Buffer;
  /** FILE_DONE's digest, once it came. */
  doneDigest: Buffer | undefined;
  /** Chunks claimed with CHUNKS_HELD and neither kept (CHUNK_KEPT) nor sent again yet, with their hashes. */
  held: Map<number, bigint> | undefined;
  /** Bytes of the old file its DELTA_SIG described: DELTA_COPY may copy from within them. Undefined: no DELTA_SIG sent. */
  oldExtent: number | undefined;
  /** Blocks its DELTA_SIG described. */
  oldBlocks: number;
  /** Feature SIG_CACHE: the new file's blocks (NEW_SIG) so far; created at the first NEW_SIG. */
  newBlocks: SignatureCollector | undefined;
}

/** What is left of a failed file: enough to check the DATA that may still be on its way. */
interface FailedFile {
  readonly size: number;
  /** FILE_READY was sent, so the sender may have sent DATA for it. */
  readonly created: boolean;
  /** Feature DELTA_EARLY: DELTA_SIG was sent for it, so delta chunks may have come before FILE_READY. */
  readonly early: boolean;
}

/** -H: a file that hard links may name, and the links that wait for it to be in place. */
interface LinkTarget {
  readonly path: Buffer;
  /** pending until the file is OK or FAILED (with its error). */
  outcome: 'pending' | 'ok' | FcpError;
  readonly waiting: Buffer[];
}

/** The chunk a data connection is in the middle of; one per connection, reused. */
class DataLink {
  /** -1 when no chunk is open. */
  fileId = -1;
  start = 0;
  /** Where the next DATA must start. */
  next = 0;
  end = 0;
  frames: Buffer[] = [];
  /** DELTA_COPY ranges of the chunk (feature DELTA). */
  copies: CopyPiece[] = [];
  /** The chunk is of a file sent as a delta: its DATA may end at any DATA_UNIT boundary, before a DELTA_COPY. */
  delta = false;
  /** HOLE ranges of the chunk (feature SPARSE). */
  holes: HolePiece[] = [];
  /** Undefined when the file had FAILED before the chunk started: its data is dropped. */
  progress: ChunkProgress | undefined = undefined;
  /** Whole chunks (CHUNK_SUM) received on the connection attached now (u32, wraps). */
  chunks = 0;
  /** DATA_LOST sent for this index and not answered yet. */
  unanswered = 0;
}

function describe(file: IncomingFile): string {
  return `file_id ${file.fileId} (${showName(file.path)})`;
}

export class TransferReceiver extends TransferMachine<ReceiverState> {
  private readonly chunkSize: number;
  private readonly files = new FileIdMap<IncomingFile>();
  private readonly failedFiles = new Map<number, FailedFile>();
  /** FILE_INLINE files, and FILE_WHOLE ones, the owner is writing: their sizes by file_id. */
  private readonly inlineFiles = new FileIdMap<number>();
  /** Files asked for whole (FILE_WANT) whose FILE_WHOLE has not come: their sizes by file_id. */
  private readonly wantedFiles = new FileIdMap<number>();
  /**
   * Files answered with FILE_SAME: a FILE_ERROR of the sender's that crossed the answer is dropped.
   * Runs of ids, not one record per file: a rerun answers a whole tree so.
   */
  private readonly sameFiles = new IdRanges();
  /** By connection index (1..N). */
  private readonly links: (DataLink | undefined)[] = [];
  /** What the request covers: every announced entry is checked against it (PROTOCOL.md §7.2). */
  private readonly scope: EntryScope;
  /** The session negotiated RECONNECT: chunks are acknowledged per connection, a lost one reported. */
  private readonly reconnect: boolean;

  /**
   * With HARD_LINKS: every announced file by entry path (latin1), which a HARDLINK may name, and
   * by file_id while it is in progress. Undefined without the feature: HARDLINK is then unexpected.
   */
  private readonly linkTargets: Map<string, LinkTarget> | undefined;
  private readonly pendingTargets = new Map<number, LinkTarget>();

  /** The session negotiated OWNERS: OWNER may come. */
  private readonly owners: boolean;

  /** The session negotiated RESUME: held chunks are claimed, and the sender may keep them. */
  private readonly resume: boolean;

  /** The session negotiated DELTA: a file may be described by its old version (DELTA_SIG) and come as DELTA_COPY and DATA. */
  private readonly delta: boolean;

  /** The session negotiated SIG_CACHE: the sender sends the blocks of each file it sends as a delta (NEW_SIG). */
  private readonly sigCache: boolean;

  /** The session negotiated DELTA_EARLY: a file described by DELTA_SIG may get its chunks before FILE_READY. */
  private readonly deltaEarly: boolean;

  /** The session negotiated FOLLOW: files in place may grow (APPEND), and FILE_COUNT may come again for more files. */
  private readonly follow: FollowLedger | undefined;
  /** The session negotiated SPARSE: a run of zeros in a chunk may come as HOLE, and DATA may then end at any DATA_UNIT boundary. */
  private readonly sparse: boolean;
  /** The session negotiated STREAM: FILE_COUNT may come again, for files the sender walked since. */
  private readonly stream: boolean;
  /** The session negotiated more feature FILE_WANT: a small file may be asked for whole (FILE_WANT), and come as FILE_WHOLE. */
  readonly fileWant: boolean;
  /** More feature SOURCES_REMOVED with REMOVE_SOURCE: after this side's DONE the sender's second DONE ends the session. */
  private readonly awaitRemovals: boolean;
  /** More feature SAME_INODE with REMOVE_SOURCE: FILE_SAME_INODE, with the destination's inode tag, in place of FILE_SAME. */
  readonly sameInode: boolean;
  /** More feature SOURCE_KEPT with SOURCES_REMOVED and REMOVE_SOURCE: the sender names each source it keeps (SOURCE_KEPT). */
  private readonly keptReported: boolean;

  /**
   * hardLinks, owners, reconnect, resume, delta, sigCache, deltaEarly, follow, sparse, stream,
   * fileWant: the session negotiated HARD_LINKS, OWNERS, RECONNECT, RESUME, DELTA, SIG_CACHE,
   * DELTA_EARLY, FOLLOW, SPARSE, STREAM, FILE_WANT. awaitRemovals: SOURCES_REMOVED with REMOVE_SOURCE.
   * sameInode: SAME_INODE with REMOVE_SOURCE. keptReported: SOURCE_KEPT (with awaitRemovals only:
   * the last sources kept are told between this side's DONE and the sender's).
   */
  constructor(opts: { chunkSize: number; peerName: string; scope: EntryScope; hardLinks?: boolean; owners?: boolean; reconnect?: boolean; resume?: boolean; delta?: boolean; sigCache?: boolean; deltaEarly?: boolean; follow?: boolean; sparse?: boolean; stream?: boolean; fileWant?: boolean; awaitRemovals?: boolean; sameInode?: boolean; keptReported?: boolean }) {
    super('AWAIT_FILE_COUNT', opts.peerName);
    this.chunkSize = opts.chunkSize;
    this.scope = opts.scope;
    this.linkTargets = opts.hardLinks ? new Map() : undefined;
    this.owners = opts.owners ?? false;
    this.reconnect = opts.reconnect ?? false;
    this.resume = opts.resume ?? false;
    this.delta = opts.delta ?? false;
    this.sigCache = this.delta && opts.sigCache === true;
    this.deltaEarly = this.delta && opts.deltaEarly === true;
    this.follow = opts.follow ? new FollowLedger() : undefined;
    this.sparse = opts.sparse ?? false;
    this.stream = opts.stream ?? false;
    this.fileWant = opts.fileWant ?? false;
    this.awaitRemovals = opts.awaitRemovals ?? false;
    this.sameInode = opts.sameInode ?? false;
    this.keptReported = this.awaitRemovals && opts.keptReported === true;
  }

  /**
   * A message arrived on connection `connIndex`: 0 is the control connection, 1..N data. DATA,
   * CHUNK_SUM, FILE_DONE and FILE_ERROR are taken in every state after FILE_COUNT, CLOSED included:
   * once every file is settled they can only be about a failed file (sent before the sender heard
   * of its failure) and are dropped; about any other file they are refused.
   */
  receive(connIndex: number, message: Message): readonly ReceiverAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    const started = this.state !== 'AWAIT_FILE_COUNT';
    const onControl = connIndex === 0;
    switch (message.type) {
      case PacketType.DATA:
        if (started && !onControl) return this.onData(this.link(connIndex), message);
        break;
      case PacketType.CHUNK_SUM:
        if (started && !onControl) return this.onChunkSum(connIndex, message);
        break;
      case PacketType.DELTA_COPY:
        if (started && !onControl && this.delta) return this.onDeltaCopy(this.link(connIndex), message);
        break;
      case PacketType.HOLE:
        if (started && !onControl && this.sparse) return this.onHole(this.link(connIndex), message);
        break;
      case PacketType.FILE_COUNT:
        if (!started && onControl) return this.onFileCount(message.count, message.totalBytes);
        // FOLLOW: more files (new ones, or files sent again); STREAM: more files walked. Announced as the others were.
        if (this.announcing(onControl) && (this.follow || this.stream)) return this.onMoreFiles(message.count, message.totalBytes);
        break;
      case PacketType.APPEND:
        if (this.announcing(onControl) && this.follow) return this.onAppend(this.follow, message);
        break;
      case PacketType.FOLLOW:
        if (onControl && this.follow && message.event !== FollowEvent.STOP && (this.state === 'AWAIT_FILE_COUNT' || this.state === 'RECEIVING')) {
          return [{ type: 'followNotice', event: message.event, name: Buffer.from(message.name) }];
        }
        break;
      case PacketType.DIR_INFO:
        if (this.announcing(onControl)) {
          return this.outOfScope('dir', message.path) ?? [{ type: 'createDir', path: message.path, perm: message.perm, mtimeNs: message.mtimeNs }];
        }
        break;
      case PacketType.SYMLINK:
        if (this.announcing(onControl)) {
          return this.outOfScope('symlink', message.path) ?? [{ type: 'createSymlink', path: message.path, target: message.target, mtimeNs: message.mtimeNs }];
        }
        break;
      case PacketType.FILE_INFO:
        if (this.announcing(onControl)) return this.outOfScope('file', message.path) ?? this.onFileInfo(message);
        break;
      case PacketType.FILE_INLINE:
        if (this.announcing(onControl)) return this.outOfScope('file', message.path) ?? this.onFileInline(message);
        break;
      case PacketType.HARDLINK:
        if (this.announcing(onControl) && this.linkTargets) return this.outOfScope('file', message.path) ?? this.onHardlink(this.linkTargets, message);
        break;
      case PacketType.OWNER:
        if (this.announcing(onControl) && this.owners) {
          const { uid, gid, user, group } = message;
          return [{ type: 'setOwner', uid, gid, user: Buffer.from(user), group: Buffer.from(group) }];
        }
        break;
      case PacketType.ENTRY_ERROR:
        if (this.announcing(onControl)) return this.entryFailedThere(message);
        break;
      case PacketType.SOURCE_KEPT:
        // Files' sources go at their FILE_OK, the links' after this side's DONE, before the sender's.
        if (this.keptReported && onControl && started && this.state !== 'CLOSED') return [{ type: 'sourceKept', path: message.path, code: codeFromWire(message.code), why: message.message }];
        break;
      case PacketType.DONE:
        if (this.announcing(onControl)) return this.onDone();
        // SOURCES_REMOVED: the sender's second DONE, after its removals.
        if (onControl && this.state === 'AWAIT_REMOVALS') {
          this.state = 'CLOSED';
          return [this.summary()];
        }
        break;
      case PacketType.FILE_DONE:
        if (started && onControl) return this.onFileDone(message);
        break;
      case PacketType.FILE_WHOLE:
        if (started && onControl && this.fileWant) return this.onFileWhole(message);
        break;
      case PacketType.FILE_ERROR:
        if (started && onControl) return this.onFileError(message);
        break;
      case PacketType.DATA_LOST:
        if (started && onControl && this.reconnect) return this.onDataLostAnswer(message.connIndex);
        break;
      case PacketType.CHUNK_KEPT:
        if (started && onControl && this.resume) return this.onChunkKept(message);
        break;
      case PacketType.NEW_SIG:
        if (started && onControl && this.sigCache) return this.onNewSig(message);
        break;
      case PacketType.ERROR:
        return this.fail(peerError(message, this.peerName), false);
      case PacketType.KEEPALIVE:
        return NO_ACTIONS;
    }
    const where = onControl ? 'the control connection' : `data connection ${connIndex}`;
    return this.fail(unexpected(message, `${this.state} on ${where}`));
  }

  /**
   * Data connection `connIndex` is gone (closed, reset, silent, or a frame that failed its checksum
   * or authentication): the chunk it was in the middle of is dropped, so that it may come again
   * whole on another connection, and the sender hears how many whole chunks arrived on it.
   */
  connectionLost(connIndex: number): readonly ReceiverAction[] {
    if (this.state === 'FAILED' || this.state === 'CLOSED' || this.state === 'AWAIT_REMOVALS') return NO_ACTIONS;
    if (!this.reconnect) throw internalError('connectionLost() in a session without RECONNECT');
    const link = this.link(connIndex);
    const progress = link.progress;
    if (progress !== undefined) {
      // A first copy is forgotten; a resent one waits for its next copy, as after its RESEND.
      if (progress.attempts === 0) this.files.get(link.fileId)?.chunks?.delete(link.start / this.chunkSize);
      else progress.phase = 'resend';
    }
    const chunks = link.chunks;
    this.links[connIndex] = undefined;
    const replacement = this.link(connIndex);
    replacement.unanswered = link.unanswered + 1;
    return [send({ type: PacketType.DATA_LOST, connIndex, chunks })];
  }

  /**
   * The temporary file of `fileId` exists. `resumed`: what an earlier run left of it, chunks `held`
   * (claimed with CHUNKS_HELD, before FILE_READY) or a `stale` reason it was not used for
   * (PARTIAL_STALE); both only in a session with RESUME. `signature`: the blocks of the old version
   * of the file the destination holds (DELTA_SIG, only with DELTA and when nothing is held).
   */
  fileCreated(fileId: number, resumed?: { held: ReadonlyMap<number, bigint>; stale: number | undefined }, signature?: readonly SignedBlock[]): readonly ReceiverAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    const file = this.files.get(fileId);
    if (file?.state === 'ANNOUNCED') {
      const actions: ReceiverAction[] = [];
      if (this.resume && resumed?.stale !== undefined) actions.push(send({ type: PacketType.PARTIAL_STALE, fileId, reason: resumed.stale }));
      if (this.resume && resumed && resumed.held.size > 0) {
        file.held = new Map(resumed.held);
        for (const message of heldMessages(fileId, file.held)) actions.push(send(message));
      } else if (signature) {
        actions.push(...this.signaturePart(fileId, signature));
      }
      file.state = 'READY';
      actions.push(send({ type: PacketType.FILE_READY, fileId }));
      return actions;
    }
    // The sender's FILE_ERROR came while the owner was creating it: nobody needs it any more.
    if (this.failedFiles.get(fileId)?.created === false) return [{ type: 'discardFile', fileId }];
    throw internalError(`fileCreated(file_id ${fileId}) for a file that is not being created`);
  }

  /**
   * Feature DELTA: the next `blocks` of the old version of `fileId` the destination holds, sent as
   * DELTA_SIG while the owner goes on reading it (the sender cuts its file meanwhile); fileCreated
   * follows, with FILE_READY. Blocks past the limit of the file's size are left out; nothing is
   * sent for a file that is not waiting for fileCreated, or whose chunks were claimed.
   */
  signaturePart(fileId: number, blocks: readonly SignedBlock[]): readonly ReceiverAction[] {
    const file = this.files.get(fileId);
    if (this.state === 'FAILED' || !this.delta || file?.state !== 'ANNOUNCED' || file.held) return NO_ACTIONS;
    const part = blocks.slice(0, signatureLimit(file.size) - file.oldBlocks);
    if (part.length === 0) return NO_ACTIONS;
    const oldOffset = file.oldExtent ?? 0;
    file.oldExtent = part.reduce((extent, block) => extent + block.length, oldOffset);
    file.oldBlocks += part.length;
    return signatureMessages(fileId, part, oldOffset).map(send);
  }

  /** Records held of files that are not failed: those in flight, and the runs of FILE_SAME answers. Settled files hold none each (a test seam). */
  get fileRecords(): number {
    return this.files.size + this.inlineFiles.size + this.wantedFiles.size + this.sameFiles.runs;
  }

  /**
   * Instead of creating it (more feature FILE_WANT): `fileId`, a small file the destination does not
   * hold, is asked for whole (FILE_WANT); FILE_WHOLE brings it, to be written as a FILE_INLINE's.
   */
  fileWanted(fileId: number): readonly ReceiverAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const file = this.files.get(fileId);
    if (!this.fileWant || file?.state !== 'ANNOUNCED' || file.size > INLINE_MAX) throw internalError(`fileWanted(file_id ${fileId}) for a file that cannot be asked for whole`);
    this.files.delete(fileId);
    this.wantedFiles.set(fileId, file.size);
    return [sendAnswer({ type: PacketType.FILE_WANT, fileId })];
  }

  /**
   * Instead of creating it: the destination already holds `fileId` (the quick check, PROTOCOL.md
   * §7.5). The file is OK at once, with FILE_SAME instead of FILE_READY, and no data will come.
   */
  fileSame(fileId: number, inodeTag?: bigint): readonly ReceiverAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const file = this.files.get(fileId);
    if (file?.state !== 'ANNOUNCED') throw internalError(`fileSame(file_id ${fileId}) for a file that is not being created`);
    if ((inodeTag !== undefined) !== this.sameInode) throw internalError(`fileSame(file_id ${fileId}) ${this.sameInode ? 'without' : 'with'} an inode tag`);
    this.files.delete(fileId);
    this.sameFiles.add(fileId);
    this.bytesResumed += file.size;
    this.filesSame++;
    const answer: Message = inodeTag === undefined ? { type: PacketType.FILE_SAME, fileId } : { type: PacketType.FILE_SAME_INODE, fileId, inodeTag };
    return this.settleOk(fileId, file.size, answer);
  }

  /** The owner could not create, write or commit `fileId`. */
  fileFailed(fileId: number, error: FcpError): readonly ReceiverAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const inlineSize = this.inlineFiles.get(fileId);
    if (inlineSize !== undefined) {
      this.inlineFiles.delete(fileId);
      return this.settleFailed(fileId, inlineSize, false, false, error, true);
    }
    const file = this.files.get(fileId);
    if (file === undefined) throw internalError(`fileFailed(file_id ${fileId}) for a file not in progress`);
    return this.failFile(file, error, true);
  }

  /**
   * The owner hashed the chunk of a writeChunk action: ok when the hash matched and the chunk
   * is written. actualHash, when given, goes into the error after the last failed attempt.
   */
  chunkWritten(fileId: number, seq: number, ok: boolean, actualHash?: bigint): readonly ReceiverAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const file = this.files.get(fileId);
    const offset = seq * DATA_UNIT;
    const index = offset / this.chunkSize;
    const progress = file?.chunks?.get(index);
    if (file === undefined || progress === undefined || progress.phase !== 'writing') {
      throw internalError(`chunkWritten(file_id ${fileId}, seq ${seq}) for a chunk that is not being written`);
    }
    if (ok) {
      file.chunks?.delete(index);
      this.digestOf(file).add(index, progress.hash);
      return this.commitIfVerified(file);
    }
    if (progress.attempts < MAX_CHUNK_ATTEMPTS) {
      progress.phase = 'resend';
      const length = chunkLengthAt(offset, file.size, this.chunkSize);
      return [send({ type: PacketType.RESEND, fileId, seq, length })];
    }
    const hashes = actualHash === undefined ? '' : ` (xxh64 ${hex64(actualHash)}, CHUNK_SUM ${hex64(progress.hash)})`;
    const error = new FcpError(
      'FCP_ERR_VERIFY',
      `${describe(file)}: the chunk at offset ${offset} failed verification ${progress.attempts} times${hashes}`,
    );
    return this.failFile(file, error, true);
  }

  /** The owner renamed the file into place and applied its metadata. */
  fileCommitted(fileId: number): readonly ReceiverAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    const inlineSize = this.inlineFiles.get(fileId);
    if (inlineSize !== undefined) {
      this.inlineFiles.delete(fileId);
      return this.settleOk(fileId, inlineSize);
    }
    const file = this.files.get(fileId);
    if (file?.state !== 'COMMITTING') throw internalError(`fileCommitted(file_id ${fileId}) for a file not being committed`);
    this.files.delete(fileId);
    return this.settleOk(fileId, file.size);
  }

  /**
   * The owner could not create a directory or symlink, or apply a directory's metadata: the peer
   * hears of it (ENTRY_ERROR) before this side's DONE, so both count the transfer as partial.
   */
  entryFailed(path: Buffer, error: FcpError): readonly ReceiverAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    if (this.state === 'AWAIT_FILE_COUNT' || this.state === 'AWAIT_REMOVALS' || this.state === 'CLOSED') throw internalError(`entryFailed() in state ${this.state}`);
    return this.entryFailedHere(path, error);
  }

  /** The owner applied directory metadata after a finish action: DONE, and the end, or (SOURCES_REMOVED) the wait for the sender's. */
  finished(): readonly ReceiverAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    if (this.state !== 'FINISHING') throw internalError(`finished() in state ${this.state}`);
    const done = send({ type: PacketType.DONE });
    if (this.awaitRemovals) {
      this.state = 'AWAIT_REMOVALS';
      return [done];
    }
    this.state = 'CLOSED';
    return [done, this.summary()];
  }

  /** Fails the session when `path` is not something the request covers. */
  private outOfScope(kind: EntryKind, path: Buffer): FailAction[] | undefined {
    const problem = this.scope.admit(kind, path);
    return problem && this.fail(problem);
  }

  private announcing(onControl: boolean): boolean {
    return onControl && this.state === 'RECEIVING';
  }

  private link(connIndex: number): DataLink {
    return (this.links[connIndex] ??= new DataLink());
  }

  /** The sender's answer to a DATA_LOST of ours. */
  private onDataLostAnswer(connIndex: number): readonly ReceiverAction[] {
    const link = this.links[connIndex];
    if (link === undefined || link.unanswered === 0) {
      return this.fail(protocolError(`DATA_LOST for data connection ${connIndex}, which this side did not report lost`));
    }
    link.unanswered--;
    return [{ type: 'dataLostAnswered', connIndex }];
  }

  private onFileCount(count: number, totalBytes: number): readonly ReceiverAction[] {
    this.count = count;
    this.totalBytes = totalBytes;
    this.state = 'RECEIVING';
    return NO_ACTIONS;
  }

  private onMoreFiles(count: number, totalBytes: number): readonly ReceiverAction[] {
    this.count += count;
    this.totalBytes += totalBytes;
    return [{ type: 'counted', files: count, bytes: totalBytes }];
  }

  private onAppend(ledger: FollowLedger, message: AppendMessage): readonly ReceiverAction[] {
    const { fileId, offset, mtimeNs, hash, data } = message;
    const path = ledger.append(fileId, offset, data.length);
    if (typeof path === 'string') return this.fail(protocolError(path));
    return [{ type: 'appendFile', fileId, path, offset, mtimeNs, hash, data }];
  }

  private onFileInfo(message: FileInfoMessage): readonly ReceiverAction[] {
    const { fileId, path, perm, size, mtimeNs } = message;
    const refused = this.refusedAnnouncement('FILE_INFO', fileId, path, size);
    if (refused !== undefined) return this.fail(refused);
    this.recordAnnouncement(size);
    this.recordLinkTarget(fileId, path);
    this.follow?.announce(fileId, path);
    this.files.set(fileId, {
      fileId,
      path,
      size,
      state: 'ANNOUNCED',
      digest: undefined,
      chunks: undefined,
      announcedDigest: message.digest,
      doneDigest: undefined,
      held: undefined,
      oldExtent: undefined,
      oldBlocks: 0,
      newBlocks: undefined,
    });
    return [{ type: 'createFile', fileId, path, perm, size, mtimeNs, digest: message.digest }];
  }

  private onFileInline(message: FileInlineMessage): readonly ReceiverAction[] {
    const { fileId, path, perm, mtimeNs, hash, data } = message;
    const refused = this.refusedAnnouncement('FILE_INLINE', fileId, path, data.length);
    if (refused !== undefined) return this.fail(refused);
    this.recordAnnouncement(data.length);
    this.recordLinkTarget(fileId, path);
    this.follow?.announce(fileId, path);
    this.inlineFiles.set(fileId, data.length);
    return [{ type: 'writeFile', fileId, path, perm, mtimeNs, hash, data }];
  }

  /** -H: a file announced now may be the target of later HARDLINKs. */
  private recordLinkTarget(fileId: number, path: Buffer): void {
    if (!this.linkTargets) return;
    // A copy: the path is a view into a received frame, whose memory may be reused.
    const target: LinkTarget = { path: Buffer.from(path), outcome: 'pending', waiting: [] };
    this.linkTargets.set(path.toString('latin1'), target);
    this.pendingTargets.set(fileId, target);
  }

  /**
   * E5 (PROTOCOL.md §7.2): a hard link names a file announced earlier in this session, so it can
   * only join two names the request covers. It is made once that file is in place.
   */
  private onHardlink(targets: Map<string, LinkTarget>, message: HardlinkMessage): readonly ReceiverAction[] {
    const target = targets.get(message.target.toString('latin1'));
    if (target === undefined) {
      return this.fail(new FcpError('FCP_ERR_BAD_PATH', `the peer sent a hard link ${showName(message.path)} to ${showName(message.target)}, which it did not announce as a file before it`, {
        hint: 'a hard link may only name a file sent earlier in the same transfer',
      }));
    }
    if (target.outcome === 'pending') {
      target.waiting.push(Buffer.from(message.path));
      return NO_ACTIONS;
    }
    return this.linkTo(target, message.path);
  }

  private linkTo(target: LinkTarget, path: Buffer): ReceiverAction[] {
    if (target.outcome === 'ok') return [{ type: 'createHardlink', path, target: target.path }];
    const failure = target.outcome as FcpError;
    return this.entryFailedHere(path, new FcpError(failure.code, `${showName(path)} is not linked: ${showName(target.path)}, the file it names, failed`));
  }

  /** -H: the file `fileId` is settled; the links waiting for it are made, or fail with it. */
  private settleLinks(fileId: number, outcome: 'ok' | FcpError, actions: ReceiverAction[]): void {
    const target = this.pendingTargets.get(fileId);
    if (target === undefined) return;
    this.pendingTargets.delete(fileId);
    target.outcome = outcome;
    for (const path of target.waiting.splice(0)) actions.push(...this.linkTo(target, path));
  }

  private onDone(): readonly ReceiverAction[] {
    if (this.nextFileId < this.count) {
      return this.fail(new FcpError(
        'FCP_ERR_UNEXPECTED_MESSAGE',
        `DONE after ${this.nextFileId} of the ${this.count} files FILE_COUNT announced`,
      ));
    }
    this.state = 'SENDER_DONE';
    return this.finishIfSettled([]);
  }

  private onFileDone(message: FileDoneMessage): readonly ReceiverAction[] {
    const file = this.files.get(message.fileId);
    if (file === undefined) {
      return this.failedFiles.has(message.fileId) ? NO_ACTIONS : this.fail(this.notInProgress('FILE_DONE', message.fileId));
    }
    if (file.state === 'ANNOUNCED') return this.fail(protocolError(`FILE_DONE for ${describe(file)}, which is not ready`));
    if (file.doneDigest !== undefined) return this.fail(protocolError(`FILE_DONE twice for ${describe(file)}`));
    if (!file.announcedDigest.equals(ZERO_DIGEST) && !file.announcedDigest.equals(message.digest)) {
      return this.fail(protocolError(`FILE_DONE for ${describe(file)} names another digest than its FILE_INFO`));
    }
    file.doneDigest = message.digest;
    return this.commitIfVerified(file);
  }

  private onFileError(message: FileErrorMessage): readonly ReceiverAction[] {
    const file = this.files.get(message.fileId);
    const wantedSize = file === undefined ? this.wantedFiles.get(message.fileId) : undefined;
    if (wantedSize !== undefined) {
      // The sender could not read a file asked for whole: nothing of it was created here.
      this.wantedFiles.delete(message.fileId);
      return this.settleFailed(message.fileId, wantedSize, false, false, peerError(message, this.peerName), false);
    }
    if (file === undefined) {
      const crossed = this.failedFiles.has(message.fileId) || this.sameFiles.has(message.fileId);
      return crossed ? NO_ACTIONS : this.fail(this.notInProgress('FILE_ERROR', message.fileId));
    }
    // The sender had read every byte when it sent FILE_DONE: nothing of its own can fail after it.
    if (file.doneDigest !== undefined) return this.fail(protocolError(`FILE_ERROR after FILE_DONE for ${describe(file)}`));
    return this.failFile(file, peerError(message, this.peerName), false);
  }

  /** More feature FILE_WANT: the small file this side asked for whole. */
  private onFileWhole(message: FileWholeMessage): readonly ReceiverAction[] {
    const { fileId, hash, data } = message;
    const size = this.wantedFiles.get(fileId);
    if (size === undefined) {
      const file = this.files.get(fileId);
      return this.fail(file ? protocolError(`FILE_WHOLE for ${describe(file)}, which this side did not ask for whole`) : this.notInProgress('FILE_WHOLE', fileId));
    }
    if (data.length !== size) return this.fail(protocolError(`FILE_WHOLE for file_id ${fileId} carries ${data.length} bytes, where its FILE_INFO said ${size}`));
    this.wantedFiles.delete(fileId);
    this.inlineFiles.set(fileId, size);
    return [{ type: 'writeWanted', fileId, hash, data }];
  }

  /**
   * Feature SIG_CACHE: blocks of the new version of a file this side described by DELTA_SIG, before
   * its FILE_DONE; kept for the signature cache once they cover the file and it is in place.
   */
  private onNewSig(message: NewSigMessage): readonly ReceiverAction[] {
    const { fileId } = message;
    const file = this.files.get(fileId);
    if (file === undefined) return this.failedFiles.has(fileId) ? NO_ACTIONS : this.fail(this.notInProgress('NEW_SIG', fileId));
    if (file.oldExtent === undefined) return this.fail(protocolError(`NEW_SIG for ${describe(file)}, which is not sent as a delta (this side sent no DELTA_SIG for it)`));
    if (file.state === 'ANNOUNCED') return this.fail(protocolError(`NEW_SIG for ${describe(file)} before its FILE_READY`));
    if (file.doneDigest !== undefined) return this.fail(protocolError(`NEW_SIG for ${describe(file)} after its FILE_DONE`));
    file.newBlocks ??= new SignatureCollector(newSignatureLimit(file.size), DELTA_MAX_BLOCK, file.size);
    const problem = file.newBlocks.add(message.offset, message.entries);
    return problem === undefined ? NO_ACTIONS : this.fail(protocolError(`NEW_SIG for ${describe(file)}: ${problem}`));
  }

  /** The sender's data matched a chunk this side claimed: it is verified without being sent. */
  private onChunkKept(message: ChunkKeptMessage): readonly ReceiverAction[] {
    const { fileId, index } = message;
    const file = this.files.get(fileId);
    if (file === undefined) return this.failedFiles.has(fileId) ? NO_ACTIONS : this.fail(this.notInProgress('CHUNK_KEPT', fileId));
    const hash = file.held?.get(index);
    if (file.state !== 'READY' || hash === undefined) {
      return this.fail(protocolError(`CHUNK_KEPT for chunk ${index} of ${describe(file)}, which this side does not hold`));
    }
    file.held!.delete(index);
    this.digestOf(file).add(index, hash);
    const bytes = chunkLengthAt(index * this.chunkSize, file.size, this.chunkSize);
    this.bytesResumed += bytes;
    const kept: ReceiverAction = { type: 'chunkKept', fileId, bytes };
    const after = this.commitIfVerified(file);
    return after.length === 0 ? [kept] : [kept, ...after];
  }

  private onData(link: DataLink, message: DataMessage): readonly ReceiverAction[] {
    if (link.fileId < 0) {
      const refused = this.openChunk(link, message.fileId, message.seq * DATA_UNIT);
      if (refused !== undefined) return refused;
    } else if (message.fileId !== link.fileId || message.seq * DATA_UNIT !== link.next) {
      return this.fail(protocolError(
        `DATA for file_id ${message.fileId} at offset ${message.seq * DATA_UNIT} inside the chunk of file_id ` +
          `${link.fileId} at offset ${link.start}, which continues at ${link.next}`,
      ));
    }
    let length = message.data.length;
    if (message.more) for (const piece of message.more) length += piece.length;
    const end = link.next + length;
    // In a delta, DATA stops where a DELTA_COPY takes over, and with SPARSE where a HOLE does: on a DATA_UNIT boundary.
    const pieces = link.delta || this.sparse;
    const short = end < link.end && (pieces ? end % DATA_UNIT !== 0 : length !== DATA_FRAME_BYTES);
    if (end > link.end || short) {
      const rule = pieces ? `every DATA of a chunk but the last ends on a multiple of ${DATA_UNIT}` : `every DATA of a chunk but the last carries ${DATA_FRAME_BYTES} bytes`;
      return this.fail(protocolError(`DATA of ${length} bytes at offset ${link.next} of file_id ${link.fileId}: its chunk ends at ${link.end}, and ${rule}`));
    }
    link.frames.push(message.data);
    if (message.more) link.frames.push(...message.more);
    link.next = end;
    return NO_ACTIONS;
  }

  /** The first DATA or DELTA_COPY of a chunk on `link`: undefined when the chunk may start, else the failure. */
  private openChunk(link: DataLink, fileId: number, offset: number): FailAction[] | undefined {
    const size = this.dataFileSize(fileId);
    if (typeof size !== 'number') return this.fail(size);
    const length = chunkLengthAt(offset, size, this.chunkSize);
    if (length === 0) {
      return this.fail(protocolError(
        `DATA at offset ${offset} of file_id ${fileId} (${size} bytes) does not start a chunk of ${this.chunkSize} bytes`,
      ));
    }
    const file = this.files.get(fileId);
    const progress = file === undefined ? undefined : this.claimChunk(file, offset);
    if (progress instanceof FcpError) return this.fail(progress);
    link.fileId = fileId;
    link.start = offset;
    link.next = offset;
    link.end = offset + length;
    link.progress = progress;
    link.delta = file?.oldExtent !== undefined;
    return undefined;
  }

  /**
   * DELTA_COPY: the next bytes of the open chunk (or the first of a new one) are the old file's.
   * The range must continue the chunk, stay within it, and lie within what DELTA_SIG described.
   */
  private onDeltaCopy(link: DataLink, message: DeltaCopyMessage): readonly ReceiverAction[] {
    const { fileId, offset, oldOffset, length } = message;
    const where = `DELTA_COPY(file_id ${fileId}, offset ${offset}, old offset ${oldOffset}, length ${length})`;
    if (link.fileId < 0) {
      const refused = this.openChunk(link, fileId, offset);
      if (refused !== undefined) return refused;
    } else if (fileId !== link.fileId || offset !== link.next) {
      return this.fail(protocolError(`${where} inside the chunk of file_id ${link.fileId} at offset ${link.start}, which continues at ${link.next}`));
    }
    const file = this.files.get(fileId);
    if (file !== undefined && !link.delta) return this.fail(protocolError(`${where}: ${describe(file)} is not sent as a delta (this side sent no DELTA_SIG for it)`));
    if (offset + length > link.end) return this.fail(protocolError(`${where}: its chunk ends at ${link.end}`));
    const oldExtent = file?.oldExtent;
    // No file in progress: it failed, and what is copied for it goes nowhere.
    if (oldExtent !== undefined && oldOffset + length > oldExtent) {
      return this.fail(protocolError(`${where}: the old file's DELTA_SIG described ${oldExtent} bytes`));
    }
    link.copies.push({ at: offset, from: oldOffset, length });
    link.next = offset + length;
    return NO_ACTIONS;
  }

  /**
   * HOLE: the next bytes of the open chunk (or the first of a new one) are zeros. The range must
   * continue the chunk and end on a DATA_UNIT boundary or at the chunk's end; a delta chunk has none.
   */
  private onHole(link: DataLink, message: HoleMessage): readonly ReceiverAction[] {
    const { fileId, seq, length } = message;
    const offset = seq * DATA_UNIT;
    const where = `HOLE(file_id ${fileId}, offset ${offset}, length ${length})`;
    if (link.fileId < 0) {
      const refused = this.openChunk(link, fileId, offset);
      if (refused !== undefined) return refused;
    } else if (fileId !== link.fileId || offset !== link.next) {
      return this.fail(protocolError(`${where} inside the chunk of file_id ${link.fileId} at offset ${link.start}, which continues at ${link.next}`));
    }
    if (link.delta) return this.fail(protocolError(`${where}: the file is sent as a delta`));
    const end = offset + length;
    if (end > link.end || (end < link.end && end % DATA_UNIT !== 0)) {
      return this.fail(protocolError(`${where}: its chunk ends at ${link.end}, and a HOLE ends there or on a multiple of ${DATA_UNIT}`));
    }
    link.holes.push({ at: offset, length });
    link.next = end;
    return NO_ACTIONS;
  }

  /** The size of the file that DATA for `fileId` may go to, or why there is none. */
  private dataFileSize(fileId: number): number | FcpError {
    const file = this.files.get(fileId);
    if (file !== undefined) {
      return file.state === 'ANNOUNCED' && !this.takesEarlyChunks(file) ? protocolError(`DATA for ${describe(file)}, which is not ready`) : file.size;
    }
    const failed = this.failedFiles.get(fileId);
    if (failed === undefined) return this.notInProgress('DATA', fileId);
    return failed.created || failed.early ? failed.size : protocolError(`DATA for file_id ${fileId}, which failed before it was ready`);
  }

  /** Feature DELTA_EARLY: the file was described by DELTA_SIG, so its chunks may come before its FILE_READY. */
  private takesEarlyChunks(file: IncomingFile): boolean {
    return this.deltaEarly && file.oldExtent !== undefined;
  }

  /** Marks the chunk at `offset` as being received, or says why it may not come now. */
  private claimChunk(file: IncomingFile, offset: number): ChunkProgress | FcpError {
    const index = offset / this.chunkSize;
    if (file.digest?.has(index)) {
      return protocolError(`the chunk at offset ${offset} of ${describe(file)} was already verified`);
    }
    const progress = file.chunks?.get(index);
    if (progress === undefined) {
      // A chunk this side claimed comes because the sender's data differs: the claim is void.
      file.held?.delete(index);
      const first: ChunkProgress = { attempts: 0, phase: 'receiving', hash: 0n };
      (file.chunks ??= new Map()).set(index, first);
      return first;
    }
    if (progress.phase !== 'resend') {
      return protocolError(`the chunk at offset ${offset} of ${describe(file)} came again without a RESEND`);
    }
    progress.phase = 'receiving';
    return progress;
  }

  private onChunkSum(connIndex: number, message: ChunkSumMessage): readonly ReceiverAction[] {
    const link = this.link(connIndex);
    const offset = message.seq * DATA_UNIT;
    if (
      message.fileId !== link.fileId ||
      offset !== link.start ||
      link.next !== link.end ||
      message.length !== link.end - link.start
    ) {
      const open = link.fileId < 0 ? 'no open chunk' : `bytes ${link.start}..${link.next} of file_id ${link.fileId}, ` +
        `whose chunk ends at ${link.end}`;
      return this.fail(protocolError(
        `CHUNK_SUM(file_id ${message.fileId}, offset ${offset}, length ${message.length}) does not close the DATA ` +
          `before it: ${open}`,
      ));
    }
    const { frames: data, progress, copies, holes } = link;
    link.fileId = -1;
    link.frames = [];
    if (copies.length > 0) link.copies = [];
    if (holes.length > 0) link.holes = [];
    link.progress = undefined;
    link.chunks = (link.chunks + 1) >>> 0;
    // Every ACK_EVERY chunks the sender may forget them (it keeps what is unacknowledged, to send again if the connection is lost).
    const ack = this.reconnect && link.chunks % ACK_EVERY === 0 ? send({ type: PacketType.CHUNK_ACK, connIndex, chunks: link.chunks }) : undefined;
    // No file in progress: it failed before or during this chunk, and its data goes nowhere.
    if (progress === undefined || !this.files.has(message.fileId)) return ack ? [ack] : NO_ACTIONS;
    progress.phase = 'writing';
    progress.attempts++;
    progress.hash = message.hash;
    const { fileId, seq, length, hash } = message;
    const write: WriteChunkAction = { type: 'writeChunk', fileId, seq, length, hash, data, attempt: progress.attempts };
    if (copies.length > 0) write.copies = copies;
    if (holes.length > 0) write.holes = holes;
    return ack ? [write, ack] : [write];
  }

  /** The hashes of `file`'s verified chunks, made at the first. */
  private digestOf(file: IncomingFile): FileDigest {
    return (file.digest ??= new FileDigest(file.size, this.chunkSize));
  }

  /** Commits `file` once FILE_DONE is in and every chunk is verified, or fails it on a digest mismatch. */
  private commitIfVerified(file: IncomingFile): readonly ReceiverAction[] {
    const hashes = this.digestOf(file);
    if (file.doneDigest === undefined || !hashes.complete) return NO_ACTIONS;
    const digest = hashes.digest();
    if (!digest.equals(file.doneDigest)) {
      return this.failFile(file, new FcpError(
        'FCP_ERR_VERIFY',
        `${describe(file)}: whole-file digest ${digest.toString('hex')} differs from the sender's ` +
          `${file.doneDigest.toString('hex')}`,
      ), true);
    }
    file.state = 'COMMITTING';
    const signature = file.newBlocks?.extent === file.size ? file.newBlocks.blocks : undefined;
    return [signature ? { type: 'commitFile', fileId: file.fileId, signature } : { type: 'commitFile', fileId: file.fileId }];
  }

  /** notifyPeer: send FILE_ERROR (clear when the failure is the sender's own FILE_ERROR). */
  private failFile(file: IncomingFile, error: FcpError, notifyPeer: boolean): ReceiverAction[] {
    this.files.delete(file.fileId);
    return this.settleFailed(file.fileId, file.size, file.state !== 'ANNOUNCED', this.takesEarlyChunks(file), error, notifyPeer);
  }

  /** created: the owner has a temporary file for it, to be discarded; early: delta chunks may have come for it before FILE_READY. */
  private settleFailed(fileId: number, size: number, created: boolean, early: boolean, error: FcpError, notifyPeer: boolean): ReceiverAction[] {
    this.failedFiles.set(fileId, { size, created, early });
    this.follow?.settled(fileId, undefined);
    this.filesFailed++;
    const actions: ReceiverAction[] = notifyPeer ? [fileError(fileId, error)] : [];
    if (created) actions.push(RESUMABLE_FAILURES.has(error.code) ? { type: 'discardFile', fileId, keep: true } : { type: 'discardFile', fileId });
    actions.push({ type: 'fileFailed', fileId, error });
    this.settleLinks(fileId, error, actions);
    return this.finishIfSettled(actions);
  }

  /** same: the FILE_SAME (or FILE_SAME_INODE) answering a file the destination already held; FILE_OK otherwise. */
  private settleOk(fileId: number, size: number, same?: Message): ReceiverAction[] {
    this.filesOk++;
    this.bytesOk += size;
    this.follow?.settled(fileId, size);
    const ok: FileOkAction = same ? { type: 'fileOk', fileId, same: true } : { type: 'fileOk', fileId };
    const actions: ReceiverAction[] = [sendAnswer(same ?? { type: PacketType.FILE_OK, fileId }), ok];
    this.settleLinks(fileId, 'ok', actions);
    return this.finishIfSettled(actions);
  }

  /** Appends `finish` when the sender's DONE is in and every file is OK or FAILED. */
  private finishIfSettled(actions: ReceiverAction[]): ReceiverAction[] {
    if (this.state === 'SENDER_DONE' && this.filesOk + this.filesFailed === this.count) {
      this.state = 'FINISHING';
      actions.push({ type: 'finish' });
    }
    return actions;
  }
}

// ─── Sender ──────────────────────────────────────────────────────────────────────────────────

/** A file the receiver asked for whole (more feature FILE_WANT). */
function wanted(file: OutgoingFile): boolean {
  return file.state === 'WANTED' || file.state === 'WHOLE';
}

/**
 * IDLE → ANNOUNCING (after start) → DONE_SENT (after finish) → CLOSED (the receiver's DONE), by way
 * of REMOVING (the last sources going, until removalsOver) with MODE's REMOVE_SOURCE.
 */
type SenderState = 'IDLE' | 'ANNOUNCING' | 'DONE_SENT' | 'REMOVING' | 'CLOSED';

/** A file announced with FILE_INFO and not yet OK or FAILED. */
interface OutgoingFile {
  readonly size: number;
  /**
   * ANNOUNCED: FILE_INFO sent; READY: FILE_READY came; SENT: FILE_DONE sent; WANTED: FILE_WANT
   * came (more feature FILE_WANT), the owner reads it whole; WHOLE: FILE_WHOLE sent.
   */
  state: 'ANNOUNCED' | 'READY' | 'SENT' | 'WANTED' | 'WHOLE';
  /** RESENDs received by chunk index; created at the first RESEND. */
  resends: Map<number, number> | undefined;
  /** Chunks the receiver holds (CHUNKS_HELD) and their hashes, not yet read; created at the first CHUNKS_HELD. */
  claims: Map<number, bigint> | undefined;
  /** The receiver's old version of the file (DELTA_SIG); created at the first DELTA_SIG. */
  signature: SignatureCollector | undefined;
}

export class TransferSender extends TransferMachine<SenderState> {
  private chunkSize: number;
  private readonly windowFiles: number;
  /** The session negotiated QUICK_CHECK: the receiver may answer FILE_INFO with FILE_SAME. */
  private readonly quickCheck: boolean;
  /** The session negotiated RECONNECT: the receiver acknowledges chunks per connection and reports lost ones. */
  private readonly reconnect: boolean;
  /** The session negotiated RESUME: the receiver may claim chunks it holds (CHUNKS_HELD, PARTIAL_STALE). */
  private readonly resume: boolean;
  /** The session negotiated DELTA: the receiver may describe its old version of a file (DELTA_SIG). */
  private readonly delta: boolean;
  /** The session negotiated DELTA_EARLY: chunks of a file described by DELTA_SIG may go before its FILE_READY (and be sent again). */
  private readonly deltaEarly: boolean;
  /** A FILE_INFO went out: from then on the chunk size is fixed. */
  private fileInfoSent = false;
  private readonly files = new FileIdMap<OutgoingFile>();
  /**
   * FILE_INLINE files waiting for FILE_OK or FILE_ERROR: their sizes by file_id, and no record
   * each (thousands are in flight, and a record each was copied by every scavenge), then their bytes.
   */
  private readonly inlineFiles = new FileIdMap<number>();
  private inlineBytes = 0;
  private readonly failedFiles = new Set<number>();

  /** The session is a sync (feature SYNC, a SYNC message sent): a receiving fcpd reports its changes with ITEM. */
  private readonly sync: boolean;

  /** The session negotiated FOLLOW and follows: files may grow (APPEND), more may be counted, the receiver may say STOP. */
  private readonly follow: boolean;
  /** The session negotiated STREAM: more files may be counted as the walk finds them. */
  private readonly stream: boolean;

  /** Feature DEST_STATE: the receiver says once whether its destination holds entries. */
  private readonly destState: boolean;
  /** What its DEST_STATE said; undefined until it came. */
  private destHolds: boolean | undefined;
  /** More feature DIR_STATE: after DEST_STATE(1) the receiver answers each top-level DIR_INFO. */
  private readonly dirState: boolean;
  /** Top-level directories announced whose DIR_STATE may come and has not, in their order. */
  private readonly landingsUnanswered: Buffer[] = [];
  /** More feature FILE_WANT: the receiver may ask for a small announced file whole (FILE_WANT). */
  private readonly fileWant: boolean;
  /** --remove-source-files (MODE's REMOVE_SOURCE): sources go as the receiver takes them. */
  private readonly removeSources: boolean;
  /** More feature SOURCES_REMOVED with REMOVE_SOURCE: the receiver's DONE is answered with DONE once the sources are removed. */
  private readonly confirmRemovals: boolean;
  /** More feature SAME_INODE with REMOVE_SOURCE: the receiver answers FILE_SAME_INODE, never FILE_SAME. */
  private readonly sameInode: boolean;
  /** More feature SOURCE_KEPT with SOURCES_REMOVED and REMOVE_SOURCE: each source kept is told (sourceKept). */
  private readonly reportsKept: boolean;

  constructor(opts: {
    chunkSize: number;
    windowFiles?: number;
    peerName: string;
    quickCheck?: boolean;
    reconnect?: boolean;
    resume?: boolean;
    delta?: boolean;
    deltaEarly?: boolean;
    sync?: boolean;
    follow?: boolean;
    destState?: boolean;
    dirState?: boolean;
    stream?: boolean;
    fileWant?: boolean;
    removeSources?: boolean;
    confirmRemovals?: boolean;
    sameInode?: boolean;
    reportsKept?: boolean;
  }) {
    super('IDLE', opts.peerName);
    this.destState = opts.destState ?? false;
    this.dirState = this.destState && opts.dirState === true;
    this.follow = opts.follow ?? false;
    this.stream = opts.stream ?? false;
    this.sync = opts.sync ?? false;
    this.chunkSize = opts.chunkSize;
    this.windowFiles = opts.windowFiles ?? DEFAULT_WINDOW_FILES;
    this.quickCheck = opts.quickCheck ?? false;
    this.reconnect = opts.reconnect ?? false;
    this.resume = opts.resume ?? false;
    this.delta = opts.delta ?? false;
    this.deltaEarly = this.delta && opts.deltaEarly === true;
    this.fileWant = opts.fileWant ?? false;
    this.removeSources = opts.removeSources ?? false;
    this.confirmRemovals = this.removeSources && opts.confirmRemovals === true;
    this.sameInode = this.removeSources && opts.sameInode === true;
    this.reportsKept = this.confirmRemovals && opts.reportsKept === true;
  }

  /** Another FILE_INFO may go now: fewer than windowFiles of them are waiting for FILE_OK or FILE_ERROR. */
  get canAnnounce(): boolean {
    return this.state === 'ANNOUNCING' && this.files.size < this.windowFiles;
  }

  /** A FILE_INLINE of `size` bytes may go now: it keeps the unacknowledged ones within INLINE_WINDOW_FILES and INLINE_WINDOW_BYTES. */
  canSendInline(size: number): boolean {
    return this.state === 'ANNOUNCING' && this.inlineFiles.size < INLINE_WINDOW_FILES && (this.inlineBytes === 0 || this.inlineBytes + size <= INLINE_WINDOW_BYTES);
  }

  start(count: number, totalBytes: number): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    if (this.state !== 'IDLE') throw internalError(`start() in state ${this.state}`);
    this.count = count;
    this.totalBytes = totalBytes;
    this.state = 'ANNOUNCING';
    return [send({ type: PacketType.FILE_COUNT, count, totalBytes })];
  }

  announceDir(path: Buffer, perm: number, mtimeNs: bigint): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('announceDir');
    // A DIR_STATE answers it unless the receiver says (or said) that its destination holds nothing.
    if (this.dirState && this.destHolds !== false && path.indexOf(SLASH) < 0) this.landingsUnanswered.push(path);
    return [send({ type: PacketType.DIR_INFO, perm, mtimeNs, path })];
  }

  announceSymlink(path: Buffer, target: Buffer, mtimeNs: bigint): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('announceSymlink');
    return [send({ type: PacketType.SYMLINK, mtimeNs, path, target })];
  }

  /** -H: `path` is another name of the file announced earlier as `target` (feature HARD_LINKS). */
  announceHardlink(path: Buffer, target: Buffer): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('announceHardlink');
    return [send({ type: PacketType.HARDLINK, path, target })];
  }

  /** Who owns the entries announced from now on (feature OWNERS); user and group are the names of the ids, or empty. */
  announceOwner(uid: number, gid: number, user: Buffer, group: Buffer): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('announceOwner');
    return [send({ type: PacketType.OWNER, uid, gid, user, group })];
  }

  /** A source entry that is not sent (unreadable, a FIFO or device, a symlink loop): the receiver counts it too. */
  skipEntry(path: Buffer, error: FcpError): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('skipEntry');
    return this.entryFailedHere(path, error);
  }

  /**
   * The chunk size the server accepted, when a first flight (PROTOCOL.md §5.3) went out before its
   * answer. That flight carries no FILE_INFO, the only announcement whose chunks it governs.
   */
  setChunkSize(chunkSize: number): void {
    if (this.fileInfoSent) throw internalError('setChunkSize() after a FILE_INFO was sent');
    this.chunkSize = chunkSize;
  }

  /**
   * Announces the next file; its file_id is the number of files announced before it. `digest`: its
   * whole-file digest when known before it is read (--checksum), for the receiver to compare.
   */
  announceFile(path: Buffer, perm: number, size: number, mtimeNs: bigint, digest: Buffer = ZERO_DIGEST): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    const fileId = this.admit('announceFile', path, size);
    this.files.set(fileId, { size, state: 'ANNOUNCED', resends: undefined, claims: undefined, signature: undefined });
    this.fileInfoSent = true;
    return [send({ type: PacketType.FILE_INFO, fileId, perm, size, mtimeNs, digest, path })];
  }

  /** Sends the next file whole (FILE_INLINE): data is all of it, hash its xxh64. */
  sendInline(path: Buffer, perm: number, mtimeNs: bigint, data: Buffer, hash: bigint): readonly SenderAction[] {
    const message = this.inlineMessage(path, perm, mtimeNs, data, hash);
    return message ? [send(message)] : NO_ACTIONS;
  }

  /**
   * sendInline's one action, its FILE_INLINE, alone (undefined once FAILED): for an owner that
   * sends it at once, without an action and an array a small file.
   */
  inlineMessage(path: Buffer, perm: number, mtimeNs: bigint, data: Buffer, hash: bigint): FileInlineMessage | undefined {
    if (this.state === 'FAILED') return undefined;
    const fileId = this.admit('sendInline', path, data.length);
    this.inlineFiles.set(fileId, data.length);
    this.inlineBytes += data.length;
    return { type: PacketType.FILE_INLINE, fileId, perm, mtimeNs, hash, path, data };
  }

  /** Takes the next file_id for a file of `size` bytes that FILE_COUNT still has room for. */
  private admit(what: string, path: Buffer, size: number): number {
    this.requireAnnouncing(what);
    const problem = this.announcementProblem(size);
    if (problem !== undefined) throw internalError(`${what}(${showName(path)}): ${problem}`);
    return this.recordAnnouncement(size);
  }

  /**
   * The file FILE_WANT asked for, read whole (`hash` its xxh64): its FILE_WHOLE, or undefined once
   * FAILED, for an owner that sends it at once, as inlineMessage.
   */
  wholeMessage(fileId: number, data: Buffer, hash: bigint): FileWholeMessage | undefined {
    if (this.state === 'FAILED') return undefined;
    const file = this.files.get(fileId);
    if (file?.state !== 'WANTED' || data.length !== file.size) throw internalError(`wholeMessage(file_id ${fileId}) for a file not asked for whole, or of another size`);
    file.state = 'WHOLE';
    return { type: PacketType.FILE_WHOLE, fileId, hash, data };
  }

  /** Every chunk of the file was sent; digest is its whole-file digest. */
  fileSent(fileId: number, digest: Buffer): readonly SenderAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const file = this.files.get(fileId);
    if (file?.state !== 'READY') throw internalError(`fileSent(file_id ${fileId}) for a file not being sent`);
    file.state = 'SENT';
    return [send({ type: PacketType.FILE_DONE, fileId, digest })];
  }

  /**
   * The owner read chunk `index` of a ready file, which hashes to `hash`: undefined when it is to be
   * sent; when the receiver claimed it with that very hash, the actions that tell it the chunk is
   * kept (CHUNK_KEPT), and it is not sent. The whole-file digest covers it either way.
   */
  chunkRead(fileId: number, index: number, hash: bigint): readonly SenderAction[] | undefined {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return undefined;
    const file = this.files.get(fileId);
    if (file?.state !== 'READY') throw internalError(`chunkRead(file_id ${fileId}) for a file not being sent`);
    const claim = file.claims?.get(index);
    if (claim === undefined) return undefined;
    file.claims!.delete(index);
    if (claim !== hash) return undefined;
    const bytes = chunkLengthAt(index * this.chunkSize, file.size, this.chunkSize);
    this.bytesResumed += bytes;
    return [send({ type: PacketType.CHUNK_KEPT, fileId, index }), { type: 'chunkKept', fileId, bytes }];
  }

  /** The owner could not read the file (before FILE_DONE). */
  fileFailed(fileId: number, error: FcpError): readonly SenderAction[] {
    if (this.state === 'FAILED' || this.failedFiles.has(fileId)) return NO_ACTIONS;
    const file = this.files.get(fileId);
    if (file === undefined || file.state === 'SENT' || file.state === 'WHOLE') {
      throw internalError(`fileFailed(file_id ${fileId}) for a file that is not being read`);
    }
    this.settleFailed(fileId);
    return [fileError(fileId, error), { type: 'fileFailed', fileId, error }];
  }

  /** FOLLOW or STREAM: `count` more files of `totalBytes` will be announced (new files, files sent again, files walked since). */
  countMore(count: number, totalBytes: number): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    if (!this.stream) this.requireFollowing('countMore');
    this.requireAnnouncing('countMore');
    this.count += count;
    this.totalBytes += totalBytes;
    return [send({ type: PacketType.FILE_COUNT, count, totalBytes })];
  }

  /** FOLLOW: a file that is OK grew by `data` at `offset` (hash: its xxh64; mtimeNs: the source's now). */
  append(fileId: number, offset: number, mtimeNs: bigint, hash: bigint, data: Buffer): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireFollowing('append');
    if (this.files.has(fileId) || this.inlineFiles.has(fileId) || this.failedFiles.has(fileId) || fileId >= this.nextFileId) throw internalError(`append(file_id ${fileId}) for a file that is not OK`);
    return [send({ type: PacketType.APPEND, fileId, offset, mtimeNs, hash, data })];
  }

  /** FOLLOW: tells the receiver of a FollowEvent (not STOP) about `name`. */
  followNotice(event: number, name: Buffer): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireFollowing('followNotice');
    return [send({ type: PacketType.FOLLOW, event, name })];
  }

  private requireFollowing(what: string): void {
    if (!this.follow) throw internalError(`${what}() in a session that does not follow`);
    this.requireAnnouncing(what);
  }

  /**
   * --remove-source-files kept the source of `path` (it changed, or is its own destination, ...):
   * SOURCE_KEPT tells the receiver why where the session agreed it, and nothing goes otherwise.
   */
  sourceKept(path: Buffer, code: FcpErrorCode, why: string): readonly SenderAction[] {
    if (this.state === 'FAILED' || !this.reportsKept) return NO_ACTIONS;
    if (this.state !== 'ANNOUNCING' && this.state !== 'DONE_SENT' && this.state !== 'REMOVING') throw internalError(`sourceKept() in state ${this.state}`);
    return [send({ type: PacketType.SOURCE_KEPT, code: wireFromCode(code), path, message: wireText(why) })];
  }

  /** The last sources are removed (or kept, and told): (SOURCES_REMOVED) the receiver hears it, and the session is over. */
  removalsOver(): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    if (this.state !== 'REMOVING') throw internalError(`removalsOver() in state ${this.state}`);
    this.state = 'CLOSED';
    return this.confirmRemovals ? [send({ type: PacketType.DONE }), this.summary()] : [this.summary()];
  }

  /** The DONE after the last announcement. */
  finish(): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    this.requireAnnouncing('finish');
    if (this.nextFileId < this.count) {
      throw internalError(`finish() after ${this.nextFileId} of the ${this.count} files of FILE_COUNT`);
    }
    this.state = 'DONE_SENT';
    return [send({ type: PacketType.DONE })];
  }

  /** A message arrived on the control connection. */
  receive(message: Message): readonly SenderAction[] {
    if (this.state === 'FAILED') return NO_ACTIONS;
    const exchanging = this.state === 'ANNOUNCING' || this.state === 'DONE_SENT';
    switch (message.type) {
      case PacketType.FILE_READY:
        if (exchanging) return this.onFileReady(message);
        break;
      case PacketType.FILE_WANT:
        if (exchanging && this.fileWant) return this.onFileWant(message);
        break;
      case PacketType.RESEND:
        if (exchanging) return this.onResend(message);
        break;
      case PacketType.FILE_OK:
        if (exchanging) return this.onFileOk(message);
        break;
      case PacketType.FILE_SAME:
        if (exchanging && this.quickCheck && !this.sameInode) return this.onFileSame(message.fileId);
        break;
      case PacketType.FILE_SAME_INODE:
        if (exchanging && this.quickCheck && this.sameInode) return this.onFileSame(message.fileId, message.inodeTag);
        break;
      case PacketType.CHUNKS_HELD:
        if (exchanging && this.resume) return this.onChunksHeld(message);
        break;
      case PacketType.PARTIAL_STALE:
        if (exchanging && this.resume) return this.onPartialStale(message);
        break;
      case PacketType.DELTA_SIG:
        if (exchanging && this.delta) return this.onDeltaSig(message);
        break;
      case PacketType.FILE_ERROR:
        if (exchanging) return this.onFileError(message);
        break;
      case PacketType.ENTRY_ERROR:
        if (exchanging) return this.entryFailedThere(message);
        break;
      case PacketType.CHUNK_ACK:
        if (exchanging && this.reconnect) return [{ type: 'chunksAcked', connIndex: message.connIndex, chunks: message.chunks }];
        break;
      case PacketType.ITEM:
        if (exchanging && this.sync) return [{ type: 'item', item: message.item.toString('latin1'), isDir: message.isDir === 1, path: Buffer.from(message.path) }];
        break;
      case PacketType.DATA_LOST:
        if (exchanging && this.reconnect) return [{ type: 'dataLost', connIndex: message.connIndex, chunks: message.chunks }];
        break;
      case PacketType.DEST_STATE:
        if (!this.destState || this.state === 'CLOSED' || this.state === 'REMOVING') break;
        if (this.destHolds !== undefined) return this.fail(protocolError(`DEST_STATE twice from ${this.peerName}`));
        this.destHolds = message.holds === 1;
        return [{ type: 'destState', holds: this.destHolds }];
      case PacketType.DIR_STATE: {
        if (!this.dirState || this.state === 'CLOSED' || this.state === 'REMOVING') break;
        const asked = this.destHolds === true ? this.landingsUnanswered.shift() : undefined;
        if (!asked?.equals(message.path)) return this.fail(protocolError(`DIR_STATE for ${showName(message.path)} from ${this.peerName}, where ${asked ? `one for ${showName(asked)}` : 'none'} was due`));
        return [{ type: 'dirState', path: asked, holds: message.holds === 1 }];
      }
      case PacketType.FOLLOW:
        // A STOP that crossed this side's DONE asks for what is happening already.
        if (exchanging && this.follow && message.event === FollowEvent.STOP) return this.state === 'ANNOUNCING' ? [{ type: 'followStop' }] : NO_ACTIONS;
        break;
      case PacketType.DONE:
        if (this.state === 'DONE_SENT' && this.inFlight === 0) return this.closing();
        break;
      case PacketType.ERROR:
        return this.fail(peerError(message, this.peerName), false);
      case PacketType.KEEPALIVE:
        return NO_ACTIONS;
    }
    const open = this.state === 'DONE_SENT' ? ` with ${this.inFlight} files not acknowledged` : '';
    return this.fail(unexpected(message, `${this.state}${open}`));
  }

  /** The receiver's DONE is in: the session is over, or the last sources go first (removalsOver). */
  private closing(): readonly SenderAction[] {
    if (!this.removeSources) {
      this.state = 'CLOSED';
      return [this.summary()];
    }
    this.state = 'REMOVING';
    return [{ type: 'removeSources' }];
  }

  /** Files announced and not yet OK or FAILED. */
  private get inFlight(): number {
    return this.files.size + this.inlineFiles.size;
  }

  private requireAnnouncing(what: string): void {
    if (this.state !== 'ANNOUNCING') throw internalError(`${what}() in state ${this.state}`);
  }

  private onFileReady(message: FileReadyMessage): readonly SenderAction[] {
    const { fileId } = message;
    const file = this.files.get(fileId);
    if (file?.state === 'ANNOUNCED') {
      file.state = 'READY';
      return [{ type: 'sendFile', fileId, claimed: file.claims && new Set(file.claims.keys()), signature: file.signature?.blocks }];
    }
    if (this.failedFiles.has(fileId)) return NO_ACTIONS;
    if (this.inlineFiles.has(fileId)) return this.fail(protocolError(`FILE_READY for file_id ${fileId}, which was sent inline`));
    if (file === undefined) return this.fail(this.notInProgress('FILE_READY', fileId));
    return this.fail(protocolError(wanted(file) ? `FILE_READY for file_id ${fileId}, which was asked for whole` : `FILE_READY twice for file_id ${fileId}`));
  }

  /** More feature FILE_WANT: the receiver asks for a small file it does not hold to come whole. */
  private onFileWant(message: FileWantMessage): readonly SenderAction[] {
    const { fileId } = message;
    const file = this.announcedFile('FILE_WANT', fileId);
    if (file === undefined || Array.isArray(file)) return file ?? NO_ACTIONS;
    if (file.size > INLINE_MAX) return this.fail(protocolError(`FILE_WANT for file_id ${fileId} of ${file.size} bytes: only files of at most ${INLINE_MAX} come whole`));
    if (file.claims || file.signature) return this.fail(protocolError(`FILE_WANT for file_id ${fileId}, which the receiver described already (CHUNKS_HELD or DELTA_SIG)`));
    file.state = 'WANTED';
    return [{ type: 'sendWhole', fileId }];
  }

  /** A file announced with FILE_INFO and not ready yet, for a message that may come only then; else the failure. */
  private announcedFile(what: string, fileId: number): OutgoingFile | FailAction[] | undefined {
    const file = this.files.get(fileId);
    if (file?.state === 'ANNOUNCED') return file;
    if (this.failedFiles.has(fileId)) return undefined;
    if (this.inlineFiles.has(fileId)) return this.fail(protocolError(`${what} for file_id ${fileId}, which was sent inline`));
    if (file === undefined) return this.fail(this.notInProgress(what, fileId));
    return this.fail(protocolError(`${what} for file_id ${fileId}, which ${wanted(file) ? 'was asked for whole' : 'is ready'}`));
  }

  /** The receiver holds these chunks of a file it has not answered FILE_READY for yet. */
  private onChunksHeld(message: ChunksHeldMessage): readonly SenderAction[] {
    const { fileId, firstIndex, hashes } = message;
    const file = this.announcedFile('CHUNKS_HELD', fileId);
    if (file === undefined || Array.isArray(file)) return file ?? NO_ACTIONS;
    const count = hashes.length / HASH_SIZE;
    const chunks = chunkCount(file.size, this.chunkSize);
    if (firstIndex + count > chunks) {
      return this.fail(protocolError(`CHUNKS_HELD claims chunks ${firstIndex}..${firstIndex + count - 1} of file_id ${fileId}, which has ${chunks}`));
    }
    if (file.signature) return this.fail(protocolError(`CHUNKS_HELD for file_id ${fileId}, which the receiver described by DELTA_SIG`));
    file.claims ??= new Map();
    for (let i = 0; i < count; i++) {
      if (file.claims.has(firstIndex + i)) return this.fail(protocolError(`CHUNKS_HELD claims chunk ${firstIndex + i} of file_id ${fileId} twice`));
      file.claims.set(firstIndex + i, hashes.readBigUInt64BE(i * HASH_SIZE));
    }
    return NO_ACTIONS;
  }

  /** The receiver holds an older version of a file it has not answered FILE_READY for yet: these are its blocks. */
  private onDeltaSig(message: DeltaSigMessage): readonly SenderAction[] {
    const { fileId } = message;
    const file = this.announcedFile('DELTA_SIG', fileId);
    if (file === undefined || Array.isArray(file)) return file ?? NO_ACTIONS;
    if (file.claims) return this.fail(protocolError(`DELTA_SIG for file_id ${fileId}, whose chunks the receiver claimed by CHUNKS_HELD`));
    const first = file.signature === undefined;
    file.signature ??= new SignatureCollector(signatureLimit(file.size));
    const problem = file.signature.add(message.oldOffset, message.entries);
    if (problem !== undefined) return this.fail(protocolError(`DELTA_SIG for file_id ${fileId}: ${problem}`));
    return first ? [{ type: 'signatureStarted', fileId, signature: file.signature.blocks }] : NO_ACTIONS;
  }

  private onPartialStale(message: PartialStaleMessage): readonly SenderAction[] {
    const file = this.announcedFile('PARTIAL_STALE', message.fileId);
    if (file === undefined || Array.isArray(file)) return file ?? NO_ACTIONS;
    return [{ type: 'partialStale', fileId: message.fileId, reason: message.reason }];
  }

  private onResend(message: ResendMessage): readonly SenderAction[] {
    const { fileId, seq, length } = message;
    if (this.failedFiles.has(fileId)) return NO_ACTIONS;
    if (this.inlineFiles.has(fileId)) return this.fail(protocolError(`RESEND for file_id ${fileId}, which was sent inline`));
    const file = this.files.get(fileId);
    if (file === undefined) return this.fail(this.notInProgress('RESEND', fileId));
    if (file.state === 'ANNOUNCED' && !(this.deltaEarly && file.signature)) return this.fail(protocolError(`RESEND for file_id ${fileId}, which is not ready`));
    if (wanted(file)) return this.fail(protocolError(`RESEND for file_id ${fileId}, which was asked for whole`));
    const offset = seq * DATA_UNIT;
    const chunkLength = chunkLengthAt(offset, file.size, this.chunkSize);
    if (chunkLength === 0 || length !== chunkLength) {
      return this.fail(protocolError(
        `RESEND(offset ${offset}, length ${length}) is not a chunk of file_id ${fileId} ` +
          `(${file.size} bytes in chunks of ${this.chunkSize})`,
      ));
    }
    const index = offset / this.chunkSize;
    file.resends ??= new Map();
    const resends = (file.resends.get(index) ?? 0) + 1;
    if (resends >= MAX_CHUNK_ATTEMPTS) {
      return this.fail(protocolError(
        `RESEND number ${resends} for the chunk at offset ${offset} of file_id ${fileId}: ` +
          `a chunk is sent at most ${MAX_CHUNK_ATTEMPTS} times`,
      ));
    }
    file.resends.set(index, resends);
    return [{ type: 'resendChunk', fileId, seq, length }];
  }

  private onFileOk(message: FileOkMessage): readonly SenderAction[] {
    const { fileId } = message;
    const inlineSize = this.inlineFiles.get(fileId);
    if (inlineSize !== undefined) return this.settledOk(fileId, inlineSize);
    const file = this.files.get(fileId);
    if (file?.state !== 'SENT' && file?.state !== 'WHOLE') {
      if (file !== undefined) return this.fail(protocolError(`FILE_OK for file_id ${fileId} before its ${wanted(file) ? 'FILE_WHOLE' : 'FILE_DONE'}`));
      const failed = this.failedFiles.has(fileId);
      return this.fail(failed ? protocolError(`FILE_OK for file_id ${fileId}, which failed`) : this.notInProgress('FILE_OK', fileId));
    }
    return this.settledOk(fileId, file.size);
  }

  /** FILE_OK for a file of `size` bytes sent whole. */
  private settledOk(fileId: number, size: number): readonly SenderAction[] {
    this.forget(fileId);
    this.filesOk++;
    this.bytesOk += size;
    return [{ type: 'fileOk', fileId }];
  }

  /** The receiver's quick check found the file at the destination: OK with nothing sent; inodeTag: the destination's (FILE_SAME_INODE). */
  private onFileSame(fileId: number, inodeTag?: bigint): readonly SenderAction[] {
    // Undefined: a FILE_ERROR of ours for a file we could not read crossed the receiver's FILE_SAME.
    const file = this.announcedFile(inodeTag === undefined ? 'FILE_SAME' : 'FILE_SAME_INODE', fileId);
    if (file === undefined || Array.isArray(file)) return file ?? NO_ACTIONS;
    this.forget(fileId);
    this.filesOk++;
    this.bytesOk += file.size;
    this.bytesResumed += file.size;
    this.filesSame++;
    return [inodeTag === undefined ? { type: 'fileOk', fileId, same: true } : { type: 'fileOk', fileId, same: true, inodeTag }];
  }

  private onFileError(message: FileErrorMessage): readonly SenderAction[] {
    const { fileId } = message;
    if (this.failedFiles.has(fileId)) return NO_ACTIONS;
    if (!this.files.has(fileId) && !this.inlineFiles.has(fileId)) return this.fail(this.notInProgress('FILE_ERROR', fileId));
    this.settleFailed(fileId);
    return [{ type: 'fileFailed', fileId, error: peerError(message, this.peerName) }];
  }

  private settleFailed(fileId: number): void {
    this.forget(fileId);
    this.failedFiles.add(fileId);
    this.filesFailed++;
  }

  /** The file is settled: it leaves the window it was counted in. */
  private forget(fileId: number): void {
    const inlineSize = this.inlineFiles.get(fileId);
    if (inlineSize === undefined) {
      this.files.delete(fileId);
      return;
    }
    this.inlineFiles.delete(fileId);
    this.inlineBytes -= inlineSize;
  }
}
