/**
 * A file or a record row of a two-way side as TWO_WAY and TWO_WAY_SIDE carry it (PROTOCOL.md
 * §7.12): the version's sha256 as 32 bytes, the mtime in nanoseconds, the path checked as an entry
 * path before anything uses it.
 */
import { FcpError } from '../errors';
import { PacketType, TWO_WAY_DIGEST_SIZE } from '../protocol/constants';
import type { TwoWayMessage, TwoWaySideMessage } from '../protocol/messages';
import { checkEntryPath } from '../protocol/paths';
import type { Recorded } from '../state/twoWayDb';

/** What the two messages share. */
type Fields = Omit<TwoWayMessage, 'type' | 'op'>;

const NO_DIGEST = Buffer.alloc(TWO_WAY_DIGEST_SIZE);

function fieldsOf(row: Recorded): Fields {
  return { mode: row.mode, size: row.size, mtimeNs: BigInt(row.mtimeUs) * 1000n, digest: Buffer.from(row.hash, 'hex'), path: Buffer.from(row.path, 'latin1') };
}

/** fcp's request: an op about a row (RECORD), a path alone (FORGET: the row's other fields zero), or nothing (LIST). */
export function twoWayMessage(op: number, row?: Recorded | string): TwoWayMessage {
  if (typeof row === 'string') return { type: PacketType.TWO_WAY, op, mode: 0, size: 0, mtimeNs: 0n, digest: NO_DIGEST, path: Buffer.from(row, 'latin1') };
  return { type: PacketType.TWO_WAY, op, ...(row ? fieldsOf(row) : { mode: 0, size: 0, mtimeNs: 0n, digest: NO_DIGEST, path: Buffer.alloc(0) }) };
}

/** fcpd's report: a file or a record row (ENTRY, RECORDED), or an event without one (LISTED with `mode` 1 for a whole listing, CHANGED). */
export function sideMessage(event: number, row?: Recorded, mode = 0): TwoWaySideMessage {
  return { type: PacketType.TWO_WAY_SIDE, event, ...(row ? fieldsOf(row) : { mode, size: 0, mtimeNs: 0n, digest: NO_DIGEST, path: Buffer.alloc(0) }) };
}

/** The path a message names (latin1 spelling), checked (FCP_ERR_BAD_PATH) and present (FCP_ERR_BAD_FIELD). */
export function pathOf(message: Pick<Fields, 'path'>, what: string): string {
  if (message.path.length === 0) throw new FcpError('FCP_ERR_BAD_FIELD', `${what} names no path`);
  checkEntryPath(message.path);
  return message.path.toString('latin1');
}

/** The row a message carries, its path checked. */
export function rowOf(message: Fields, what: string): Recorded {
  return {
    path: pathOf(message, what),
    hash: message.digest.toString('hex'),
    mode: message.mode,
    size: message.size,
    mtimeUs: Number(message.mtimeNs / 1000n),
  };
}
