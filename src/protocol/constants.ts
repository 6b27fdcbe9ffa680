/** Packet types, sizes and limits of the fcp wire protocol: docs/PROTOCOL.md is the spec. */

export const PacketType = {
  PUSH: 0x01,
  PULL: 0x02,
  SESSION: 0x03,
  ATTACH: 0x04,
  MODE: 0x05,
  DIR_INFO: 0x06,
  FILE_INFO: 0x07,
  FILE_COUNT: 0x08,
  FILE_READY: 0x09,
  DATA: 0x0a,
  DONE: 0x0b,
  ERROR: 0x0c,
  HELLO: 0x0d,
  AUTH: 0x0e,
  AUTH_OK: 0x0f,
  PARAMS: 0x10,
  SYMLINK: 0x11,
  CHUNK_SUM: 0x12,
  RESEND: 0x13,
  FILE_DONE: 0x14,
  FILE_OK: 0x15,
  FILE_ERROR: 0x16,
  KEEPALIVE: 0x17,
  FILE_SAME: 0x18,
  CHUNKS_HELD: 0x19,
  CHUNK_KEPT: 0x1a,
  PARTIAL_STALE: 0x1b,
  DATA_LOST: 0x1c,
  CHUNK_ACK: 0x1d,
  DELTA_SIG: 0x1e,
  DELTA_COPY: 0x1f,
  BATCH: 0x20,
  FILE_INLINE: 0x21,
  ENTRY_ERROR: 0x22,
  HARDLINK: 0x23,
  OWNER: 0x24,
  DATA_Z: 0x25,
  SYNC: 0x26,
  ITEM: 0x27,
  FILTER_RULES: 0x28,
  LOGIN: 0x29,
  RENAME: 0x2c,
  APPEND: 0x2a,
  FOLLOW: 0x2b,
  HOLE: 0x2d,
  FILES_FROM: 0x2e,
  DIR_STATE: 0x2f,
  FILE_WANT: 0x30,
  FILE_WHOLE: 0x32,
  DEST_STATE: 0x31,
  NEW_SIG: 0x33,
  TWO_WAY: 0x34,
  TWO_WAY_SIDE: 0x35,
  TWO_WAY_MOVE: 0x36,
  TWO_WAY_NODE: 0x38,
  TWO_WAY_NODE_OP: 0x39,
  TWO_WAY_SCOPE: 0x3a,
  FILE_SAME_INODE: 0x3b,
  SOURCE_KEPT: 0x3c,
  SIZE_LIMITS: 0x3d,
} as const;
export type PacketTypeName = keyof typeof PacketType;
export type PacketTypeValue = (typeof PacketType)[PacketTypeName];


export const packetTypeName: Readonly<Record<number, PacketTypeName>> = Object.fromEntries(
  (Object.keys(PacketType) as PacketTypeName[]).map((name) => [PacketType[name], name]),
);

/** Frame header: flag u8 | chksum u32 | length u16. */
export const HEADER_SIZE = 7;
export const CHKSUM_OFFSET = 1;
export const LENGTH_OFFSET = 5;
export const MAX_PAYLOAD = 0xffff;
/** xxh32 seed of the frame checksum. */
export const CHKSUM_SEED = 0;

/** What the frame checksum covers; HEADER only on connections whose payloads GCM authenticates. */
export const ChksumCoverage = { FULL: 0, HEADER: 1 } as const;
export type ChksumCoverageValue = (typeof ChksumCoverage)[keyof typeof ChksumCoverage];

export const PROTOCOL_VERSION = 1;
/** Versions this build speaks. */
export const VERSION_RANGE = { min: 1, max: 1 } as const;
/** HELLO starts with these 4 bytes so a non-fcp peer is named as such. */
export const HELLO_MAGIC = Buffer.from('FCP\0', 'latin1');

/** The standing daemon's port (fcpd -d), where fcp:// reaches it unless the URL names another. */
export const DEFAULT_DAEMON_PORT = 7523;

export const NONCE_SIZE = 32;
export const SESSION_ID_SIZE = 16;
export const KEY_ID_SIZE = 16;
export const MAC_SIZE = 32;
export const DIGEST_SIZE = 16;
export const GCM_TAG_SIZE = 16;

/** A DATA frame's seq is its offset in DATA_UNIT units: max file size 2^32 * 8 KiB = 32 TiB. */
export const DATA_UNIT = 8192;
export const DATA_HEADER_SIZE = 8;
/** Data bytes in a full DATA frame: the most whole units that fit with an encryption tag. */
export const DATA_FRAME_BYTES = Math.floor((MAX_PAYLOAD - DATA_HEADER_SIZE - GCM_TAG_SIZE) / DATA_UNIT) * DATA_UNIT;
export const MAX_FILE_SIZE = 2 ** 32 * DATA_UNIT;

/** DATA_Z header: file_id u32, seq u32, raw_length u32. */
export const DATA_Z_HEADER_SIZE = 12;

/** Chunk: the unit of scheduling and of the per-chunk hash, a power of two. */
export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CONNECTIONS = 1;
export const MAX_CONNECTIONS = 64;
export const DEFAULT_CONNECTIONS = 4;

/** POSIX PATH_MAX: longer paths from a peer are refused before any file system call. */
export const MAX_PATH_BYTES = 4096;
export const MAX_ERROR_MESSAGE_BYTES = 4096;

/** Chunk hash algorithms, as bits of PARAMS.hash_algs. */
export const HashAlg = { XXH64: 0x1 } as const;
export const SUPPORTED_HASH_ALGS = HashAlg.XXH64;
export const HASH_SIZE = 8;

export const Cipher = { NONE: 0, AES_256_GCM: 1, CHACHA20_POLY1305: 2 } as const;
export type CipherValue = (typeof Cipher)[keyof typeof Cipher];
/** A cipher that seals frames: every one but NONE. */
export type SealingCipher = Exclude<CipherValue, typeof Cipher.NONE>;

/** PARAMS.features bits. */
export const Feature = {
  /** On encrypted connections the frame checksum covers the header only (GCM covers the payload). */
  HEADER_CHKSUM: 0x1,
  /** Control messages written together may travel as one BATCH frame (one seal, one checksum). */
  BATCH: 0x2,
  /** Files of at most INLINE_MAX bytes travel whole, as FILE_INLINE on the control connection. */
  INLINE: 0x4,
  /** The receiver may answer a FILE_INFO with FILE_SAME: the destination already holds that file (rsync's quick check). */
  QUICK_CHECK: 0x8,
  /** The receiver reports the chunks of a partly received file it holds, and the sender sends only the others (PROTOCOL.md §7.5). */
  RESUME: 0x10,
  /** -C: a DATA frame whose data deflates smaller may travel as DATA_Z (raw deflate) instead. */
  COMPRESS: 0x20,
  /** -H: the sender announces a file it reached again by another name as a HARDLINK to the first name. */
  HARD_LINKS: 0x40,
  /** The sender says who owns what it announces (OWNER), for a receiver running as root to keep. */
  OWNERS: 0x80,
  /** A lost data connection costs only its chunks in flight: they are sent again on the others and the client opens a replacement (PROTOCOL.md §7.3). */
  RECONNECT: 0x100,
  /** A changed file the receiver holds an older version of goes as a delta: DELTA_SIG, then DELTA_COPY and DATA (PROTOCOL.md §7.7). */
  DELTA: 0x200,
  /** The client may send FILTER_RULES (--exclude, --include, --max-depth) before its request (PROTOCOL.md §7.8). */
  FILTERS: 0x800,
  /** A sync: the client may send SYNC before its request, and a receiving fcpd reports its changes (ITEM). */
  SYNC: 0x400,
  /** A push's client may send RENAMEs before its request: entries the receiver renames in place first (fcp --watch, PROTOCOL.md §7.9). */
  RENAME: 0x2000,
  /** --follow: after the copy the sender keeps sending what its files grow by (APPEND) and new files, until told to stop (PROTOCOL.md §7.10). */
  FOLLOW: 0x1000,
  /** Sparse files: a run of zero bytes in a chunk of a sparse source may travel as HOLE, with no data (PROTOCOL.md §7.3). */
  SPARSE: 0x8000,
  /** The client of a pull may send FILES_FROM (--files-from) before its request (PROTOCOL.md §7.11). */
  FILES_FROM: 0x4000,
  /** The receiver says at the start whether its destination holds anything (DEST_STATE); small files go inline only into one that holds nothing (PROTOCOL.md §7.4). */
  DEST_STATE: 0x20000,
  /**
   * PARAMS connections is the most data connections the client opens: it opens some at the start
   * and attaches more while the transfer runs; the server does not wait for the rest (PROTOCOL.md §5.3).
   */
  GROW: 0x80000,
  /** The sender announces its walk as it goes: FILE_COUNT may come again before DONE, for the files walked since (PROTOCOL.md §7.1). */
  STREAM: 0x40000,
  /** With DELTA: the sender sends the blocks of each file it sent as a delta (NEW_SIG), for the receiver's signature cache (PROTOCOL.md §7.7). */
  SIG_CACHE: 0x200000,
  /** With DELTA: chunks of a file sent as a delta may come before its FILE_READY, while the receiver still sends its DELTA_SIG (PROTOCOL.md §7.7). */
  DELTA_EARLY: 0x100000,
  /** fcp --watch --two-way: a pull may open fcpd's side of a two-way pair (TWO_WAY, TWO_WAY_SIDE): its record, its listing, its changes (PROTOCOL.md §7.12). */
  TWO_WAY: 0x400000,
  /** With TWO_WAY: the side reports the renames it sees in its listing and makes the ones fcp asks for (TWO_WAY_MOVE, PROTOCOL.md §7.12). */
  TWO_WAY_MOVES: 0x800000,
  /** With TWO_WAY: the side lists its directories and symlinks too (TWO_WAY_NODE) and makes and removes them (TWO_WAY_NODE_OP, PROTOCOL.md §7.12). */
  TWO_WAY_TREE: 0x10000,
} as const;
export const SUPPORTED_FEATURES = Feature.HEADER_CHKSUM | Feature.BATCH | Feature.INLINE | Feature.QUICK_CHECK | Feature.RESUME | Feature.HARD_LINKS | Feature.OWNERS | Feature.RECONNECT | Feature.COMPRESS | Feature.FILTERS | Feature.DELTA | Feature.SYNC | Feature.RENAME | Feature.FOLLOW | Feature.SPARSE | Feature.FILES_FROM | Feature.DEST_STATE | Feature.STREAM | Feature.GROW | Feature.SIG_CACHE | Feature.DELTA_EARLY | Feature.TWO_WAY | Feature.TWO_WAY_MOVES | Feature.TWO_WAY_TREE;
/**
 * PARAMS.more_features bits (PROTOCOL.md §5.2): the second feature word, for the features after
 * bit 23 of the first. Every bit of it is optional: a server answers the subset it supports.
 */
export const MoreFeature = {
  /** With TWO_WAY_TREE: a listing may be narrowed to the paths either side saw change (TWO_WAY_SCOPE, PROTOCOL.md §7.12). */
  TWO_WAY_NARROW: 0x1,
  /** With TWO_WAY_NARROW: a narrowed listing may ask for a sweep (TWO_WAY_SCOPE SWEEP, PROTOCOL.md §7.12). */
  TWO_WAY_SWEEP: 0x2,
  /**
   * With DEST_STATE, offered by a pulling client whose destination holds nothing: the answer says
   * the server's sender takes it as that DEST_STATE(0), and the client sends none (PROTOCOL.md §7.4):
   * small files go inline a round trip sooner.
   */
  DEST_EMPTY: 0x8,
  /**
   * With DEST_STATE: after DEST_STATE(1) the receiver answers each top-level directory with
   * DIR_STATE, whether nothing is below it (made now, or found empty), so that the sender sends the
   * small files below a new one inline all the same (PROTOCOL.md §7.4).
   */
  DIR_STATE: 0x10,
  /**
   * With INLINE: the receiver may answer the FILE_INFO of a small file it does not hold with
   * FILE_WANT, and the sender sends the file whole on the control connection (FILE_WHOLE) rather
   * than through FILE_READY, DATA and FILE_DONE (PROTOCOL.md §7.4).
   */
  FILE_WANT: 0x20,
  /**
   * With MODE's REMOVE_SOURCE, offered by a pulling client: the sender answers the receiver's DONE
   * with a DONE of its own once every source it removes is removed, and the receiver ends only at
   * it, so that fcp does not exit while fcpd still removes (PROTOCOL.md §7.1).
   */
  SOURCES_REMOVED: 0x40,
  /**
   * With MODE's REMOVE_SOURCE, offered by a client that removes its sources: the receiver answers
   * FILE_SAME_INODE in place of FILE_SAME, naming the destination's inode, so that a sender on the
   * same host keeps a source that is its own destination (PROTOCOL.md §7.5).
   */
  SAME_INODE: 0x80,
  /**
   * With MODE's REMOVE_SOURCE, offered by a pulling client: the sender tells the receiver each
   * source it keeps (SOURCE_KEPT), so that the user who asked for the move hears of what did not
   * move, as a pushing client tells of its own (PROTOCOL.md §7.1).
   */
  SOURCE_KEPT: 0x100,
  /**
   * With SYNC: the client may send SIZE_LIMITS after it (--min-size, --max-size), which the
   * receiver applies and the sender heeds for --remove-source-files (PROTOCOL.md §7.8).
   */
  SIZE_LIMITS: 0x200,
} as const;
export const SUPPORTED_MORE_FEATURES =
  MoreFeature.TWO_WAY_NARROW | MoreFeature.TWO_WAY_SWEEP | MoreFeature.DEST_EMPTY | MoreFeature.DIR_STATE | MoreFeature.FILE_WANT | MoreFeature.SOURCES_REMOVED | MoreFeature.SAME_INODE | MoreFeature.SOURCE_KEPT | MoreFeature.SIZE_LIMITS;
/** RENAME: at most this many in one session (more is FCP_ERR_BAD_FIELD). */
export const MAX_RENAMES = 1000;
/**
 * Feature bits 3..23 are optional (PROTOCOL.md §5.2): they change what a side may send once the
 * session runs, not how frames are sealed, so a server answers the subset of them it supports.
 * The others (bits 0..2 and 24..31) are framing features, accepted exactly as offered. No build
 * ever used a framing bit above 2, so widening the optional range from 3..15 changed no session.
 */
export const OPTIONAL_FEATURE_BITS = 0x00fffff8;

/** Chunk hashes one CHUNKS_HELD carries at most: what fits a sealed frame beside its 8-byte head. */
export const MAX_HELD_HASHES = Math.floor((MAX_PAYLOAD - GCM_TAG_SIZE - 8) / HASH_SIZE);
/**
 * The delta (feature DELTA, PROTOCOL.md §7.7): files are cut into content-defined blocks (FastCDC,
 * gear hash) of DELTA_MIN_BLOCK..DELTA_MAX_BLOCK bytes, DELTA_AVG_BLOCK on average; both sides
 * must cut alike, so these are wire constants. Small blocks keep an edit's literal bytes near
 * rsync's (a 4 KiB rewrite costs its block, about 20 KiB).
 */
export const DELTA_MIN_BLOCK = 4 * 1024;
export const DELTA_AVG_BLOCK = 16 * 1024;
export const DELTA_MAX_BLOCK = 64 * 1024;
/**
 * The longest block a DELTA_SIG may describe, and the size unit of its block limit (a new file of
 * `size` bytes: floor(size / DELTA_SIG_UNIT) + 1 blocks): what the first DELTA peers cut to (16, 64
 * and 256 KiB blocks), kept so that a signature from either passes the other's checks.
 */
export const DELTA_SIG_MAX_BLOCK = 256 * 1024;
export const DELTA_SIG_UNIT = 16 * 1024;
/** A DELTA_SIG entry: block length u32, xxh64 u64. */
export const DELTA_SIG_ENTRY_SIZE = 4 + HASH_SIZE;
/** DELTA_SIG head: file_id u32, old_offset u64. */
export const DELTA_SIG_HEAD_SIZE = 12;
/** Entries one DELTA_SIG carries at most: what fits a sealed frame beside its head. */
export const MAX_SIG_ENTRIES = Math.floor((MAX_PAYLOAD - GCM_TAG_SIZE - DELTA_SIG_HEAD_SIZE) / DELTA_SIG_ENTRY_SIZE);
/** Blocks of one file's signature at most, whatever its size (12 bytes each on the wire, a map entry at the sender). */
export const MAX_SIG_BLOCKS = 2 ** 19;
/**
 * Files smaller than this go whole even when the destination holds an older version: an edit
 * costs a block of DELTA_AVG_BLOCK bytes on average and each side reads the file once more.
 */
export const DELTA_MIN_FILE = 256 * 1024;

/** PARTIAL_STALE.reason: why the receiver started a partly received file over. */
export const StaleReason = {
  /** The source's size or mtime (or the chunk size) differs from the interrupted run's. */
  CHANGED: 1,
  /** The journal did not parse (a bad header): nothing of it is trusted. */
  UNREADABLE: 2,
} as const;

/**
 * Largest file sent as one FILE_INLINE. Below this size a file's own bytes cost less than its
 * announcement, FILE_READY round trip, descriptor and chunk bookkeeping did.
 */
export const INLINE_MAX = 16 * 1024;

/** FILE_INLINE's fileId, perm, mtimeNs, hash and the path's length: the bytes before the path. */
export const INLINE_HEAD = 4 + 2 + 8 + 8 + 2;

/** FILE_OK's payload: its fileId (u32), as FILE_READY's, FILE_SAME's and FILE_WANT's. */
export const FILE_OK_LENGTH = 4;
/** FILE_INFO's fileId, perm, size, mtimeNs and digest: the bytes before the path. */
export const FILE_INFO_HEAD = 4 + 2 + 8 + 8 + DIGEST_SIZE;
/** FILE_WHOLE's fileId and hash: the bytes before the data. */
export const FILE_WHOLE_HEAD = 4 + 8;

/**
 * What a BATCH may carry on the control connection: its messages once the transfer runs. Entry:
 * type u8 | length u16 | payload. At least two entries (one message needs no batch).
 */
export const BATCHABLE_TYPES: ReadonlySet<number> = new Set([
  PacketType.DIR_INFO,
  PacketType.FILE_INFO,
  PacketType.FILE_COUNT,
  PacketType.FILE_READY,
  PacketType.DONE,
  PacketType.ERROR,
  PacketType.SYMLINK,
  PacketType.RESEND,
  PacketType.FILE_DONE,
  PacketType.FILE_OK,
  PacketType.FILE_SAME,
  PacketType.FILE_SAME_INODE,
  PacketType.SOURCE_KEPT,
  PacketType.CHUNKS_HELD,
  PacketType.CHUNK_KEPT,
  PacketType.PARTIAL_STALE,
  PacketType.DATA_LOST,
  PacketType.CHUNK_ACK,
  PacketType.DELTA_SIG,
  PacketType.NEW_SIG,
  PacketType.FILE_ERROR,
  PacketType.KEEPALIVE,
  PacketType.FILE_INLINE,
  PacketType.FILE_WANT,
  PacketType.FILE_WHOLE,
  PacketType.ENTRY_ERROR,
  PacketType.HARDLINK,
  PacketType.OWNER,
  PacketType.ITEM,
  PacketType.APPEND,
  PacketType.FOLLOW,
]);
/** What a BATCH may carry on a data connection: small chunks, each DATA then its CHUNK_SUM. */
export const DATA_BATCHABLE_TYPES: ReadonlySet<number> = new Set([PacketType.DATA, PacketType.CHUNK_SUM]);
export const BATCH_ENTRY_HEADER = 3;
/** Entry bytes one BATCH frame carries at most: a payload with room for a GCM tag. */
export const BATCH_ROOM = MAX_PAYLOAD - GCM_TAG_SIZE;

/** MODE.flags bits. */
export const ModeFlag = {
  RECURSIVE: 0x1,
  FOLLOW_SYMLINKS: 0x2,
  /** Several sources: the destination must be an existing directory. */
  DEST_IS_DIR: 0x4,
  /** -I: no quick check, every file is sent whatever the destination holds. */
  IGNORE_TIMES: 0x8,
  /** --no-resume: the receiver discards partial state of earlier runs and every file is sent whole. */
  NO_RESUME: 0x10,
  /** --backup: a destination entry that is replaced is first renamed to its name + MODE's backup_suffix. */
  BACKUP: 0x20,
  /** --remove-source-files: the sender removes each source file, symlink and link once it is in place at the destination. */
  REMOVE_SOURCE: 0x40,
  /** --numeric-ids: a receiver keeps owners by the OWNER ids, not by their names. */
  NUMERIC_IDS: 0x80,
  /** Sources given with a trailing slash (rsync's rule): each top-level directory is the destination itself, created if missing. */
  CONTENTS: 0x100,
  /** rsync's placement: a top-level directory goes under the destination, which is created as a directory if missing. */
  INTO_DIR: 0x200,
  /** --follow on a pull: fcpd's sender follows its sources after the copy (feature FOLLOW, PROTOCOL.md §7.10). */
  FOLLOW: 0x400,
  /** -x: the sender's walk does not enter a directory on another file system than its source's. */
  ONE_FILE_SYSTEM: 0x800,
  /** --mkpath: the receiver first makes the destination's missing directories (mkdir -p), as rsync --mkpath. */
  MKPATH: 0x1000,
} as const;
export const KNOWN_MODE_FLAGS =
  ModeFlag.RECURSIVE |
  ModeFlag.FOLLOW_SYMLINKS |
  ModeFlag.DEST_IS_DIR |
  ModeFlag.IGNORE_TIMES |
  ModeFlag.NO_RESUME |
  ModeFlag.BACKUP |
  ModeFlag.REMOVE_SOURCE |
  ModeFlag.NUMERIC_IDS |
  ModeFlag.CONTENTS |
  ModeFlag.INTO_DIR |
  ModeFlag.FOLLOW |
  ModeFlag.ONE_FILE_SYSTEM |
  ModeFlag.MKPATH;

/** SYNC.flags bits (PROTOCOL.md §7.8). */
export const SyncFlag = {
  CHECKSUM: 0x1,
  SIZE_ONLY: 0x2,
  UPDATE: 0x4,
  IGNORE_EXISTING: 0x8,
  DELETE: 0x10,
  DELETE_EXCLUDED: 0x20,
  DRY_RUN: 0x40,
  /** --existing: nothing that is not at the destination yet is created there. */
  EXISTING: 0x80,
} as const;
/** FOLLOW.event (PROTOCOL.md §7.10). */
export const FollowEvent = {
  /** S→R: a source does not exist yet; the sender waits for it. */
  WAITING: 1,
  /** S→R: a followed file got shorter: it is sent again (its next FILE_INFO). */
  TRUNCATED: 2,
  /** S→R: a followed file's sent bytes changed: it is sent again. */
  REWRITTEN: 3,
  /** S→R: a followed file was replaced by another (a new inode): it is sent again. */
  REPLACED: 4,
  /** R→S: stop following: the sender sends its DONE once what it has read is sent. */
  STOP: 5,
} as const;
/** TWO_WAY.op (PROTOCOL.md §7.12). */
export const TwoWayOp = {
  /** Between MODE and a PULL of the side's directory: the pull is the side's session; digest is the pair's id. */
  OPEN: 1,
  /** List the side whole: its files (ENTRY) and its record (RECORDED), then LISTED. */
  LIST: 2,
  /** Both sides hold this version of path now; this side's file has this size and mtime. */
  RECORD: 3,
  /** Neither side holds path now. */
  FORGET: 4,
} as const;
/** TWO_WAY_SIDE.event (PROTOCOL.md §7.12). */
export const TwoWaySideEvent = {
  /** A regular file the side holds, with its version's digest. */
  ENTRY: 1,
  /** A path the side's record holds, with the version recorded. */
  RECORDED: 2,
  /** The listing is over; mode 1: whole, 0: some entries could not be read. */
  LISTED: 3,
  /** Something changed in the side's directory since its last listing. */
  CHANGED: 4,
} as const;
/** TWO_WAY_MOVE.kind (PROTOCOL.md §7.12, feature TWO_WAY_MOVES). */
export const TwoWayMoveKind = {
  /** S→C, in a listing: the side's file `from` (recorded) is now `to` (the same inode, size and mtime). */
  SEEN: 1,
  /** C→S: rename `from` to `to`, if `from` is still as last listed and `to` is free. */
  MAKE: 2,
  /** S→C, answering MAKE in order: made. */
  MADE: 3,
  /** S→C, answering MAKE in order: not made (the file changed, the name is taken, ...); fcp moves the file instead. */
  NOT_MADE: 4,
} as const;
/** TWO_WAY_NODE.event (PROTOCOL.md §7.12, feature TWO_WAY_TREE). */
export const TwoWayNodeEvent = {
  /** In a listing: a directory or symlink the side holds. */
  ENTRY: 1,
  /** In a listing: a directory or symlink the side's record holds. */
  RECORDED: 2,
} as const;
/** TWO_WAY_NODE_OP.op (PROTOCOL.md §7.12, feature TWO_WAY_TREE). */
export const TwoWayNodeOp = {
  /** C→S: both sides hold this directory or symlink now (not answered). */
  RECORD: 1,
  /** C→S: make directory `path` if nothing is there. */
  MKDIR: 2,
  /** C→S: make symlink `path` to `target` if nothing is there. */
  SYMLINK: 3,
  /** C→S: remove `path` if it is still the listed version (`digest`): a directory only when empty. */
  REMOVE: 4,
  /** S→C, answering MKDIR, SYMLINK and REMOVE in order: made. */
  MADE: 5,
  /** S→C: not made (the name taken, the entry changed, a directory not empty, ...). */
  NOT_MADE: 6,
} as const;
/** TWO_WAY_SCOPE.event (PROTOCOL.md §7.12, more feature TWO_WAY_NARROW). */
export const TwoWayScopeEvent = {
  /** C→S: a path fcp's side saw change, for the next narrowed listing; S→C, before a narrowed listing's entries: a path fcpd's side saw change. */
  PATH: 1,
  /** C→S: list the side narrowed to the paths sent since the last listing and the side's own. */
  LIST: 2,
  /** S→C, instead of PATHs: this listing is whole (the side's events were lost, or too many paths changed). */
  WHOLE: 3,
  /** C→S (more feature TWO_WAY_SWEEP): as LIST, the scope also holding every path where a walk finds the side differs from its record. */
  SWEEP: 4,
} as const;
/** TWO_WAY_NODE and TWO_WAY_NODE_OP kind. */
export const TwoWayNodeKind = { DIR: 1, SYMLINK: 2 } as const;

/** TWO_WAY and TWO_WAY_SIDE digest: a sha256 (the version's content), or OPEN's pair id. */
export const TWO_WAY_DIGEST_SIZE = 32;

/** APPEND.data: at most this many bytes, what DATA carries (a sealed frame with APPEND's 28-byte head fits). */
export const MAX_APPEND_BYTES = 57344;

/** ITEM.item: rsync's `%i`, 11 ASCII characters. */
export const ITEM_SIZE = 11;
/** OWNER.user and OWNER.group: names of a u8 length. */
export const MAX_ACCOUNT_NAME_BYTES = 255;
/** MODE.backup_suffix: at most NAME_MAX bytes (it is appended to a name). */
export const MAX_BACKUP_SUFFIX_BYTES = 255;

/** FILE_INFO/DIR_INFO perm: permission bits with setuid/setgid/sticky (mode & 0o7777), as rsync -p keeps. */
export const PERM_MASK = 0o7777;

/** FILTER_RULES: at most this many rules, in a payload of at most this many bytes (a sealed frame's plaintext). */
export const MAX_FILTER_RULES = 4096;
export const MAX_FILTER_RULES_BYTES = MAX_PAYLOAD - GCM_TAG_SIZE - 4;
/** FILES_FROM: NUL-separated paths in a payload of at most this many bytes; a longer list goes in several. */
export const MAX_FILES_FROM_BYTES = MAX_FILTER_RULES_BYTES - 1;
/** FILES_FROM: at most this many paths in all the messages of one request (a receiving fcpd's memory bound). */
export const MAX_FILES_FROM_PATHS = 1_000_000;
/** FILTER_RULES.max_depth when --max-depth was not given. */
export const NO_MAX_DEPTH = 0xffffffff;
