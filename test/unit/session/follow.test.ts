/**
 * The machines' FOLLOW hooks (PROTOCOL.md §7.10): the receiver takes APPEND only for a file in place
 * at exactly its length, takes FILE_COUNT again for more files, drops the earlier file_id of a file
 * sent again, and refuses all of it without the feature; the sender answers STOP.
 */
import { FollowEvent, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { requestScope } from '../../../src/session/entryScope';
import { ReceiverAction, TransferReceiver, TransferSender } from '../../../src/session/transfer';

const PATH = Buffer.from('app.log');
const DATA = Buffer.from('grown\n');

function receiver(follow: boolean): TransferReceiver {
  return new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: requestScope(0, true), follow });
}

const append = (fileId: number, offset: number): Message => ({ type: PacketType.APPEND, fileId, offset, mtimeNs: 1n, hash: 7n, data: DATA });
const inline = (fileId: number): Message => ({ type: PacketType.FILE_INLINE, fileId, perm: 0o644, mtimeNs: 0n, hash: 0n, path: PATH, data: Buffer.from('start\n') });
function failure(actions: readonly ReceiverAction[]): string | undefined {
  const failed = actions.find((a) => a.type === 'fail');
  return failed?.type === 'fail' ? failed.error.code : undefined;
}

/** A receiver that holds app.log (6 bytes) OK as file_id 0. */
function holding(): TransferReceiver {
  const r = receiver(true);
  r.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 6 });
  expect(r.receive(0, inline(0)).map((a) => a.type)).toEqual(['writeFile']);
  r.fileCommitted(0);
  return r;
}

test('APPEND at the end of a file in place is written; the next one starts where it ended', () => {
  const r = holding();
  expect(r.receive(0, append(0, 6))).toEqual([{ type: 'appendFile', fileId: 0, path: PATH, offset: 6, mtimeNs: 1n, hash: 7n, data: DATA }]);
  expect(r.receive(0, append(0, 6 + DATA.length)).map((a) => a.type)).toEqual(['appendFile']);
});

test.each([
  ['past the end', 7],
  ['inside what is held', 3],
])('APPEND %s is FCP_ERR_PROTOCOL', (_what, offset) => {
  expect(failure(holding().receive(0, append(0, offset)))).toBe('FCP_ERR_PROTOCOL');
});

test('APPEND for a file not in place, never announced, or sent again since is FCP_ERR_PROTOCOL', () => {
  const notYet = receiver(true);
  notYet.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 6 });
  notYet.receive(0, inline(0));
  expect(failure(notYet.receive(0, append(0, 6)))).toBe('FCP_ERR_PROTOCOL');
  expect(failure(holding().receive(0, append(5, 0)))).toBe('FCP_ERR_PROTOCOL');
  const again = holding();
  // Sent again after a rewrite: FILE_COUNT for one more file, then its announcement.
  expect(again.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 6 })).toEqual([{ type: 'counted', files: 1, bytes: 6 }]);
  expect(again.receive(0, inline(1)).map((a) => a.type)).toEqual(['writeFile']);
  expect(failure(again.receive(0, append(0, 6)))).toBe('FCP_ERR_PROTOCOL');
});

test('without FOLLOW, APPEND, FOLLOW and a second FILE_COUNT are unexpected', () => {
  for (const message of [append(0, 6), { type: PacketType.FOLLOW, event: FollowEvent.WAITING, name: PATH } as Message, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 1 } as Message]) {
    const r = receiver(false);
    r.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 6 });
    expect(failure(r.receive(0, message))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
  }
});

test('a FOLLOW notice is shown, even before FILE_COUNT; a STOP from the sender is unexpected', () => {
  const r = receiver(true);
  expect(r.receive(0, { type: PacketType.FOLLOW, event: FollowEvent.WAITING, name: PATH })).toEqual([{ type: 'followNotice', event: FollowEvent.WAITING, name: PATH }]);
  expect(failure(r.receive(0, { type: PacketType.FOLLOW, event: FollowEvent.STOP, name: Buffer.alloc(0) }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});

test('the sender takes STOP while it announces, and a STOP that crossed its DONE is nothing', () => {
  const stop: Message = { type: PacketType.FOLLOW, event: FollowEvent.STOP, name: Buffer.alloc(0) };
  const s = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', follow: true });
  s.start(0, 0);
  expect(s.receive(stop)).toEqual([{ type: 'followStop' }]);
  expect(s.countMore(1, 3).map((a) => a.type)).toEqual(['send']);
  s.sendInline(PATH, 0o644, 0n, Buffer.from('abc'), 0n);
  s.finish();
  expect(s.receive(stop)).toEqual([]);
  const plain = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
  plain.start(0, 0);
  expect(() => plain.countMore(1, 1)).toThrow(/does not follow/);
  expect(plain.receive(stop).map((a) => a.type)).toEqual(['fail']);
});
