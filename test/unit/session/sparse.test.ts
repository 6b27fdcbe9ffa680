/**
 * HOLE in the receiver's machine (feature SPARSE, PROTOCOL.md §7.3): a chunk of HOLEs and DATA
 * ends in a writeChunk with its holes, and every rule a hostile sender could break is
 * FCP_ERR_PROTOCOL (FCP_ERR_UNEXPECTED_MESSAGE without SPARSE negotiated).
 */
import { DATA_FRAME_BYTES, DATA_UNIT, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { EntryScope } from '../../../src/session/entryScope';
import { TransferAction, TransferReceiver } from '../../../src/session/transfer';

const CHUNK = MIN_CHUNK_SIZE;
const SIZE = 2 * CHUNK + 100;
const MTIME = 1_700_000_000_000_000_000n;

const failureOf = (actions: readonly TransferAction[]): string | undefined => {
  const failed = actions.find((action) => action.type === 'fail');
  return failed?.type === 'fail' ? failed.error.code : undefined;
};

/** A receiver that answered FILE_READY for one file of SIZE bytes (its old version described when `delta`). */
function readyReceiver(sparse = true, delta = false): TransferReceiver {
  const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), sparse, delta });
  receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE });
  receiver.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: MTIME, digest: Buffer.alloc(16), path: Buffer.from('f') });
  receiver.fileCreated(0, { held: new Map(), stale: undefined }, delta ? [{ length: CHUNK, hash: 1n }] : undefined);
  return receiver;
}

const hole = (offset: number, length: number): Message => ({ type: PacketType.HOLE, fileId: 0, seq: offset / DATA_UNIT, length });
const data = (offset: number, length: number): Message => ({ type: PacketType.DATA, fileId: 0, seq: offset / DATA_UNIT, data: Buffer.alloc(length, 1) });
const sum = (offset: number, length: number): Message => ({ type: PacketType.CHUNK_SUM, fileId: 0, seq: offset / DATA_UNIT, length, hash: 9n });

test('a chunk of HOLEs and DATA ends in a writeChunk with its holes, in order; a chunk of one HOLE has no data', () => {
  const receiver = readyReceiver();
  const messages = [hole(0, DATA_UNIT), data(DATA_UNIT, 2 * DATA_UNIT), hole(3 * DATA_UNIT, CHUNK - 3 * DATA_UNIT), sum(0, CHUNK), hole(2 * CHUNK, 100), sum(2 * CHUNK, 100)];
  const actions = messages.flatMap((m) => [...receiver.receive(1, m)]);
  expect(failureOf(actions)).toBeUndefined();
  const writes = actions.flatMap((action) => (action.type === 'writeChunk' ? [{ seq: action.seq, holes: action.holes, data: action.data.map((b) => b.length) }] : []));
  expect(writes).toEqual([
    { seq: 0, holes: [{ at: 0, length: DATA_UNIT }, { at: 3 * DATA_UNIT, length: CHUNK - 3 * DATA_UNIT }], data: [2 * DATA_UNIT] },
    { seq: (2 * CHUNK) / DATA_UNIT, holes: [{ at: 2 * CHUNK, length: 100 }], data: [] },
  ]);
});

test('a chunk without HOLE has no holes in its writeChunk', () => {
  const receiver = readyReceiver();
  const actions = [data(0, DATA_FRAME_BYTES), data(DATA_FRAME_BYTES, CHUNK - DATA_FRAME_BYTES), sum(0, CHUNK)].flatMap((m) => [...receiver.receive(1, m)]);
  const write = actions.find((action) => action.type === 'writeChunk');
  expect(write?.type === 'writeChunk' && { holes: write.holes, data: write.data.length }).toEqual({ holes: undefined, data: 2 });
});

test.each<[string, Message[]]>([
  ['a HOLE that does not start a chunk', [hole(DATA_UNIT, DATA_UNIT)]],
  ['a HOLE that does not continue its chunk', [hole(0, DATA_UNIT), hole(2 * DATA_UNIT, DATA_UNIT)]],
  ['a HOLE past the end of its chunk', [hole(0, CHUNK + DATA_UNIT)]],
  ['a HOLE that ends inside a DATA_UNIT before the chunk ends', [hole(0, 100)]],
  ['DATA that stops short of a DATA_UNIT boundary before a HOLE', [data(0, 100), hole(100, 10)]],
  ['a HOLE past the end of the file', [hole(2 * CHUNK, 200)]],
  ['a HOLE whose CHUNK_SUM names another length', [hole(0, CHUNK), sum(0, CHUNK - DATA_UNIT)]],
])('the receiver refuses %s with FCP_ERR_PROTOCOL', (_name, messages) => {
  const receiver = readyReceiver();
  expect(failureOf(messages.flatMap((m) => [...receiver.receive(1, m)]))).toBe('FCP_ERR_PROTOCOL');
});

test('a HOLE in a chunk of a file sent as a delta is FCP_ERR_PROTOCOL', () => {
  expect(failureOf(readyReceiver(true, true).receive(1, hole(0, DATA_UNIT)))).toBe('FCP_ERR_PROTOCOL');
});

test('without SPARSE negotiated, HOLE is FCP_ERR_UNEXPECTED_MESSAGE', () => {
  expect(failureOf(readyReceiver(false).receive(1, hole(0, DATA_UNIT)))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});

test('HOLE on the control connection is FCP_ERR_UNEXPECTED_MESSAGE', () => {
  expect(failureOf(readyReceiver().receive(0, hole(0, DATA_UNIT)))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});
