/**
 * Payload layout of every message type, as a list of fields in wire order. The parser and the
 * serializer both walk these lists, so a layout is written once; docs/PROTOCOL.md describes them.
 */
import {
  BATCH_ENTRY_HEADER,
  DATA_FRAME_BYTES,
  DELTA_SIG_ENTRY_SIZE,
  DIGEST_SIZE,
  HASH_SIZE,
  INLINE_MAX,
  ITEM_SIZE,
  KEY_ID_SIZE,
  MAX_APPEND_BYTES,
  MAX_HELD_HASHES,
  MAC_SIZE,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FILE_SIZE,
  MAX_ACCOUNT_NAME_BYTES,
  MAX_BACKUP_SUFFIX_BYTES,
  MAX_CHUNK_SIZE,
  MAX_CONNECTIONS,
  MAX_FILTER_RULES_BYTES,
  MAX_FILES_FROM_BYTES,
  MAX_PATH_BYTES,
  MAX_PAYLOAD,
  MAX_SIG_ENTRIES,
  NONCE_SIZE,
  PacketType,
  PERM_MASK,
  SESSION_ID_SIZE,
  TWO_WAY_DIGEST_SIZE,
} from './constants';

export type FieldKind =
  /** unsigned big-endian integers */
  | 'u8'
  | 'u16'
  | 'u32'
  /** u64 read as a JS number; `max` bounds it (file sizes, byte totals) */
  | 'u64num'
  /** u64 kept as bigint (hashes) */
  | 'u64'
  /** i64 kept as bigint (mtimes in nanoseconds) */
  | 'i64'
  /** exactly `size` bytes */
  | 'fixed'
  /** HELLO's 4-byte magic, checked and not stored */
  | 'magic'
  /** rest of the payload: a relative entry path (checked by validateEntryPath) */
  | 'entryPath'
  /** u16 length, then a relative entry path (bounds include the u16) */
  | 'entryPathPrefixed'
  /** rest of the payload: a path as the user typed it (non-empty, no NUL) */
  | 'userPath'
  /** rest of the payload: NUL-separated user paths */
  | 'userPathList'
  /** rest of the payload: a symlink target (non-empty, no NUL) */
  | 'linkTarget'
  /** rest of the payload: UTF-8 text, at most MAX_ERROR_MESSAGE_BYTES */
  | 'text'
  /** rest of the payload: file data */
  | 'data'
  /** rest of the payload: u64 chunk hashes, kept as the Buffer of them (a multiple of 8 bytes) */
  | 'hashes'
  /** rest of the payload: extension bytes a later version may add; ignored */
  | 'extension'
  /** a u32 when at least 4 bytes remain, else absent (a field later builds append: PARAMS.more_features) */
  | 'optU32'
  /** rest of the payload: bytes to append to a file name (no `/`, no NUL); absent when empty */
  | 'nameSuffix'
  /** u8 length, then that many bytes of a user or group name (no NUL); bounds include the u8 */
  | 'accountName';

export interface Field {
  name: string;
  kind: FieldKind;
  size?: number;
  /** inclusive bounds for integers, and for the byte length of rest-of-payload fields */
  min?: number;
  max?: number;
}

const f = (name: string, kind: FieldKind, extra: Omit<Field, 'name' | 'kind'> = {}): Field => ({ name, kind, ...extra });

/** TWO_WAY and TWO_WAY_SIDE after their op or event: a file's mode, size, mtime, digest and path (PROTOCOL.md §7.12). */
const TWO_WAY_FIELDS: readonly Field[] = [
  f('mode', 'u16', { max: PERM_MASK }),
  f('size', 'u64num', { max: MAX_FILE_SIZE }),
  f('mtimeNs', 'i64'),
  f('digest', 'fixed', { size: TWO_WAY_DIGEST_SIZE }),
  f('path', 'data', { min: 0, max: MAX_PATH_BYTES }),
];

/** TWO_WAY_NODE and TWO_WAY_NODE_OP after their event or op: a directory's or symlink's kind, digest, path and target (PROTOCOL.md §7.12). */
const TWO_WAY_NODE_FIELDS: readonly Field[] = [
  f('kind', 'u8', { min: 1, max: 2 }),
  f('digest', 'fixed', { size: TWO_WAY_DIGEST_SIZE }),
  f('path', 'entryPathPrefixed'),
  f('target', 'data', { min: 0, max: MAX_PATH_BYTES }),
];

export const LAYOUTS: Readonly<Record<number, readonly Field[]>> = {
  [PacketType.PUSH]: [f('path', 'userPath')],
  [PacketType.PULL]: [f('paths', 'userPathList')],
  [PacketType.SESSION]: [f('sessionId', 'fixed', { size: SESSION_ID_SIZE })],
  [PacketType.ATTACH]: [f('sessionId', 'fixed', { size: SESSION_ID_SIZE }), f('connIndex', 'u16', { min: 1, max: MAX_CONNECTIONS })],
  [PacketType.MODE]: [f('flags', 'u32'), f('backupSuffix', 'nameSuffix')],
  [PacketType.DIR_INFO]: [f('perm', 'u16', { max: 0o7777 }), f('mtimeNs', 'i64'), f('path', 'entryPath')],
  [PacketType.FILE_INFO]: [
    f('fileId', 'u32'),
    f('perm', 'u16', { max: 0o7777 }),
    f('size', 'u64num', { max: MAX_FILE_SIZE }),
    f('mtimeNs', 'i64'),
    f('digest', 'fixed', { size: DIGEST_SIZE }),
    f('path', 'entryPath'),
  ],
  [PacketType.FILE_COUNT]: [f('count', 'u32'), f('totalBytes', 'u64num', { max: Number.MAX_SAFE_INTEGER })],
  [PacketType.FILE_READY]: [f('fileId', 'u32')],
  [PacketType.DATA]: [f('fileId', 'u32'), f('seq', 'u32'), f('data', 'data', { min: 1, max: DATA_FRAME_BYTES })],
  [PacketType.DATA_Z]: [
    f('fileId', 'u32'),
    f('seq', 'u32'),
    f('rawLength', 'u32', { min: 1, max: DATA_FRAME_BYTES }),
    f('data', 'data', { min: 1, max: DATA_FRAME_BYTES }),
  ],
  [PacketType.DONE]: [],
  [PacketType.ERROR]: [f('code', 'u16'), f('message', 'text')],
  [PacketType.HELLO]: [
    f('magic', 'magic'),
    f('minVersion', 'u16', { min: 1 }),
    f('maxVersion', 'u16', { min: 1 }),
    f('nonce', 'fixed', { size: NONCE_SIZE }),
    f('moreFeatures', 'optU32'),
    f('extension', 'extension'),
  ],
  [PacketType.AUTH]: [f('keyId', 'fixed', { size: KEY_ID_SIZE }), f('mac', 'fixed', { size: MAC_SIZE })],
  [PacketType.AUTH_OK]: [f('mac', 'fixed', { size: MAC_SIZE })],
  [PacketType.PARAMS]: [
    f('chunkSize', 'u32'),
    f('connections', 'u16'),
    f('hashAlgs', 'u16'),
    f('cipher', 'u8'),
    f('features', 'u32'),
    f('moreFeatures', 'optU32'),
  ],
  [PacketType.SYMLINK]: [f('mtimeNs', 'i64'), f('path', 'entryPathPrefixed'), f('target', 'linkTarget')],
  [PacketType.CHUNK_SUM]: [
    f('fileId', 'u32'),
    f('seq', 'u32'),
    f('length', 'u32', { min: 1, max: MAX_CHUNK_SIZE }),
    f('hash', 'u64'),
  ],
  [PacketType.RESEND]: [f('fileId', 'u32'), f('seq', 'u32'), f('length', 'u32', { min: 1, max: MAX_CHUNK_SIZE })],
  [PacketType.FILE_DONE]: [f('fileId', 'u32'), f('digest', 'fixed', { size: DIGEST_SIZE })],
  [PacketType.FILE_OK]: [f('fileId', 'u32')],
  [PacketType.FILE_ERROR]: [f('fileId', 'u32'), f('code', 'u16'), f('message', 'text')],
  [PacketType.BATCH]: [f('entries', 'data', { min: 2 * BATCH_ENTRY_HEADER })],
  [PacketType.KEEPALIVE]: [],
  [PacketType.FILE_SAME]: [f('fileId', 'u32')],
  [PacketType.FILE_SAME_INODE]: [f('fileId', 'u32'), f('inodeTag', 'u64')],
  [PacketType.SOURCE_KEPT]: [f('code', 'u16'), f('path', 'entryPathPrefixed'), f('message', 'text')],
  [PacketType.CHUNKS_HELD]: [f('fileId', 'u32'), f('firstIndex', 'u32'), f('hashes', 'hashes')],
  [PacketType.CHUNK_KEPT]: [f('fileId', 'u32'), f('index', 'u32')],
  [PacketType.PARTIAL_STALE]: [f('fileId', 'u32'), f('reason', 'u8', { min: 1, max: 2 })],
  [PacketType.DATA_LOST]: [f('chunks', 'u32'), f('connIndex', 'u16', { min: 1, max: MAX_CONNECTIONS })],
  [PacketType.CHUNK_ACK]: [f('chunks', 'u32'), f('connIndex', 'u16', { min: 1, max: MAX_CONNECTIONS })],
  [PacketType.DELTA_SIG]: [
    f('fileId', 'u32'),
    f('oldOffset', 'u64num', { max: MAX_FILE_SIZE }),
    f('entries', 'data', { min: DELTA_SIG_ENTRY_SIZE, max: MAX_SIG_ENTRIES * DELTA_SIG_ENTRY_SIZE }),
  ],
  [PacketType.NEW_SIG]: [
    f('fileId', 'u32'),
    f('offset', 'u64num', { max: MAX_FILE_SIZE }),
    f('entries', 'data', { min: DELTA_SIG_ENTRY_SIZE, max: MAX_SIG_ENTRIES * DELTA_SIG_ENTRY_SIZE }),
  ],
  [PacketType.DELTA_COPY]: [
    f('fileId', 'u32'),
    f('offset', 'u64num', { max: MAX_FILE_SIZE }),
    f('oldOffset', 'u64num', { max: MAX_FILE_SIZE }),
    f('length', 'u32', { min: 1, max: MAX_CHUNK_SIZE }),
  ],
  [PacketType.HOLE]: [f('fileId', 'u32'), f('seq', 'u32'), f('length', 'u32', { min: 1, max: MAX_CHUNK_SIZE })],
  [PacketType.FILE_INLINE]: [
    f('fileId', 'u32'),
    f('perm', 'u16', { max: 0o7777 }),
    f('mtimeNs', 'i64'),
    f('hash', 'u64'),
    f('path', 'entryPathPrefixed'),
    f('data', 'data', { min: 0, max: INLINE_MAX }),
  ],
  [PacketType.ENTRY_ERROR]: [f('code', 'u16'), f('path', 'entryPathPrefixed'), f('message', 'text')],
  [PacketType.HARDLINK]: [f('path', 'entryPathPrefixed'), f('target', 'entryPath')],
  [PacketType.OWNER]: [f('uid', 'u32'), f('gid', 'u32'), f('user', 'accountName'), f('group', 'accountName')],
  [PacketType.SYNC]: [f('flags', 'u32'), f('maxDelete', 'u32')],
  [PacketType.SIZE_LIMITS]: [f('minSize', 'u64num', { max: MAX_FILE_SIZE }), f('maxSize', 'u64num', { max: MAX_FILE_SIZE })],
  [PacketType.ITEM]: [f('item', 'fixed', { size: ITEM_SIZE }), f('isDir', 'u8', { max: 1 }), f('path', 'entryPath')],
  [PacketType.FILTER_RULES]: [f('maxDepth', 'u32'), f('rules', 'data', { min: 0, max: MAX_FILTER_RULES_BYTES })],
  [PacketType.LOGIN]: [f('user', 'accountName')],
  [PacketType.RENAME]: [f('from', 'entryPathPrefixed'), f('to', 'entryPath')],
  [PacketType.APPEND]: [
    f('fileId', 'u32'),
    f('offset', 'u64num', { max: MAX_FILE_SIZE }),
    f('mtimeNs', 'i64'),
    f('hash', 'u64'),
    f('data', 'data', { min: 1, max: MAX_APPEND_BYTES }),
  ],
  [PacketType.FOLLOW]: [f('event', 'u8', { min: 1, max: 5 }), f('name', 'data', { min: 0, max: MAX_PATH_BYTES })],
  [PacketType.FILES_FROM]: [f('recursive', 'u8', { max: 1 }), f('paths', 'data', { min: 1, max: MAX_FILES_FROM_BYTES })],
  [PacketType.DEST_STATE]: [f('holds', 'u8', { max: 1 })],
  [PacketType.DIR_STATE]: [f('holds', 'u8', { max: 1 }), f('path', 'entryPath')],
  [PacketType.FILE_WANT]: [f('fileId', 'u32')],
  [PacketType.FILE_WHOLE]: [f('fileId', 'u32'), f('hash', 'u64'), f('data', 'data', { min: 0, max: INLINE_MAX })],
  [PacketType.TWO_WAY]: [f('op', 'u8', { min: 1, max: 4 }), ...TWO_WAY_FIELDS],
  [PacketType.TWO_WAY_SIDE]: [f('event', 'u8', { min: 1, max: 4 }), ...TWO_WAY_FIELDS],
  [PacketType.TWO_WAY_MOVE]: [f('kind', 'u8', { min: 1, max: 4 }), f('from', 'entryPathPrefixed'), f('to', 'entryPath')],
  [PacketType.TWO_WAY_NODE]: [f('event', 'u8', { min: 1, max: 2 }), ...TWO_WAY_NODE_FIELDS],
  [PacketType.TWO_WAY_NODE_OP]: [f('op', 'u8', { min: 1, max: 6 }), ...TWO_WAY_NODE_FIELDS],
  [PacketType.TWO_WAY_SCOPE]: [f('event', 'u8', { min: 1, max: 4 }), f('path', 'data', { min: 0, max: MAX_PATH_BYTES })],
};

const FIXED_WIDTH: Partial<Record<FieldKind, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64num: 8,
  u64: 8,
  i64: 8,
  magic: 4,
};

/** Bytes a field takes when its width does not depend on the value; undefined for variable fields. */
export function fixedWidth(field: Field): number | undefined {
  return field.kind === 'fixed' ? field.size : FIXED_WIDTH[field.kind];
}

/** Smallest and largest payload a type may have, known from its header alone (frames are refused early). */
export interface PayloadBounds { min: number; max: number }

/** Byte-length bounds of the rest-of-payload and length-prefixed kinds. */
export const VARIABLE_BOUNDS: Partial<Record<FieldKind, PayloadBounds>> = {
  entryPath: { min: 1, max: MAX_PATH_BYTES },
  entryPathPrefixed: { min: 2 + 1, max: 2 + MAX_PATH_BYTES },
  userPath: { min: 1, max: MAX_PATH_BYTES },
  userPathList: { min: 1, max: MAX_PAYLOAD },
  linkTarget: { min: 1, max: MAX_PATH_BYTES },
  text: { min: 0, max: MAX_ERROR_MESSAGE_BYTES },
  hashes: { min: HASH_SIZE, max: MAX_HELD_HASHES * HASH_SIZE },
  extension: { min: 0, max: MAX_PAYLOAD },
  optU32: { min: 0, max: 4 },
  nameSuffix: { min: 0, max: MAX_BACKUP_SUFFIX_BYTES },
  accountName: { min: 1, max: 1 + MAX_ACCOUNT_NAME_BYTES },
};

export function variableBounds(field: Field): PayloadBounds {
  return field.kind === 'data' ? { min: field.min ?? 0, max: field.max ?? MAX_PAYLOAD } : VARIABLE_BOUNDS[field.kind]!;
}

/**
 * A payload's length bounds for its type (undefined: an unknown type), worked out once a type:
 * a BATCH's entries are checked one by one, and a 16-100 B file is one entry on each side (its
 * FILE_INLINE, its FILE_OK), where the walk over its fields and two objects made each time cost
 * about as much as reading the entry (docs/BENCHMARKS.md "Per-file cost, ninth round").
 */
export function payloadBounds(type: number): Readonly<PayloadBounds> | undefined {
  return BOUNDS_BY_TYPE[type];
}

function boundsOf(type: number): PayloadBounds | undefined {
  const layout = LAYOUTS[type];
  if (!layout) return undefined;
  let min = 0;
  let max = 0;
  for (const field of layout) {
    const width = fixedWidth(field);
    if (width !== undefined) {
      min += width;
      max += width;
    } else {
      const rest = variableBounds(field);
      min += rest.min;
      max += rest.max;
    }
  }
  return { min, max: Math.min(max, MAX_PAYLOAD) };
}

/** Every byte's bounds as a frame or BATCH entry type (payloadBounds). */
const BOUNDS_BY_TYPE: readonly (PayloadBounds | undefined)[] = Array.from({ length: 256 }, (_, type) => boundsOf(type));
