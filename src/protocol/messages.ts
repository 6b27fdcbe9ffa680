/**
 * Typed messages of the fcp protocol, one per packet type. Paths are raw bytes (Buffer): POSIX
 * names need not be UTF-8 and must survive the trip unchanged. Byte layouts: docs/PROTOCOL.md.
 */
import { PacketType } from './constants';

type P = typeof PacketType;

/** C→S: start a push; path is the destination on the server. */
export interface PushMessage { type: P['PUSH']; path: Buffer }
/** C→S: start a pull; one or more source paths on the server (NUL-separated on the wire). */
export interface PullMessage { type: P['PULL']; paths: Buffer[] }
/** S→C: the session is created. */
export interface SessionMessage { type: P['SESSION']; sessionId: Buffer }
/** C→S, first frame of a data connection after HELLO: which session and which connection index. */
export interface AttachMessage { type: P['ATTACH']; sessionId: Buffer; connIndex: number }
/**
 * C→S: transfer options (ModeFlag bits). backupSuffix comes with BACKUP only, and a MODE without it
 * is the 4 bytes it always was.
 */
export interface ModeMessage { type: P['MODE']; flags: number; backupSuffix?: Buffer }
export interface DirInfoMessage { type: P['DIR_INFO']; perm: number; mtimeNs: bigint; path: Buffer }
export interface FileInfoMessage {
  type: P['FILE_INFO'];
  fileId: number;
  perm: number;
  size: number;
  mtimeNs: bigint;
  /** Whole-file digest, or 16 zero bytes when it follows in FILE_DONE. */
  digest: Buffer;
  path: Buffer;
}
export interface FileCountMessage { type: P['FILE_COUNT']; count: number; totalBytes: number }
export interface FileReadyMessage { type: P['FILE_READY']; fileId: number }
/**
 * data is a view into the bytes pushed into the decoder (or a Buffer of its own): it stays valid
 * as long as the pushed buffer is not overwritten, which socket reads never do. A frame decoded
 * in pieces (parseDataPieces) keeps them apart: data is the first, `more` the rest, in order.
 */
export interface DataMessage { type: P['DATA']; fileId: number; seq: number; data: Buffer; more?: Buffer[] }
/**
 * S→R, data (feature COMPRESS): one DATA frame whose data, raw-deflated, came out smaller; `data`
 * inflates to exactly rawLength bytes, which stand for the DATA's in every check (CHUNK_SUM included).
 */
export interface DataZMessage { type: P['DATA_Z']; fileId: number; seq: number; rawLength: number; data: Buffer }
export interface DoneMessage { type: P['DONE'] }
export interface ErrorMessage { type: P['ERROR']; code: number; message: string }
/** moreFeatures: the client's offer of PARAMS.more_features on a control connection (PROTOCOL.md §5.2); absent from older builds' HELLOs. */
export interface HelloMessage { type: P['HELLO']; minVersion: number; maxVersion: number; nonce: Buffer; moreFeatures?: number }
export interface AuthMessage { type: P['AUTH']; keyId: Buffer; mac: Buffer }
export interface AuthOkMessage { type: P['AUTH_OK']; mac: Buffer }
export interface ParamsMessage {
  type: P['PARAMS'];
  chunkSize: number;
  connections: number;
  hashAlgs: number;
  cipher: number;
  features: number;
  /**
   * The second feature word (MoreFeature bits, PROTOCOL.md §5.2): in the offer it travels in the
   * client's HELLO (an older server refuses a longer PARAMS), in the answer appended to PARAMS,
   * and only when the offer had it. Absent: a peer without it.
   */
  moreFeatures?: number;
}
export interface SymlinkMessage { type: P['SYMLINK']; mtimeNs: bigint; path: Buffer; target: Buffer }
export interface ChunkSumMessage { type: P['CHUNK_SUM']; fileId: number; seq: number; length: number; hash: bigint }
export interface ResendMessage { type: P['RESEND']; fileId: number; seq: number; length: number }
export interface FileDoneMessage { type: P['FILE_DONE']; fileId: number; digest: Buffer }
export interface FileOkMessage { type: P['FILE_OK']; fileId: number }
export interface FileErrorMessage { type: P['FILE_ERROR']; fileId: number; code: number; message: string }
/**
 * R→S, control: answers a FILE_INFO (feature QUICK_CHECK): the destination already holds a regular
 * file of that size and mtime, so nothing is sent and the file is OK on both sides.
 */
export interface FileSameMessage { type: P['FILE_SAME']; fileId: number }
/**
 * R→S, control, in place of FILE_SAME (more feature SAME_INODE, with MODE's REMOVE_SOURCE): the
 * same answer, with the destination file's inode tag (PROTOCOL.md §7.5), by which a sender on the
 * same host tells a destination that is its source itself.
 */
export interface FileSameInodeMessage { type: P['FILE_SAME_INODE']; fileId: number; inodeTag: bigint }
/**
 * S→R, control (more feature SOURCE_KEPT, with MODE's REMOVE_SOURCE): the sender kept the source
 * of this entry, which is in place at the receiver, and says why, with the error code of why
 * (PROTOCOL.md §7.1).
 */
export interface SourceKeptMessage { type: P['SOURCE_KEPT']; code: number; path: Buffer; message: string }
/**
 * R→S, control, before FILE_READY (feature RESUME): the receiver holds chunks first_index,
 * first_index + 1, ... of a partly received file, with these xxh64 hashes (u64 each, big-endian).
 */
export interface ChunksHeldMessage { type: P['CHUNKS_HELD']; fileId: number; firstIndex: number; hashes: Buffer }
/** S→R, control (feature RESUME): the sender's data hashes as the receiver claimed: chunk `index` is not sent. */
export interface ChunkKeptMessage { type: P['CHUNK_KEPT']; fileId: number; index: number }
/** R→S, control, before FILE_READY (feature RESUME): partial state of this file was discarded (StaleReason), it is sent whole. */
export interface PartialStaleMessage { type: P['PARTIAL_STALE']; fileId: number; reason: number }
/**
 * Both, control (feature RECONNECT): data connection conn_index is gone. R→S: `chunks` whole
 * chunks (DATA and CHUNK_SUM) arrived on it since it was attached; the sender sends the rest again.
 * S→R: the answer, with the same numbers: done, and the index is free for a replacement.
 */
export interface DataLostMessage { type: P['DATA_LOST']; connIndex: number; chunks: number }
/** R→S, control (feature RECONNECT): `chunks` whole chunks arrived on data connection conn_index since it was attached. */
export interface ChunkAckMessage { type: P['CHUNK_ACK']; connIndex: number; chunks: number }
/**
 * R→S, control, before FILE_READY (feature DELTA): the receiver holds an older version of the file;
 * these are its blocks from old_offset on, each length u32 and xxh64 u64 (PROTOCOL.md §7.7).
 */
export interface DeltaSigMessage { type: P['DELTA_SIG']; fileId: number; oldOffset: number; entries: Buffer }
/**
 * S→R, control (feature SIG_CACHE): blocks of the new version of a file sent as a delta, as the
 * sender cut it (entries as DELTA_SIG's), the first at `offset`: the receiver keeps them in its
 * signature cache once the file is in place, for the next delta of that file.
 */
export interface NewSigMessage { type: P['NEW_SIG']; fileId: number; offset: number; entries: Buffer }
/** S→R, data (feature DELTA): the `length` bytes of the file at `offset` are those of the old file at old_offset. */
export interface DeltaCopyMessage { type: P['DELTA_COPY']; fileId: number; offset: number; oldOffset: number; length: number }
/** S→R, data (feature SPARSE): the `length` bytes of the file at seq × DATA_UNIT are zeros; none of them travel. */
export interface HoleMessage { type: P['HOLE']; fileId: number; seq: number; length: number }
export interface KeepaliveMessage { type: P['KEEPALIVE'] }
/**
 * S→R, control: a whole small file (feature INLINE) in place of FILE_INFO, DATA, CHUNK_SUM and
 * FILE_DONE; its size is data's length and hash the xxh64 of data.
 */
export interface FileInlineMessage {
  type: P['FILE_INLINE'];
  fileId: number;
  perm: number;
  mtimeNs: bigint;
  hash: bigint;
  path: Buffer;
  data: Buffer;
}
/**
 * Either side, control: an entry that is not in the transfer (a directory or symlink the receiver
 * could not create, a source entry the sender skipped), so that both sides count it as failed.
 */
export interface EntryErrorMessage { type: P['ENTRY_ERROR']; code: number; path: Buffer; message: string }
/**
 * S→R, control (feature HARD_LINKS): `path` is another name of the file announced earlier in this
 * session as `target`; the receiver links it to that file once the file is in place.
 */
export interface HardlinkMessage { type: P['HARDLINK']; path: Buffer; target: Buffer }
/** C→S, control (feature RENAME), between MODE and a PUSH: the receiver renames entry `from` to `to` first, when it can (PROTOCOL.md §7.9). */
export interface RenameMessage { type: P['RENAME']; from: Buffer; to: Buffer }
/**
 * S→R, control (feature OWNERS): the owner and group of the entries announced after it, until the
 * next OWNER; the names are the sender's for those ids (empty when it has none).
 */
export interface OwnerMessage { type: P['OWNER']; uid: number; gid: number; user: Buffer; group: Buffer }
/** C→S, control (feature SYNC), between MODE and the request: the sync options (PROTOCOL.md §7.8). */
export interface SyncMessage { type: P['SYNC']; flags: number; maxDelete: number }
/**
 * C→S, control, after SYNC (more feature SIZE_LIMITS): --min-size and --max-size, files smaller or
 * larger are left (0 and MAX_FILE_SIZE for none) (PROTOCOL.md §7.8).
 */
export interface SizeLimitsMessage { type: P['SIZE_LIMITS']; minSize: number; maxSize: number }
/** R→S, control (feature SYNC, a receiving fcpd of a sync): one change at the destination, in rsync's `%i`. */
export interface ItemMessage { type: P['ITEM']; item: Buffer; isDir: number; path: Buffer }
/**
 * C→S, control, between MODE and the request (feature FILTERS): --max-depth (NO_MAX_DEPTH when
 * none) and the include/exclude rules, NUL-separated rule texts each `- ` or `+ ` and a pattern.
 */
export interface FilterRulesMessage { type: P['FILTER_RULES']; maxDepth: number; rules: Buffer }
/**
 * C→S, control, between MODE and a PULL (feature FILES_FROM), one or more: --files-from's paths,
 * NUL-separated, relative to the one source directory; recursive: a listed directory comes with its contents.
 */
export interface FilesFromMessage { type: P['FILES_FROM']; recursive: number; paths: Buffer }
/**
 * R→S, control (feature DEST_STATE), once, before any other transfer message of the receiver:
 * holds 1 when its destination holds anything the entries could land on, 0 when it is empty.
 */
export interface DestStateMessage { type: P['DEST_STATE']; holds: number }
/**
 * R→S, control (more feature DIR_STATE), after the receiver's DEST_STATE(1): one for each
 * top-level DIR_INFO, in their order, once the directory is placed: holds 0 when nothing is below
 * it (the receiver made it now, or found it empty), 1 otherwise.
 */
export interface DirStateMessage { type: P['DIR_STATE']; holds: number; path: Buffer }
/**
 * R→S, control (more feature FILE_WANT): instead of FILE_READY, the receiver asks for a small file
 * it announced with FILE_INFO and does not hold to come whole, as FILE_WHOLE.
 */
export interface FileWantMessage { type: P['FILE_WANT']; fileId: number }
/** S→R, control (more feature FILE_WANT): the answer to FILE_WANT, the whole file; hash is the xxh64 of data. */
export interface FileWholeMessage { type: P['FILE_WHOLE']; fileId: number; hash: bigint; data: Buffer }
/**
 * C→S, control, between HELLO and PARAMS: a client of fcpd's daemon access (fcp://) logs in as
 * `user`; AUTH then proves the key derived from that user's token (PROTOCOL.md §5.4).
 */
export interface LoginMessage { type: P['LOGIN']; user: Buffer }
/**
 * S→R, control (feature FOLLOW): bytes a followed file grew by, at `offset` (its size so far at the
 * receiver); hash is their xxh64, mtimeNs the source's mtime after them (PROTOCOL.md §7.9).
 */
export interface AppendMessage { type: P['APPEND']; fileId: number; offset: number; mtimeNs: bigint; hash: bigint; data: Buffer }
/**
 * Control (feature FOLLOW): a FollowEvent; `name` is the path it is about (a source as requested,
 * or an entry path), shown and never used to touch a file; empty for STOP.
 */
export interface FollowMessage { type: P['FOLLOW']; event: number; name: Buffer }
/**
 * C→S, control (feature TWO_WAY, PROTOCOL.md §7.12): fcp --watch --two-way's request to fcpd's side
 * of the pair (a TwoWayOp); the fields an op does not use are zero, `path` an entry path or empty.
 */
export interface TwoWayMessage { type: P['TWO_WAY']; op: number; mode: number; size: number; mtimeNs: bigint; digest: Buffer; path: Buffer }
/** S→C, control (feature TWO_WAY): what fcpd's side of a two-way pair holds and records (a TwoWaySideEvent). */
export interface TwoWaySideMessage { type: P['TWO_WAY_SIDE']; event: number; mode: number; size: number; mtimeNs: bigint; digest: Buffer; path: Buffer }
/** Control (feature TWO_WAY_MOVES, PROTOCOL.md §7.12): a rename a two-way side saw, or one fcp asks it to make, and its answer (a TwoWayMoveKind). */
export interface TwoWayMoveMessage { type: P['TWO_WAY_MOVE']; kind: number; from: Buffer; to: Buffer }
/** S→C, control (feature TWO_WAY_TREE, PROTOCOL.md §7.12): a directory or symlink in a two-way side's listing (a TwoWayNodeEvent, a TwoWayNodeKind). */
export interface TwoWayNodeMessage { type: P['TWO_WAY_NODE']; event: number; kind: number; digest: Buffer; path: Buffer; target: Buffer }
/** Control (feature TWO_WAY_TREE): a directory or symlink fcp asks a two-way side to record, make or remove, and the side's answer (a TwoWayNodeOp). */
export interface TwoWayNodeOpMessage { type: P['TWO_WAY_NODE_OP']; op: number; kind: number; digest: Buffer; path: Buffer; target: Buffer }
/** Control (more feature TWO_WAY_NARROW, PROTOCOL.md §7.12): a narrowed listing's scope and its asking (a TwoWayScopeEvent); `path` empty but with PATH. */
export interface TwoWayScopeMessage { type: P['TWO_WAY_SCOPE']; event: number; path: Buffer }
/** Entries (type u8, length u16, payload) of the control messages it carries: see batch.ts. */
export interface BatchMessage { type: P['BATCH']; entries: Buffer }

export type Message =
  | PushMessage
  | PullMessage
  | SessionMessage
  | AttachMessage
  | ModeMessage
  | DirInfoMessage
  | FileInfoMessage
  | FileCountMessage
  | FileReadyMessage
  | DataMessage
  | DataZMessage
  | DoneMessage
  | ErrorMessage
  | HelloMessage
  | AuthMessage
  | AuthOkMessage
  | ParamsMessage
  | SymlinkMessage
  | ChunkSumMessage
  | ResendMessage
  | FileDoneMessage
  | FileOkMessage
  | FileErrorMessage
  | KeepaliveMessage
  | FileSameMessage
  | FileSameInodeMessage
  | SourceKeptMessage
  | SizeLimitsMessage
  | ChunksHeldMessage
  | ChunkKeptMessage
  | PartialStaleMessage
  | DataLostMessage
  | ChunkAckMessage
  | DeltaSigMessage
  | NewSigMessage
  | DeltaCopyMessage
  | HoleMessage
  | BatchMessage
  | FileInlineMessage
  | EntryErrorMessage
  | HardlinkMessage
  | RenameMessage
  | OwnerMessage
  | SyncMessage
  | DestStateMessage
  | DirStateMessage
  | FileWantMessage
  | FileWholeMessage
  | ItemMessage
  | FilterRulesMessage
  | LoginMessage
  | AppendMessage
  | FollowMessage
  | FilesFromMessage
  | TwoWayMessage
  | TwoWaySideMessage
  | TwoWayMoveMessage
  | TwoWayNodeMessage
  | TwoWayNodeOpMessage
  | TwoWayScopeMessage;

export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;
