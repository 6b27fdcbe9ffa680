/**
 * The frame checksum: xxh32 (seed CHKSUM_SEED) over the frame as it stands on the wire with its
 * chksum field read as four zero bytes. FULL coverage hashes the header and the payload, except
 * that of a DATA payload it hashes only file_id and seq: the file bytes are covered by their
 * chunk's xxh64 (CHUNK_SUM), and hashing them twice would cost more than the copy itself.
 * HEADER coverage (encrypted connections, where the GCM tag authenticates the payload) hashes
 * the 7 header bytes.
 */
import { CHKSUM_SEED, ChksumCoverage, ChksumCoverageValue, DATA_HEADER_SIZE, HEADER_SIZE, PacketType } from './constants';
import type { XXHashAPI } from './xxhash';

/** Covered payloads up to this size are hashed from a copy joined to their header. */
const JOIN_MAX = 4096;
const joined = Buffer.allocUnsafe(HEADER_SIZE + JOIN_MAX);

/** How many payload bytes, from its start, the checksum of a frame of this type covers. */
export function coveredPayload(type: number, payloadLength: number, coverage: ChksumCoverageValue): number {
  if (coverage === ChksumCoverage.HEADER) return 0;
  return type === PacketType.DATA ? Math.min(DATA_HEADER_SIZE, payloadLength) : payloadLength;
}

/** frame holds a whole frame whose chksum field is zero. */
export function checksumOfFrame(xxh: XXHashAPI, frame: Buffer, coverage: ChksumCoverageValue): number {
  const covered = coveredPayload(frame[0]!, frame.length - HEADER_SIZE, coverage);
  return xxh.h32Raw(frame.subarray(0, HEADER_SIZE + covered), CHKSUM_SEED);
}

/**
 * header is the 7 header bytes with a zero chksum field; covered is the start of the payload
 * that the checksum covers (coveredPayload bytes), which need not follow the header in memory.
 */
export function checksumOfParts(xxh: XXHashAPI, header: Buffer, covered: Buffer): number {
  if (covered.length === 0) return xxh.h32Raw(header, CHKSUM_SEED);
  // xxhash-wasm's streaming state costs more than copying a control frame: join small ones.
  if (covered.length <= JOIN_MAX) {
    header.copy(joined, 0);
    covered.copy(joined, HEADER_SIZE);
    return xxh.h32Raw(joined.subarray(0, HEADER_SIZE + covered.length), CHKSUM_SEED);
  }
  return xxh.create32(CHKSUM_SEED).update(header).update(covered).digest();
}

