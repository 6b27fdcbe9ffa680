/**
 * Test vectors of docs/PROTOCOL.md section 13: named example messages, their rendering as
 * Markdown (`npm run docs:vectors` writes it between the vectors markers) and the parser that
 * docVectors.test.ts uses to check the document against the code.
 *
 * Uses no jest API, so scripts/docs-vectors.ts can run it after a plain tsc build.
 */
import { wireFromCode } from '../../../src/errors';
import {
  ChksumCoverage,
  ChksumCoverageValue,
  Cipher,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_CONNECTIONS,
  DIGEST_SIZE,
  Feature,
  HashAlg,
  MoreFeature,
  KEY_ID_SIZE,
  MAC_SIZE,
  ModeFlag,
  NONCE_SIZE,
  PacketType,
  PROTOCOL_VERSION,
  SealingCipher,
  SESSION_ID_SIZE,
} from '../../../src/protocol/constants';
import type { Sealing } from '../../../src/protocol/frameCipher';
import { batchOf } from '../../../src/protocol/batch';
import { FrameDecoder } from '../../../src/protocol/frameDecoder';
import { FrameEncoder } from '../../../src/protocol/frameEncoder';
import { LAYOUTS } from '../../../src/protocol/layouts';
import type { Message } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';

export const VECTORS_BEGIN = '<!-- vectors:begin -->';
export const VECTORS_END = '<!-- vectors:end -->';

/** A frame of the document: when `key` is set, the payload is sealed as the first frame (n = 0) of its direction. */
export interface Vector extends Channel {
  name: string;
  message: Message;
}

export interface ParsedVector extends Vector {
  bytes: Buffer;
}

const fill = (size: number, byte: number) => Buffer.alloc(size, byte);
const path = (s: string) => Buffer.from(s, 'utf8');
const { FULL, HEADER } = ChksumCoverage;
const MTIME_NS = 1700000000123456789n; // 2023-11-14T22:13:20.123456789Z
/** The AES-256-GCM key of the sealed examples. */
const KEY = fill(32, 0x77);

const plain = (name: string, message: Message): Vector => ({ name, coverage: FULL, message });

/** At least one vector per packet type (docVectors.test.ts checks that), then special cases. */
export const VECTORS: readonly Vector[] = [
  plain('PUSH', { type: PacketType.PUSH, path: path('/srv/backup') }),
  plain('PULL (two sources)', { type: PacketType.PULL, paths: [path('/etc/hosts'), path('notes.txt')] }),
  plain('SESSION', { type: PacketType.SESSION, sessionId: fill(SESSION_ID_SIZE, 0x22) }),
  plain('ATTACH', { type: PacketType.ATTACH, sessionId: fill(SESSION_ID_SIZE, 0x22), connIndex: 2 }),
  plain('MODE (recursive, destination is a directory)', {
    type: PacketType.MODE,
    flags: ModeFlag.RECURSIVE | ModeFlag.DEST_IS_DIR,
  }),
  plain('MODE (recursive, backup with suffix ~)', {
    type: PacketType.MODE,
    flags: ModeFlag.RECURSIVE | ModeFlag.BACKUP,
    backupSuffix: path('~'),
  }),
  plain('DIR_INFO', { type: PacketType.DIR_INFO, perm: 0o755, mtimeNs: 1700000000000000000n, path: path('dir') }),
  plain('DIR_INFO (setgid, name not UTF-8)', {
    type: PacketType.DIR_INFO,
    perm: 0o2775,
    mtimeNs: 0n,
    path: Buffer.from('dir/caf\xe9', 'latin1'),
  }),
  plain('FILE_INFO', {
    type: PacketType.FILE_INFO,
    fileId: 1,
    perm: 0o644,
    size: 16,
    mtimeNs: MTIME_NS,
    digest: fill(DIGEST_SIZE, 0),
    path: path('dir/file name.txt'),
  }),
  plain('FILE_COUNT', { type: PacketType.FILE_COUNT, count: 1, totalBytes: 16 }),
  plain('FILE_READY', { type: PacketType.FILE_READY, fileId: 1 }),
  plain('DATA (16 bytes)', {
    type: PacketType.DATA,
    fileId: 1,
    seq: 0,
    data: Buffer.from(Array.from({ length: 16 }, (_, i) => i)),
  }),
  // 'fcp ' 16 times (64 bytes), raw deflate level 1: 9 bytes.
  plain('DATA_Z (64 bytes in 9)', { type: PacketType.DATA_Z, fileId: 1, seq: 0, rawLength: 64, data: Buffer.from('4b4b2e5048a3000300', 'hex') }),
  plain('CHUNK_SUM', { type: PacketType.CHUNK_SUM, fileId: 1, seq: 0, length: 16, hash: 0x0123456789abcdefn }),
  plain('RESEND', { type: PacketType.RESEND, fileId: 1, seq: 0, length: 16 }),
  plain('FILE_DONE', { type: PacketType.FILE_DONE, fileId: 1, digest: fill(DIGEST_SIZE, 0x66) }),
  plain('FILE_OK', { type: PacketType.FILE_OK, fileId: 1 }),
  plain('FILE_SAME', { type: PacketType.FILE_SAME, fileId: 1 }),
  plain('FILE_SAME_INODE', { type: PacketType.FILE_SAME_INODE, fileId: 1, inodeTag: 0x0123456789abcdefn }),
  plain('SOURCE_KEPT (a source that grew while it was read)', {
    type: PacketType.SOURCE_KEPT,
    code: wireFromCode('FCP_ERR_SOURCE_CHANGED'),
    path: path('dir/a.txt'),
    message: 'it grew while it was read',
  }),
  plain('CHUNKS_HELD (chunks 4 and 5)', {
    type: PacketType.CHUNKS_HELD,
    fileId: 1,
    firstIndex: 4,
    hashes: Buffer.from('0123456789abcdeffedcba9876543210', 'hex'),
  }),
  plain('CHUNK_KEPT', { type: PacketType.CHUNK_KEPT, fileId: 1, index: 4 }),
  plain('PARTIAL_STALE (the source changed)', { type: PacketType.PARTIAL_STALE, fileId: 1, reason: 1 }),
  plain('DATA_LOST', { type: PacketType.DATA_LOST, connIndex: 2, chunks: 300 }),
  plain('CHUNK_ACK', { type: PacketType.CHUNK_ACK, connIndex: 2, chunks: 256 }),
  plain('DELTA_SIG (two blocks from old offset 0)', {
    type: PacketType.DELTA_SIG,
    fileId: 1,
    oldOffset: 0,
    entries: Buffer.from('000100000123456789abcdef00008000fedcba9876543210', 'hex'),
  }),
  plain('NEW_SIG (the new file\'s first two blocks)', {
    type: PacketType.NEW_SIG,
    fileId: 1,
    offset: 0,
    entries: Buffer.from('000100000123456789abcdef00008000fedcba9876543210', 'hex'),
  }),
  plain('DELTA_COPY', { type: PacketType.DELTA_COPY, fileId: 1, offset: 73728, oldOffset: 65636, length: 40960 }),
  plain('HOLE', { type: PacketType.HOLE, fileId: 1, seq: 8, length: 16384 }),
  plain('FILE_ERROR', {
    type: PacketType.FILE_ERROR,
    fileId: 2,
    code: wireFromCode('FCP_ERR_PERMISSION'),
    message: 'permission denied: dir/secret',
  }),
  plain('SYMLINK (mtime before 1970)', {
    type: PacketType.SYMLINK,
    mtimeNs: -1_000_000_000n,
    path: path('dir/link'),
    target: path('file name.txt'),
  }),
  plain('FILE_INLINE (a 5-byte file)', {
    type: PacketType.FILE_INLINE,
    fileId: 3,
    perm: 0o600,
    mtimeNs: 1_700_000_000_000_000_000n,
    hash: 0x26c7827d889f6da3n, // xxh64 of "hello"
    path: path('dir/a.txt'),
    data: Buffer.from('hello', 'latin1'),
  }),
  plain('ENTRY_ERROR (a FIFO the sender skipped)', {
    type: PacketType.ENTRY_ERROR,
    code: wireFromCode('FCP_ERR_IO'),
    path: path('dir/pipe'),
    message: 'dir/pipe is a FIFO; skipped',
  }),
  plain('HARDLINK (a second name of dir/a.txt)', { type: PacketType.HARDLINK, path: path('dir/b.txt'), target: path('dir/a.txt') }),
  plain('OWNER (nobody:nogroup)', { type: PacketType.OWNER, uid: 65534, gid: 65534, user: path('nobody'), group: path('nogroup') }),
  plain('SYNC (--delete --checksum, no --max-delete)', { type: PacketType.SYNC, flags: 0x11, maxDelete: 0xffffffff }),
  plain('SIZE_LIMITS (--max-size 1M, no --min-size)', { type: PacketType.SIZE_LIMITS, minSize: 0, maxSize: 1048576 }),
  plain('ITEM (>f.st...... dir/a)', { type: PacketType.ITEM, item: path('>f.st......'), isDir: 0, path: path('dir/a') }),
  plain('FILTER_RULES (max depth 2; + keep/***, - *.tmp)', { type: PacketType.FILTER_RULES, maxDepth: 2, rules: Buffer.from('+ keep/***\0- *.tmp', 'latin1') }),
  plain('FILES_FROM (not recursive; a/b.txt, c)', { type: PacketType.FILES_FROM, recursive: 0, paths: Buffer.from('a/b.txt\0c', 'latin1') }),
  plain('DEST_STATE (the destination holds entries)', { type: PacketType.DEST_STATE, holds: 1 }),
  plain('DIR_STATE (the top-level directory dir was made now)', { type: PacketType.DIR_STATE, holds: 0, path: path('dir') }),
  plain('FILE_WANT (file_id 7, to come whole)', { type: PacketType.FILE_WANT, fileId: 7 }),
  plain('FILE_WHOLE (file_id 7: hello)', { type: PacketType.FILE_WHOLE, fileId: 7, hash: 0x26c7827d889f6da3n, data: path('hello') }),
  plain('TWO_WAY (RECORD dir/a.txt: 5 bytes, 0644)', {
    type: PacketType.TWO_WAY,
    op: 3,
    mode: 0o644,
    size: 5,
    mtimeNs: 1_700_000_000_000_000_000n,
    digest: Buffer.from('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', 'hex'), // sha256 of "hello"
    path: path('dir/a.txt'),
  }),
  plain('TWO_WAY_SIDE (LISTED, whole)', { type: PacketType.TWO_WAY_SIDE, event: 3, mode: 1, size: 0, mtimeNs: 0n, digest: Buffer.alloc(32), path: Buffer.alloc(0) }),
  plain('LOGIN (user alice)', { type: PacketType.LOGIN, user: path('alice') }),
  plain('TWO_WAY_MOVE (MAKE dir/a.txt to dir/b.txt)', { type: PacketType.TWO_WAY_MOVE, kind: 2, from: path('dir/a.txt'), to: path('dir/b.txt') }),
  plain('TWO_WAY_NODE (ENTRY, symlink dir/l to ../a.txt)', {
    type: PacketType.TWO_WAY_NODE,
    event: 1,
    kind: 2,
    digest: Buffer.from('bc05b2ec3b800610bf381243345db160f4d6a32b9120e1397a29e670e7259ca4', 'hex'),
    path: path('dir/l'),
    target: path('../a.txt'), // sha256 of the target above
  }),
  plain('TWO_WAY_NODE_OP (MKDIR dir/sub)', { type: PacketType.TWO_WAY_NODE_OP, op: 2, kind: 1, digest: Buffer.alloc(32), path: path('dir/sub'), target: Buffer.alloc(0) }),
  plain('RENAME (src/a.txt to src/b.txt)', { type: PacketType.RENAME, from: path('src/a.txt'), to: path('src/b.txt') }),
  plain('APPEND (file 3 grew by "hello" at 5)', {
    type: PacketType.APPEND,
    fileId: 3,
    offset: 5,
    mtimeNs: 1_700_000_000_000_000_000n,
    hash: 0x26c7827d889f6da3n, // xxh64 of "hello"
    data: Buffer.from('hello', 'latin1'),
  }),
  plain('FOLLOW (REWRITTEN dir/a.log)', { type: PacketType.FOLLOW, event: 3, name: path('dir/a.log') }),
  plain('FOLLOW (STOP)', { type: PacketType.FOLLOW, event: 5, name: Buffer.alloc(0) }),
  plain('DONE', { type: PacketType.DONE }),
  plain('ERROR', { type: PacketType.ERROR, code: wireFromCode('FCP_ERR_NOT_FOUND'), message: 'no such file: /srv/nope' }),
  plain('HELLO', {
    type: PacketType.HELLO,
    minVersion: PROTOCOL_VERSION,
    maxVersion: PROTOCOL_VERSION,
    nonce: fill(NONCE_SIZE, 0x11),
  }),
  plain('HELLO (a client offering more_features TWO_WAY_NARROW)', {
    type: PacketType.HELLO,
    minVersion: PROTOCOL_VERSION,
    maxVersion: PROTOCOL_VERSION,
    nonce: fill(NONCE_SIZE, 0x11),
    moreFeatures: MoreFeature.TWO_WAY_NARROW,
  }),
  plain('AUTH', { type: PacketType.AUTH, keyId: fill(KEY_ID_SIZE, 0x33), mac: fill(MAC_SIZE, 0x44) }),
  plain('AUTH_OK', { type: PacketType.AUTH_OK, mac: fill(MAC_SIZE, 0x55) }),
  plain('PARAMS (client offer)', {
    type: PacketType.PARAMS,
    chunkSize: DEFAULT_CHUNK_SIZE,
    connections: DEFAULT_CONNECTIONS,
    hashAlgs: HashAlg.XXH64,
    cipher: Cipher.AES_256_GCM,
    features: Feature.HEADER_CHKSUM,
  }),
  plain('PARAMS (server answer with more_features TWO_WAY_NARROW)', {
    type: PacketType.PARAMS,
    chunkSize: DEFAULT_CHUNK_SIZE,
    connections: 1,
    hashAlgs: HashAlg.XXH64,
    cipher: Cipher.AES_256_GCM,
    features: Feature.HEADER_CHKSUM | Feature.TWO_WAY | Feature.TWO_WAY_TREE,
    moreFeatures: MoreFeature.TWO_WAY_NARROW,
  }),
  plain('TWO_WAY_SCOPE (PATH dir/a)', { type: PacketType.TWO_WAY_SCOPE, event: 1, path: path('dir/a') }),
  plain('TWO_WAY_SCOPE (LIST)', { type: PacketType.TWO_WAY_SCOPE, event: 2, path: Buffer.alloc(0) }),
  plain('TWO_WAY_SCOPE (SWEEP)', { type: PacketType.TWO_WAY_SCOPE, event: 4, path: Buffer.alloc(0) }),
  plain('KEEPALIVE', { type: PacketType.KEEPALIVE }),
  plain('BATCH (FILE_READY 1, FILE_OK 0)', batchOf([
    { type: PacketType.FILE_READY, fileId: 1 },
    { type: PacketType.FILE_OK, fileId: 0 },
  ])),
  {
    name: 'FILE_READY (sealed, header coverage: an encrypted connection with HEADER_CHKSUM)',
    coverage: HEADER,
    key: KEY,
    message: { type: PacketType.FILE_READY, fileId: 1 },
  },
  {
    name: 'FILE_READY (sealed, full coverage: an encrypted connection without HEADER_CHKSUM)',
    coverage: FULL,
    key: KEY,
    message: { type: PacketType.FILE_READY, fileId: 1 },
  },
  {
    // Section 2: the checksum covers the header and the first 8 bytes of the ciphertext.
    name: 'DATA (sealed, full coverage: the checksum covers the first 8 bytes of the ciphertext)',
    coverage: FULL,
    key: KEY,
    message: { type: PacketType.DATA, fileId: 1, seq: 0, data: Buffer.from('0123456789abcdef', 'hex') },
  },
  {
    name: 'FILE_READY (sealed with ChaCha20-Poly1305, header coverage)',
    coverage: HEADER,
    key: KEY,
    cipher: Cipher.CHACHA20_POLY1305,
    message: { type: PacketType.FILE_READY, fileId: 1 },
  },
];

// --- messages <-> JSON -----------------------------------------------------------------------

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

/** JSON-able form: Buffers as {hex}, bigints as "<digits>n". Also how tests compare messages by content. */
export function toPlain(value: unknown): Plain {
  if (Buffer.isBuffer(value)) return { hex: value.toString('hex') };
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, toPlain(v)]));
  }
  return value as Plain;
}

function fromHex(value: Plain, where: string): Buffer {
  const hex = value !== null && typeof value === 'object' && !Array.isArray(value) ? value.hex : undefined;
  if (typeof hex !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`${where}: expected {"hex": "<lowercase hex>"}`);
  return Buffer.from(hex, 'hex');
}

/**
 * The message a plain object stands for. Which fields are Buffers or bigints comes from the
 * type's layout, not from the values' shape, so a text field that reads "5n" stays a string.
 */
export function fromPlain(plain: Plain, where = 'message'): Message {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain) || typeof plain.type !== 'number') {
    throw new Error(`${where}: expected an object with a numeric "type"`);
  }
  const layout = LAYOUTS[plain.type];
  if (!layout) throw new Error(`${where}: unknown type ${plain.type}`);
  const message: Record<string, unknown> = { ...plain };
  for (const { name, kind } of layout) {
    const value = plain[name];
    if (value === undefined) continue;
    const at = `${where}.${name}`;
    if (kind === 'u64' || kind === 'i64') {
      if (typeof value !== 'string' || !/^-?\d+n$/.test(value)) throw new Error(`${at}: expected "<integer>n"`);
      message[name] = BigInt(value.slice(0, -1));
    } else if (kind === 'userPathList') {
      if (!Array.isArray(value)) throw new Error(`${at}: expected an array`);
      message[name] = value.map((v, i) => fromHex(v, `${at}[${i}]`));
    } else if (['fixed', 'entryPath', 'entryPathPrefixed', 'userPath', 'linkTarget', 'data', 'nameSuffix', 'accountName', 'hashes'].includes(kind)) {
      message[name] = fromHex(value, at);
    }
  }
  return message as unknown as Message;
}

// --- bytes ------------------------------------------------------------------------------------

/** How a connection frames: checksum coverage, and the key (and cipher, AES-256-GCM unless set) when frames are sealed. */
export interface Channel {
  coverage: ChksumCoverageValue;
  key?: Buffer;
  cipher?: SealingCipher;
}

const sealingOf = ({ key, cipher }: Channel): Sealing | undefined => key && { cipher: cipher ?? Cipher.AES_256_GCM, key };

export function encoderFor(xxh: XXHashAPI, channel: Channel): FrameEncoder {
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing(sealingOf(channel), channel.coverage);
  return encoder;
}

export function decoderFor(xxh: XXHashAPI, channel: Channel): FrameDecoder {
  const decoder = new FrameDecoder(xxh);
  decoder.setSealing(sealingOf(channel), channel.coverage);
  return decoder;
}

/** How the vectors name a cipher. */
const CIPHER_NAMES: Record<SealingCipher, string> = { [Cipher.AES_256_GCM]: 'AES-256-GCM', [Cipher.CHACHA20_POLY1305]: 'ChaCha20-Poly1305' };

/** The frames of `messages` as one fresh connection sends them (so frame n is sealed with nonce n). */
export function encodeMessages(xxh: XXHashAPI, messages: readonly Message[], channel: Channel): Buffer[] {
  const encoder = encoderFor(xxh, channel);
  return messages.map((message) => encoder.encode(message));
}

/**
 * Feeds `slices` to a fresh decoder, then ends the stream; returns every message, parsed.
 * Buffers in the messages may be views into `slices`.
 */
export function decodeSlices(xxh: XXHashAPI, slices: readonly Buffer[], channel: Channel): Message[] {
  const decoder = decoderFor(xxh, channel);
  const messages: Message[] = [];
  for (const slice of slices) {
    decoder.push(slice);
    for (let frame = decoder.next(); frame; frame = decoder.next()) {
      messages.push(parsePayload(frame.type, frame.payload));
    }
  }
  decoder.end();
  return messages;
}

// --- Markdown ---------------------------------------------------------------------------------

const COVERAGE_NAMES: Record<ChksumCoverageValue, string> = { [FULL]: 'full', [HEADER]: 'header' };

/** Lowercase hex, 16 bytes per line, bytes separated by one space. */
export function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let pos = 0; pos < bytes.length; pos += 16) {
    lines.push(Array.from(bytes.subarray(pos, pos + 16), (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return lines.join('\n');
}

const PREAMBLE = [
  'Each vector is one frame: `coverage` is what its checksum covers (section 2); `message` is the',
  'message as JSON, with `type` the flag value, byte strings as `{"hex": ...}` and u64 hashes and',
  'i64 mtimes as decimal strings ending in `n`; `cipher` and `key`, on sealed vectors only, are the',
  'cipher and key (section 6), and the frame is the first one sealed in its direction (n = 0).',
].join('\n');

/** Section 13 of docs/PROTOCOL.md, as it goes between the vectors markers. */
export async function renderVectorsMarkdown(): Promise<string> {
  const xxh = await loadXxhash();
  const vectors = VECTORS.map(({ name, message, ...channel }) =>
    [
      `#### ${name}`,
      `coverage: ${COVERAGE_NAMES[channel.coverage]}`,
      ...(channel.key ? [`cipher: ${CIPHER_NAMES[channel.cipher ?? Cipher.AES_256_GCM]}`, `key: ${channel.key.toString('hex')}`] : []),
      `message: ${JSON.stringify(toPlain(message))}`,
      '```hex',
      hexDump(encodeMessages(xxh, [message], channel)[0]!),
      '```',
    ].join('\n'),
  );
  return [PREAMBLE, ...vectors].join('\n\n');
}

/**
 * Parses the format renderVectorsMarkdown writes (text before the first vector is skipped);
 * throws, naming the line, on anything else.
 */
export function parseVectorsMarkdown(md: string): ParsedVector[] {
  const lines = md.split('\n');
  const vectors: ParsedVector[] = [];
  let i = lines.findIndex((line) => line.startsWith('#### '));
  if (i < 0) return vectors;
  const fail = (what: string): never => {
    throw new Error(`test vectors, line ${i + 1}: expected ${what}, found ${JSON.stringify(lines[i] ?? '<end>')}`);
  };
  const take = (pattern: RegExp, what: string): string => {
    const match = pattern.exec(lines[i] ?? '');
    if (!match) fail(what);
    i++;
    return match![1] ?? '';
  };
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    const name = take(/^#### (.+)$/, '"#### NAME"');
    const coverage = take(/^coverage: (full|header)$/, '"coverage: full" or "coverage: header"') === 'full' ? FULL : HEADER;
    const cipherName = lines[i]?.startsWith('cipher: ') ? take(/^cipher: (AES-256-GCM|ChaCha20-Poly1305)$/, 'a cipher name') : undefined;
    const cipher = (Object.keys(CIPHER_NAMES).map(Number) as SealingCipher[]).find((c) => CIPHER_NAMES[c] === cipherName);
    const key = cipher ? Buffer.from(take(/^key: ((?:[0-9a-f]{2}){32})$/, 'a 32-byte hex key'), 'hex') : undefined;
    const messageLine = i;
    const json = take(/^message: (\{.*\})$/, '"message: {...}"');
    let message: Message;
    try {
      message = fromPlain(JSON.parse(json) as Plain, name);
    } catch (err) {
      throw new Error(`test vectors, line ${messageLine + 1}: ${(err as Error).message}`);
    }
    take(/^```hex$/, '"```hex"');
    const tokens: string[] = [];
    while (i < lines.length && lines[i] !== '```') {
      tokens.push(...take(/^((?:[0-9a-f]{2} )*[0-9a-f]{2})$/, 'hex bytes separated by single spaces').split(' '));
    }
    take(/^(```)$/, 'closing "```"');
    vectors.push({ name, coverage, ...(key && { key, cipher }), message, bytes: Buffer.from(tokens.join(''), 'hex') });
  }
  return vectors;
}

// --- the document -----------------------------------------------------------------------------

/** Splits a document around its vectors markers; `inside` is the text between the marker lines. */
/** The text between a `begin` line and an `end` line of the document. */
export function splitAtMarkers(doc: string, begin: string, end: string): { before: string; inside: string; after: string } {
  const start = doc.indexOf(`\n${begin}\n`);
  const stop = doc.indexOf(`\n${end}`, start + 1);
  if (start < 0 || stop < 0) {
    throw new Error(`the document has no "${begin}" line followed by a "${end}" line`);
  }
  const insideStart = start + begin.length + 2;
  return { before: doc.slice(0, insideStart), inside: doc.slice(insideStart, stop + 1), after: doc.slice(stop + 1) };
}

/** The document with the text between the two markers replaced by `body`. */
export function replaceBetween(doc: string, begin: string, end: string, body: string): string {
  const { before, after } = splitAtMarkers(doc, begin, end);
  return `${before}\n${body}\n\n${after}`;
}

export function splitAtVectors(doc: string): { before: string; inside: string; after: string } {
  return splitAtMarkers(doc, VECTORS_BEGIN, VECTORS_END);
}

/** The document with the text between its vectors markers replaced by `body`. */
export function replaceVectors(doc: string, body: string): string {
  return replaceBetween(doc, VECTORS_BEGIN, VECTORS_END, body);
}
