/**
 * The frame checksum: xxh32 (seed CHKSUM_SEED) over the frame as it stands on the wire with its
 * chksum field read as four zero bytes. FULL coverage hashes header and payload; HEADER coverage
 * (encrypted connections, where the GCM tag authenticates the payload) hashes the 7 header bytes.
 */
import { CHKSUM_SEED, ChksumCoverage, ChksumCoverageValue, HEADER_SIZE } from './constants';
import type { XXHashAPI } from './xxhash';

/** frame holds a whole frame whose chksum field is zero. */
export function checksumOfFrame(xxh: XXHashAPI, frame: Buffer, coverage: ChksumCoverageValue): number {
  return xxh.h32Raw(coverage === ChksumCoverage.FULL ? frame : frame.subarray(0, HEADER_SIZE), CHKSUM_SEED);
}

/** header is the 7 header bytes with a zero chksum field; payload need not follow it in memory. */
export function checksumOfParts(
  xxh: XXHashAPI,
  header: Buffer,
  payload: Buffer,
  coverage: ChksumCoverageValue,
): number {
  if (coverage === ChksumCoverage.HEADER) return xxh.h32Raw(header, CHKSUM_SEED);
  return xxh.create32(CHKSUM_SEED).update(header).update(payload).digest();
}
