/**
 * A file's inode tag (PROTOCOL.md §7.5, more feature SAME_INODE): which file on which running
 * kernel, as 8 bytes that say nothing else. `--remove-source-files` to this very host over SSH
 * found its sources "the same" as the destination because they were the destination: the sender
 * removed the only copy. The receiver tags the file it found the same, the sender tags its source,
 * and equal tags keep the source. Device and inode name a file only within one kernel, so the
 * kernel's boot id goes in (Linux's random one per boot); where none can be read it is empty on
 * both sides alike, and a tag then errs towards keeping a source.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
const TAG_DOMAIN = 'fcp inode tag\0';

let bootId: Buffer | undefined;

function kernelIdentity(): Buffer {
  if (bootId === undefined) {
    try {
      bootId = Buffer.from(readFileSync(BOOT_ID_PATH, 'latin1').trim(), 'latin1');
    } catch {
      bootId = Buffer.alloc(0);
    }
  }
  return bootId;
}

/**
 * The tag of a file a sync left where nothing is (--existing, --min-size, --max-size): it names
 * no file (a real tag is 0 once in 2^64), and the sender of such a sync keeps what it left anyway.
 */
export const NO_FILE_TAG = 0n;

/** The first 8 bytes, big-endian, of SHA-256(domain ‖ boot id ‖ dev u64 ‖ ino u64). */
export function inodeTag(dev: bigint, ino: bigint): bigint {
  const ids = Buffer.allocUnsafe(16);
  ids.writeBigUInt64BE(BigInt.asUintN(64, dev), 0);
  ids.writeBigUInt64BE(BigInt.asUintN(64, ino), 8);
  return createHash('sha256').update(TAG_DOMAIN, 'latin1').update(kernelIdentity()).update(ids).digest().readBigUInt64BE(0);
}
