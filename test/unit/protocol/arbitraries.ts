/**
 * fast-check arbitraries of VALID messages, one per packet type, following src/protocol/layouts.ts.
 * Payloads are small by default so that properties run fast; about one value in twenty of each
 * variable-size field is at its largest allowed size, so the limits are exercised too.
 */
import fc from 'fast-check';
import {
  DATA_FRAME_BYTES,
  DIGEST_SIZE,
  HASH_SIZE,
  INLINE_MAX,
  KEY_ID_SIZE,
  MAC_SIZE,
  MAX_ACCOUNT_NAME_BYTES,
  MAX_BACKUP_SUFFIX_BYTES,
  MAX_CHUNK_SIZE,
  MAX_CONNECTIONS,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FILE_SIZE,
  MAX_HELD_HASHES,
  MAX_SIG_ENTRIES,
  DELTA_SIG_ENTRY_SIZE,
  MAX_PATH_BYTES,
  MAX_PAYLOAD,
  NONCE_SIZE,
  PacketType,
  PacketTypeName,
  PERM_MASK,
  SESSION_ID_SIZE,
} from '../../../src/protocol/constants';
import type { Message, MessageOf } from '../../../src/protocol/messages';

const SLASH = 0x2f;
const DOT = 0x2e;

/** TWO_WAY's and TWO_WAY_SIDE's fields after op or event: the codec carries the path as bytes (its handlers check it). */
function twoWayFields() {
  return {
    mode: fc.integer({ min: 0, max: 0o7777 }),
    size: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    mtimeNs: i64,
    digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
    path: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  };
}

/** TWO_WAY_NODE's and TWO_WAY_NODE_OP's fields after event or op: the path is an entry path (checked when decoded), the target bytes. */
function twoWayNodeFields() {
  return {
    kind: fc.integer({ min: 1, max: 2 }),
    digest: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
    path: entryPath,
    target: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  };
}

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const perm = fc.integer({ min: 0, max: PERM_MASK });

export function fixedBytes(size: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ minLength: size, maxLength: size }).map((a) => Buffer.from(a));
}

/** Mostly `small`, sometimes `large`: fast runs that still reach the limits. */
function mostlySmall<T>(small: fc.Arbitrary<T>, large: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 19, arbitrary: small }, { weight: 1, arbitrary: large });
}

/** `head` repeated to exactly `size` bytes: big buffers without generating every byte. */
function tile(head: Uint8Array, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let pos = 0; pos < size; pos += head.length) out.set(head.subarray(0, size - pos), pos);
  return out;
}

/** Bytes that trip naive path or text handling: space, newline, dot, backslash, non-UTF-8. */
const TRICKY_BYTES = [0x20, 0x0a, 0x0d, 0x09, DOT, 0x5c, 0x7f, 0x80, 0xc3, 0xfe, 0xff, 0x01];
const pathByte = fc.oneof(fc.constantFrom(...TRICKY_BYTES), fc.integer({ min: 1, max: 0xff }));

/** A component of an entry path: no '/', no NUL, not '.' or '..' ('...' and '.x' are fine). */
const component = fc
  .array(pathByte.filter((b) => b !== SLASH), { minLength: 1, maxLength: 8 })
  .filter((c) => c.length > 2 || !c.every((b) => b === DOT))
  .map((c) => Buffer.from(c));

const smallEntryPath = fc
  .array(component, { minLength: 1, maxLength: 4 })
  .map((parts) => Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.of(SLASH), part]))));

/** A user or group name: 0..255 bytes, no NUL. */
const accountName = fc.uint8Array({ minLength: 0, maxLength: MAX_ACCOUNT_NAME_BYTES }).map((a) => Buffer.from(a.map((byte) => byte || 0x41)));

/** A relative entry path, 1..MAX_PATH_BYTES bytes; the large case is exactly MAX_PATH_BYTES. */
export const entryPath = mostlySmall(
  smallEntryPath,
  smallEntryPath.map((p) => Buffer.concat([p, Buffer.of(SLASH), Buffer.alloc(MAX_PATH_BYTES - p.length - 1, 'x')])),
);

const smallUserPath = fc.array(pathByte, { minLength: 1, maxLength: 24 }).map((p) => Buffer.from(p));
const userPathOf = (size: number) => smallUserPath.map((p) => tile(p, size));

/** A path as a user types it: any bytes but NUL ('/abs', '../x' and 'a//b' included). */
export const userPath = mostlySmall(smallUserPath, userPathOf(MAX_PATH_BYTES));

/** PULL sources; the large case fills the payload exactly: 16 paths of 4095 bytes and 15 NULs. */
export const userPathList = mostlySmall(
  fc.array(smallUserPath, { minLength: 1, maxLength: 4 }),
  fc.array(userPathOf(4095), { minLength: 16, maxLength: 16 }),
);
// Keep the large case honest if the limits ever change.
if (16 * 4095 + 15 !== MAX_PAYLOAD) throw new Error('userPathList: large case no longer fills MAX_PAYLOAD');

const smallText = fc.string({ unit: 'binary', maxLength: 32 });

/** UTF-8 text (any code point, NUL included) of 0..MAX_ERROR_MESSAGE_BYTES bytes. */
export const text = mostlySmall(
  smallText,
  smallText.map((s) => s + 'a'.repeat(MAX_ERROR_MESSAGE_BYTES - Buffer.byteLength(s, 'utf8'))),
);

/** DATA contents, 1..DATA_FRAME_BYTES bytes. */
export const data = mostlySmall(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((head) => tile(head, DATA_FRAME_BYTES)),
);

type ArbitraryByName = { [N in PacketTypeName]: fc.Arbitrary<MessageOf<(typeof PacketType)[N]>> };

/** One arbitrary per packet type; the mapped type makes a missing or mistyped one a compile error. */
/** DELTA_SIG's and NEW_SIG's block lists: mostly short, sometimes the most a message holds. */
const sigEntries = fc
  .oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 16 }) }, { weight: 1, arbitrary: fc.constant(MAX_SIG_ENTRIES) })
  .chain((count) => fixedBytes(count * DELTA_SIG_ENTRY_SIZE));

export const messageArbitraries: ArbitraryByName = {
  PUSH: fc.record({ type: fc.constant(PacketType.PUSH), path: userPath }),
  PULL: fc.record({ type: fc.constant(PacketType.PULL), paths: userPathList }),
  SESSION: fc.record({ type: fc.constant(PacketType.SESSION), sessionId: fixedBytes(SESSION_ID_SIZE) }),
  ATTACH: fc.record({
    type: fc.constant(PacketType.ATTACH),
    sessionId: fixedBytes(SESSION_ID_SIZE),
    connIndex: fc.integer({ min: 1, max: MAX_CONNECTIONS }),
  }),
  MODE: fc.record(
    {
      type: fc.constant(PacketType.MODE),
      flags: u32,
      backupSuffix: fc.uint8Array({ minLength: 1, maxLength: MAX_BACKUP_SUFFIX_BYTES }).map((a) => Buffer.from(a.map((byte) => (byte === 0 || byte === SLASH ? 0x7e : byte)))),
    },
    { requiredKeys: ['type', 'flags'] },
  ),
  DIR_INFO: fc.record({ type: fc.constant(PacketType.DIR_INFO), perm, mtimeNs: i64, path: entryPath }),
  FILE_INFO: fc.record({
    type: fc.constant(PacketType.FILE_INFO),
    fileId: u32,
    perm,
    size: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    mtimeNs: i64,
    digest: fixedBytes(DIGEST_SIZE),
    path: entryPath,
  }),
  FILE_COUNT: fc.record({
    type: fc.constant(PacketType.FILE_COUNT),
    count: u32,
    totalBytes: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  }),
  FILE_READY: fc.record({ type: fc.constant(PacketType.FILE_READY), fileId: u32 }),
  DATA: fc.record({ type: fc.constant(PacketType.DATA), fileId: u32, seq: u32, data }),
  DATA_Z: fc.record({ type: fc.constant(PacketType.DATA_Z), fileId: u32, seq: u32, rawLength: fc.integer({ min: 1, max: DATA_FRAME_BYTES }), data }),
  DONE: fc.record({ type: fc.constant(PacketType.DONE) }),
  ERROR: fc.record({ type: fc.constant(PacketType.ERROR), code: u16, message: text }),
  HELLO: fc.record({
    type: fc.constant(PacketType.HELLO),
    minVersion: fc.integer({ min: 1, max: 0xffff }),
    maxVersion: fc.integer({ min: 1, max: 0xffff }),
    nonce: fixedBytes(NONCE_SIZE),
  }, { requiredKeys: ['type', 'minVersion', 'maxVersion', 'nonce'] }).chain((hello) => fc.option(u32, { nil: undefined }).map((more) => (more === undefined ? hello : { ...hello, moreFeatures: more }))),
  AUTH: fc.record({ type: fc.constant(PacketType.AUTH), keyId: fixedBytes(KEY_ID_SIZE), mac: fixedBytes(MAC_SIZE) }),
  AUTH_OK: fc.record({ type: fc.constant(PacketType.AUTH_OK), mac: fixedBytes(MAC_SIZE) }),
  PARAMS: fc.record({
    type: fc.constant(PacketType.PARAMS),
    chunkSize: u32,
    connections: u16,
    hashAlgs: u16,
    cipher: u8,
    features: u32,
  }).chain((params) => fc.option(u32, { nil: undefined }).map((more) => (more === undefined ? params : { ...params, moreFeatures: more }))),
  SYMLINK: fc.record({ type: fc.constant(PacketType.SYMLINK), mtimeNs: i64, path: entryPath, target: userPath }),
  CHUNK_SUM: fc.record({
    type: fc.constant(PacketType.CHUNK_SUM),
    fileId: u32,
    seq: u32,
    length: fc.integer({ min: 1, max: MAX_CHUNK_SIZE }),
    hash: u64,
  }),
  RESEND: fc.record({
    type: fc.constant(PacketType.RESEND),
    fileId: u32,
    seq: u32,
    length: fc.integer({ min: 1, max: MAX_CHUNK_SIZE }),
  }),
  FILE_DONE: fc.record({ type: fc.constant(PacketType.FILE_DONE), fileId: u32, digest: fixedBytes(DIGEST_SIZE) }),
  FILE_OK: fc.record({ type: fc.constant(PacketType.FILE_OK), fileId: u32 }),
  FILE_SAME: fc.record({ type: fc.constant(PacketType.FILE_SAME), fileId: u32 }),
  FILE_SAME_INODE: fc.record({ type: fc.constant(PacketType.FILE_SAME_INODE), fileId: u32, inodeTag: u64 }),
  SOURCE_KEPT: fc.record({ type: fc.constant(PacketType.SOURCE_KEPT), code: u16, path: entryPath, message: text }),
  CHUNKS_HELD: fc.record({
    type: fc.constant(PacketType.CHUNKS_HELD),
    fileId: u32,
    firstIndex: u32,
    // Mostly a few hashes, sometimes the most a frame holds: random bytes by the 65 KiB make every property slow.
    hashes: fc
      .oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 16 }) }, { weight: 1, arbitrary: fc.constant(MAX_HELD_HASHES) })
      .chain((count) => fixedBytes(count * HASH_SIZE)),
  }),
  CHUNK_KEPT: fc.record({ type: fc.constant(PacketType.CHUNK_KEPT), fileId: u32, index: u32 }),
  PARTIAL_STALE: fc.record({ type: fc.constant(PacketType.PARTIAL_STALE), fileId: u32, reason: fc.integer({ min: 1, max: 2 }) }),
  DATA_LOST: fc.record({ type: fc.constant(PacketType.DATA_LOST), connIndex: fc.integer({ min: 1, max: MAX_CONNECTIONS }), chunks: u32 }),
  CHUNK_ACK: fc.record({ type: fc.constant(PacketType.CHUNK_ACK), connIndex: fc.integer({ min: 1, max: MAX_CONNECTIONS }), chunks: u32 }),
  DELTA_SIG: fc.record({
    type: fc.constant(PacketType.DELTA_SIG),
    fileId: u32,
    oldOffset: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    entries: sigEntries,
  }),
  NEW_SIG: fc.record({
    type: fc.constant(PacketType.NEW_SIG),
    fileId: u32,
    offset: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    entries: sigEntries,
  }),
  DELTA_COPY: fc.record({
    type: fc.constant(PacketType.DELTA_COPY),
    fileId: u32,
    offset: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    oldOffset: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    length: fc.integer({ min: 1, max: MAX_CHUNK_SIZE }),
  }),
  HOLE: fc.record({ type: fc.constant(PacketType.HOLE), fileId: u32, seq: u32, length: fc.integer({ min: 1, max: MAX_CHUNK_SIZE }) }),
  FILE_ERROR: fc.record({ type: fc.constant(PacketType.FILE_ERROR), fileId: u32, code: u16, message: text }),
  KEEPALIVE: fc.record({ type: fc.constant(PacketType.KEEPALIVE) }),
  FILE_INLINE: fc.record({
    type: fc.constant(PacketType.FILE_INLINE),
    fileId: u32,
    perm,
    mtimeNs: i64,
    hash: u64,
    path: entryPath,
    data: mostlySmall(
      fc.uint8Array({ minLength: 0, maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((head) => tile(head, INLINE_MAX)),
    ),
  }),
  ENTRY_ERROR: fc.record({ type: fc.constant(PacketType.ENTRY_ERROR), code: u16, path: entryPath, message: text }),
  HARDLINK: fc.record({ type: fc.constant(PacketType.HARDLINK), path: entryPath, target: entryPath }),
  OWNER: fc.record({ type: fc.constant(PacketType.OWNER), uid: u32, gid: u32, user: accountName, group: accountName }),
  SYNC: fc.record({ type: fc.constant(PacketType.SYNC), flags: u32, maxDelete: u32 }),
  SIZE_LIMITS: fc.record({ type: fc.constant(PacketType.SIZE_LIMITS), minSize: fc.integer({ min: 0, max: MAX_FILE_SIZE }), maxSize: fc.integer({ min: 0, max: MAX_FILE_SIZE }) }),
  ITEM: fc.record({ type: fc.constant(PacketType.ITEM), item: fc.uint8Array({ minLength: 11, maxLength: 11 }).map((a) => Buffer.from(a)), isDir: fc.integer({ min: 0, max: 1 }), path: entryPath }),
  // The codec carries the rules as bytes; test/unit/sync/filterWire.test.ts checks what they hold.
  FILTER_RULES: fc.record({ type: fc.constant(PacketType.FILTER_RULES), maxDepth: u32, rules: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }),
  LOGIN: fc.record({ type: fc.constant(PacketType.LOGIN), user: accountName }),
  RENAME: fc.record({ type: fc.constant(PacketType.RENAME), from: entryPath, to: entryPath }),
  APPEND: fc.record({
    type: fc.constant(PacketType.APPEND),
    fileId: u32,
    offset: fc.integer({ min: 0, max: MAX_FILE_SIZE }),
    mtimeNs: i64,
    hash: u64,
    data,
  }),
  FOLLOW: fc.record({ type: fc.constant(PacketType.FOLLOW), event: fc.integer({ min: 1, max: 5 }), name: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }),
  // The codec carries the paths as bytes; test/unit/transfer/filesFrom.test.ts checks what they hold.
  FILES_FROM: fc.record({ type: fc.constant(PacketType.FILES_FROM), recursive: fc.integer({ min: 0, max: 1 }), paths: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)) }),
  DEST_STATE: fc.record({ type: fc.constant(PacketType.DEST_STATE), holds: fc.integer({ min: 0, max: 1 }) }),
  DIR_STATE: fc.record({ type: fc.constant(PacketType.DIR_STATE), holds: fc.integer({ min: 0, max: 1 }), path: entryPath }),
  FILE_WANT: fc.record({ type: fc.constant(PacketType.FILE_WANT), fileId: u32 }),
  FILE_WHOLE: fc.record({
    type: fc.constant(PacketType.FILE_WHOLE),
    fileId: u32,
    hash: u64,
    data: mostlySmall(
      fc.uint8Array({ minLength: 0, maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((head) => tile(head, INLINE_MAX)),
    ),
  }),
  TWO_WAY: fc.record({ type: fc.constant(PacketType.TWO_WAY), op: fc.integer({ min: 1, max: 4 }), ...twoWayFields() }),
  TWO_WAY_SIDE: fc.record({ type: fc.constant(PacketType.TWO_WAY_SIDE), event: fc.integer({ min: 1, max: 4 }), ...twoWayFields() }),
  TWO_WAY_MOVE: fc.record({ type: fc.constant(PacketType.TWO_WAY_MOVE), kind: fc.integer({ min: 1, max: 4 }), from: entryPath, to: entryPath }),
  TWO_WAY_NODE: fc.record({ type: fc.constant(PacketType.TWO_WAY_NODE), event: fc.integer({ min: 1, max: 2 }), ...twoWayNodeFields() }),
  TWO_WAY_NODE_OP: fc.record({ type: fc.constant(PacketType.TWO_WAY_NODE_OP), op: fc.integer({ min: 1, max: 6 }), ...twoWayNodeFields() }),
  TWO_WAY_SCOPE: fc.record({ type: fc.constant(PacketType.TWO_WAY_SCOPE), event: fc.integer({ min: 1, max: 4 }), path: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) }),
  // The codec carries a BATCH's entries as bytes; batch.test.ts checks what they hold.
  BATCH: fc.record({ type: fc.constant(PacketType.BATCH), entries: fc.uint8Array({ minLength: 6, maxLength: 300 }).map((a) => Buffer.from(a)) }),
};

/** A valid message of any type, every type equally likely. */
export const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  ...(Object.values(messageArbitraries) as fc.Arbitrary<Message>[]),
);
