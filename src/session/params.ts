/** Session parameter negotiation (PROTOCOL.md §5.2): the server's answer and the client's check of it. */
import { FcpError } from '../errors';
import {
  ChksumCoverage,
  ChksumCoverageValue,
  Cipher,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_CONNECTIONS,
  Feature,
  MAX_CHUNK_SIZE,
  MAX_CONNECTIONS,
  MIN_CHUNK_SIZE,
  MIN_CONNECTIONS,
  MoreFeature,
  OPTIONAL_FEATURE_BITS,
  PacketType,
  SealingCipher,
  SUPPORTED_FEATURES,
  SUPPORTED_MORE_FEATURES,
  SUPPORTED_HASH_ALGS,
} from '../protocol/constants';
import type { ParamsMessage } from '../protocol/messages';
import { CHUNKS_PER_CONNECTION } from './buffering';
import { TUNE_MAX } from './connectionTuner';

const MiB = 1024 * 1024;
/** Bytes of chunk buffers one fcpd session may hold, whatever its client offers. */
export const SESSION_MEMORY_BUDGET = 256 * MiB;
/** Bytes of chunk buffers one fcpd process (a standing daemon: all its sessions together) may hold. */
export const SERVER_MEMORY_BUDGET = 1024 * MiB;

/** What a server allows; the defaults take any valid offer. */
export interface ServerPolicy {
  maxChunkSize?: number;
  maxConnections?: number;
  requireEncryption?: boolean;
  /** Bytes the session's chunk buffers may take (sessionMemory of the answer); no bound when left out. */
  memoryBudget?: number;
}

/** A session's shape as far as its memory goes. */
export type SessionShape = Pick<ParamsMessage, 'chunkSize' | 'connections'>;

/** Bytes of chunk buffers a session of this shape may hold on either side (src/session/buffering.ts). */
export function sessionMemory(shape: SessionShape): number {
  return shape.connections * shape.chunkSize * CHUNKS_PER_CONNECTION;
}

/**
 * The largest shape within `limit` (chunk_size and connections at most its, chunk_size a power of
 * two of at least MIN_CHUNK_SIZE) whose buffers fit `budget`: chunk_size is lowered first, down to
 * MIN_CHUNK_SIZE, then connections. Undefined when one connection of MIN_CHUNK_SIZE chunks does
 * not fit.
 */
export function fitMemory(limit: SessionShape, budget: number): SessionShape | undefined {
  const perConnection = (chunkSize: number): number => sessionMemory({ chunkSize, connections: 1 });
  let chunkSize = limit.chunkSize;
  while (chunkSize > MIN_CHUNK_SIZE && limit.connections * perConnection(chunkSize) > budget) chunkSize /= 2;
  const connections = Math.min(limit.connections, Math.floor(budget / perConnection(chunkSize)));
  return connections < MIN_CONNECTIONS ? undefined : { chunkSize, connections };
}

/** A byte count for logs and refusals: whole MiB from 1 MiB up, else whole KiB (rounded down). */
export function sizeText(bytes: number): string {
  return bytes >= MiB ? `${Math.floor(bytes / MiB)} MiB` : `${Math.floor(bytes / 1024)} KiB`;
}

/** "64 connections of 1 MiB chunks", for logs. */
export function describeShape(shape: SessionShape): string {
  return `${shape.connections} connection${shape.connections === 1 ? '' : 's'} of ${sizeText(shape.chunkSize)} chunks`;
}

export function isChunkSize(value: number): boolean {
  return value >= MIN_CHUNK_SIZE && value <= MAX_CHUNK_SIZE && (value & (value - 1)) === 0;
}

/**
 * The client's offer; `cipher` is the one used when encrypting (default AES-256-GCM). Features
 * that only some copies use (hardLinks: -H; compress: -C; owners: on a push, and on a pull by root; delta: without -W) are offered
 * only then, so that an fcpd that predates them still serves the copies that do without.
 */
export function makeOffer(options: {
  chunkSize?: number;
  /** Pinned (-n); when left out, TUNE_MAX with GROW for a session that tunes them, else DEFAULT_CONNECTIONS. */
  connections?: number;
  /** The client tunes its data connections while the transfer runs (feature GROW) unless `connections` pins them. */
  tune?: boolean;
  encrypt: boolean;
  cipher?: SealingCipher;
  hardLinks?: boolean;
  /** The sender is to say who owns what it sends (OWNER). */
  owners?: boolean;
  /** -C: DATA frames that deflate smaller travel as DATA_Z. */
  compress?: boolean;
  /** The client sends FILTER_RULES (--exclude, --include, --max-depth). */
  filters?: boolean;
  /** A changed file the destination holds an older version of goes as a delta (not with -W/--whole-file). */
  delta?: boolean;
  /** A sync (PROTOCOL.md §7.8): SYNC goes before the request. */
  sync?: boolean;
  /** --follow (PROTOCOL.md §7.10): the files are followed after the copy. */
  follow?: boolean;
  /** A pull with --files-from (PROTOCOL.md §7.11): FILES_FROM goes before the request. */
  filesFrom?: boolean;
}): ParamsMessage {
  const tune = options.tune === true && options.connections === undefined;
  return {
    type: PacketType.PARAMS,
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
    connections: options.connections ?? (tune ? TUNE_MAX : DEFAULT_CONNECTIONS),
    hashAlgs: SUPPORTED_HASH_ALGS,
    cipher: options.encrypt ? (options.cipher ?? Cipher.AES_256_GCM) : Cipher.NONE,
    features:
      Feature.BATCH |
      Feature.INLINE |
      Feature.DEST_STATE |
      Feature.QUICK_CHECK |
      Feature.RESUME |
      Feature.RECONNECT |
      Feature.SPARSE |
      Feature.STREAM |
      (options.encrypt ? Feature.HEADER_CHKSUM : 0) |
      (options.hardLinks ? Feature.HARD_LINKS : 0) |
      (options.owners ? Feature.OWNERS : 0) |
      (options.compress ? Feature.COMPRESS : 0) |
      (options.filters ? Feature.FILTERS : 0) |
      (options.delta ? Feature.DELTA | Feature.SIG_CACHE | Feature.DELTA_EARLY : 0) |
      (options.sync ? Feature.SYNC : 0) |
      (options.follow ? Feature.FOLLOW : 0) |
      (options.filesFrom ? Feature.FILES_FROM : 0) |
      (tune ? Feature.GROW : 0),
  };
}

/** The FCP_ERR_PARAMS error with which a server refuses an offer. */
export function refuseParams(reason: string): FcpError {
  return new FcpError('FCP_ERR_PARAMS', `session parameters refused: ${reason}`);
}

/** Why an offer is malformed, or undefined when it is well formed. */
function offerProblem(offer: ParamsMessage): string | undefined {
  if (!isChunkSize(offer.chunkSize)) {
    return `chunk size ${offer.chunkSize} is not a power of two in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`;
  }
  if (offer.connections < MIN_CONNECTIONS || offer.connections > MAX_CONNECTIONS) {
    return `${offer.connections} connections is outside ${MIN_CONNECTIONS}..${MAX_CONNECTIONS}`;
  }
  if ((offer.hashAlgs & SUPPORTED_HASH_ALGS) === 0) return `no chunk hash in common (offered 0x${offer.hashAlgs.toString(16)})`;
  if (!(Object.values(Cipher) as number[]).includes(offer.cipher)) return `unknown cipher ${offer.cipher}`;
  // Optional features this server lacks are left out of the answer; an unknown framing feature cannot be.
  const unknownFraming = offer.features & ~OPTIONAL_FEATURE_BITS & ~SUPPORTED_FEATURES;
  if (unknownFraming !== 0) return `unknown framing feature bits 0x${unknownFraming.toString(16)}`;
  return undefined;
}

/** The largest chunk size the protocol allows that is at most limit (the minimum when limit is below it). */
function chunkSizeAtMost(limit: number): number {
  let size = MAX_CHUNK_SIZE;
  while (size > MIN_CHUNK_SIZE && size > limit) size /= 2;
  return size;
}

/** The server's answer to an offer under its policy, or the FCP_ERR_PARAMS error refusing it. */
export function answerOffer(offer: ParamsMessage, policy: ServerPolicy = {}): ParamsMessage | FcpError {
  const problem = offerProblem(offer);
  if (problem) return refuseParams(problem);
  if (policy.requireEncryption && offer.cipher === Cipher.NONE) {
    return refuseParams('this server requires encryption; leave out --no-encrypt');
  }
  const lowestBit = offer.hashAlgs & SUPPORTED_HASH_ALGS & -(offer.hashAlgs & SUPPORTED_HASH_ALGS);
  // Policy limits are rounded into what §5.2 allows, so the client never refuses the answer.
  const limit = {
    chunkSize: Math.min(offer.chunkSize, chunkSizeAtMost(policy.maxChunkSize ?? MAX_CHUNK_SIZE)),
    connections: Math.min(offer.connections, Math.max(MIN_CONNECTIONS, policy.maxConnections ?? MAX_CONNECTIONS)),
  };
  const shape = policy.memoryBudget === undefined ? limit : fitMemory(limit, policy.memoryBudget);
  if (!shape) {
    const smallest = sessionMemory({ chunkSize: MIN_CHUNK_SIZE, connections: MIN_CONNECTIONS });
    return refuseParams(
      `the server has ${sizeText(policy.memoryBudget!)} of buffer memory left for a new session, less than the ` +
        `${sizeText(smallest)} of the smallest one; try again when one of its transfers has ended`,
    );
  }
  const more = offer.moreFeatures === undefined ? {} : { moreFeatures: (offer.moreFeatures & SUPPORTED_MORE_FEATURES) >>> 0 };
  return { ...offer, ...shape, hashAlgs: lowestBit, features: offer.features & SUPPORTED_FEATURES, ...more };
}

const isSingleBit = (value: number): boolean => value !== 0 && (value & (value - 1)) === 0;

/** The client's check of the server's answer: undefined when it keeps the rules, else the error. */
export function checkAnswer(offer: ParamsMessage, answer: ParamsMessage): FcpError | undefined {
  const hex = (value: number): string => `0x${value.toString(16)}`;
  const rules: [broken: boolean, what: string][] = [
    [!isChunkSize(answer.chunkSize) || answer.chunkSize > offer.chunkSize, `chunk size ${answer.chunkSize} for an offer of ${offer.chunkSize}`],
    [answer.connections < MIN_CONNECTIONS || answer.connections > offer.connections, `${answer.connections} connections for an offer of ${offer.connections}`],
    [!isSingleBit(answer.hashAlgs) || (answer.hashAlgs & offer.hashAlgs) === 0, `hash choice ${hex(answer.hashAlgs)} for an offer of ${hex(offer.hashAlgs)}`],
    [answer.cipher !== offer.cipher, `cipher ${answer.cipher} for an offer of ${offer.cipher}`],
    [
      (answer.features & ~OPTIONAL_FEATURE_BITS) !== (offer.features & ~OPTIONAL_FEATURE_BITS) || (answer.features & ~offer.features) !== 0,
      `features ${hex(answer.features)} for an offer of ${hex(offer.features)}`,
    ],
    [
      // Absent from an older server's answer: none of the word's features.
      answer.moreFeatures !== undefined && (offer.moreFeatures === undefined || (answer.moreFeatures & ~offer.moreFeatures) !== 0),
      `more_features ${answer.moreFeatures === undefined ? 'absent' : hex(answer.moreFeatures)} for an offer of ${offer.moreFeatures === undefined ? 'none' : hex(offer.moreFeatures)}`,
    ],
  ];
  const broken = rules.find(([isBroken]) => isBroken);
  return broken && new FcpError('FCP_ERR_PARAMS', `server answered with invalid parameters: ${broken[1]}`);
}

/** Checksum coverage of sealed frames under these parameters. */
export function sealedCoverage(params: ParamsMessage): ChksumCoverageValue {
  return params.features & Feature.HEADER_CHKSUM ? ChksumCoverage.HEADER : ChksumCoverage.FULL;
}

/**
 * More feature DEST_EMPTY (PROTOCOL.md §7.4), which only a pull uses: the pulling client's
 * destination held nothing when it offered the bit, and the server answered it, so the sender
 * takes that as DEST_STATE(0) and the receiver sends no DEST_STATE.
 */
export function destinationEmptyAgreed(params: ParamsMessage): boolean {
  return (params.features & Feature.DEST_STATE) !== 0 && ((params.moreFeatures ?? 0) & MoreFeature.DEST_EMPTY) !== 0;
}

/**
 * More feature DIR_STATE (PROTOCOL.md §7.4): after DEST_STATE(1) the receiver answers each
 * top-level DIR_INFO with DIR_STATE, and small files below one it made now go inline.
 */
export function directoryStateAgreed(params: ParamsMessage): boolean {
  return (params.features & Feature.DEST_STATE) !== 0 && ((params.moreFeatures ?? 0) & MoreFeature.DIR_STATE) !== 0;
}

/**
 * More feature FILE_WANT (PROTOCOL.md §7.4): the receiver may ask for a small file it announced
 * with FILE_INFO to come whole (FILE_WANT, FILE_WHOLE) in place of FILE_READY, DATA and FILE_DONE.
 */
export function fileWantAgreed(params: ParamsMessage): boolean {
  return (params.features & Feature.INLINE) !== 0 && ((params.moreFeatures ?? 0) & MoreFeature.FILE_WANT) !== 0;
}

/**
 * More feature SOURCES_REMOVED (PROTOCOL.md §7.1): in a session with MODE's REMOVE_SOURCE, the
 * sender answers the receiver's DONE with DONE once its removals are done, and the receiver ends at that DONE.
 */
export function sourcesRemovedAgreed(params: ParamsMessage): boolean {
  return ((params.moreFeatures ?? 0) & MoreFeature.SOURCES_REMOVED) !== 0;
}

/**
 * More feature SAME_INODE (PROTOCOL.md §7.5): in a session with MODE's REMOVE_SOURCE, the receiver
 * answers FILE_SAME_INODE in place of FILE_SAME.
 */
export function sameInodeAgreed(params: ParamsMessage): boolean {
  return ((params.moreFeatures ?? 0) & MoreFeature.SAME_INODE) !== 0;
}

/**
 * More feature SOURCE_KEPT (PROTOCOL.md §7.1): in a session with MODE's REMOVE_SOURCE, the sender
 * tells the receiver each source it keeps (SOURCE_KEPT).
 */
export function sourceKeptAgreed(params: ParamsMessage): boolean {
  return ((params.moreFeatures ?? 0) & MoreFeature.SOURCE_KEPT) !== 0;
}

/** What a transfer's offer says of it: a pull's destination holds nothing; its sources are removed (--remove-source-files); it sends SIZE_LIMITS. */
export interface TransferFacts {
  pull: boolean;
  intoEmpty: boolean;
  removesSources: boolean;
  sizeLimits?: boolean;
}

/**
 * A transfer's offer: with more feature FILE_WANT where it offers INLINE; where it offers
 * DEST_STATE, with DIR_STATE, and with DEST_EMPTY when it is a pull into a destination that holds
 * nothing; when it removes its sources, with SAME_INODE, and for a pull with SOURCES_REMOVED and
 * SOURCE_KEPT (the pushing client removes its own, ends only after, and tells of what it kept);
 * with SIZE_LIMITS when it sends them.
 */
export function transferOffer(offer: ParamsMessage, facts?: TransferFacts): ParamsMessage {
  const inline = (offer.features & Feature.INLINE) !== 0 ? MoreFeature.FILE_WANT : 0;
  const landing = (offer.features & Feature.DEST_STATE) === 0 ? 0 : MoreFeature.DIR_STATE | (facts?.pull && facts.intoEmpty ? MoreFeature.DEST_EMPTY : 0);
  const removal = !facts?.removesSources ? 0 : MoreFeature.SAME_INODE | (facts.pull ? MoreFeature.SOURCES_REMOVED | MoreFeature.SOURCE_KEPT : 0);
  const more = inline | landing | removal | (facts?.sizeLimits ? MoreFeature.SIZE_LIMITS : 0);
  return more === 0 ? offer : { ...offer, moreFeatures: ((offer.moreFeatures ?? 0) | more) >>> 0 };
}
