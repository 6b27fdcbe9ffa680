/**
 * A file or a record row of a two-way side as TWO_WAY and TWO_WAY_SIDE carry it (PROTOCOL.md
 * §7.12): the version's sha256 as 32 bytes, the mtime in nanoseconds, the path checked as an entry
 * path before anything uses it; a directory or symlink as TWO_WAY_NODE and TWO_WAY_NODE_OP do
 * (feature TWO_WAY_TREE): its kind, digest, path and target.
 */
import { FcpError } from '../errors';
import { PacketType, TWO_WAY_DIGEST_SIZE, TwoWayNodeKind } from '../protocol/constants';
import type { TwoWayMessage, TwoWayNodeMessage, TwoWaySideMessage } from '../protocol/messages';
import { checkEntryPath } from '../protocol/paths';
import type { Recorded } from '../state/twoWayDb';
import { DIR_HASH, DIR_MODE, LINK_MODE, NodeKind, nodeKindOf } from './entryKinds';
import type { SideFile } from './sideListing';

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

/** A directory's or symlink's kind on the wire (TWO_WAY_NODE, TWO_WAY_NODE_OP), and back. */
const NODE_KIND: Record<NodeKind, number> = { dir: TwoWayNodeKind.DIR, symlink: TwoWayNodeKind.SYMLINK };
const modeOfKind = (kind: number): number => (kind === TwoWayNodeKind.DIR ? DIR_MODE : LINK_MODE);

/** The fields of a directory's or symlink's row or entry (its version's digest; a symlink's target, latin1), as TWO_WAY_NODE and TWO_WAY_NODE_OP carry them. */
export function nodeFields(path: string, version: { hash: string; mode: number }, target = ''): Omit<TwoWayNodeMessage, 'type' | 'event'> {
  return { kind: NODE_KIND[nodeKindOf(version.mode)!], digest: Buffer.from(version.hash, 'hex'), path: Buffer.from(path, 'latin1'), target: Buffer.from(target, 'latin1') };
}

/** A directory's or symlink's entry (with its target) or row a TWO_WAY_NODE or TWO_WAY_NODE_OP carries (its path checked when decoded); nodes have no size or mtime. */
export function nodeOf(message: Omit<TwoWayNodeMessage, 'type' | 'event'>): SideFile & Recorded {
  const mode = modeOfKind(message.kind);
  const hash = mode === DIR_MODE ? DIR_HASH : message.digest.toString('hex');
  if (message.target.includes(0)) throw new FcpError('FCP_ERR_BAD_FIELD', 'a symlink target holds a NUL byte');
  return { path: message.path.toString('latin1'), hash, mode, size: 0, mtimeUs: 0, ...(message.target.length > 0 ? { target: message.target.toString('latin1') } : {}) };
}
