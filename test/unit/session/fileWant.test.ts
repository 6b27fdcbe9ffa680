/**
 * More feature FILE_WANT between the two pure machines (PROTOCOL.md §7.4): the receiver asks for a
 * small announced file it does not hold to come whole (FILE_WANT, in place of FILE_READY), the
 * sender answers with FILE_WHOLE, and the receiver writes it as a FILE_INLINE's; everything
 * about such a file that could only belong to the FILE_READY way, or that is out of turn, is
 * refused.
 */
import { INLINE_MAX, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import { FcpError } from '../../../src/errors';
import type { Message } from '../../../src/protocol/messages';
import { EntryScope } from '../../../src/session/entryScope';
import { TransferAction, TransferReceiver, TransferSender } from '../../../src/session/transfer';

const PATH = Buffer.from('f');
const MTIME = 1_700_000_000_000_000_000n;
const DATA = Buffer.from('hello');
const HASH = 0x26c7827d889f6da3n;

const sends = (actions: readonly TransferAction[]): Message[] => actions.flatMap((action) => (action.type === 'send' ? [action.message] : []));
const failure = (actions: readonly TransferAction[]): string | undefined => {
  const failed = actions.find((action) => action.type === 'fail');
  return failed?.type === 'fail' ? `${failed.error.code}: ${failed.error.message}` : undefined;
};

function machines(fileWant = true): { sender: TransferSender; receiver: TransferReceiver } {
  const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', quickCheck: true, fileWant });
  const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), fileWant });
  return { sender, receiver };
}

/** Both machines past FILE_COUNT and one FILE_INFO of `size` bytes; the receiver's actions for it. */
function announced(size = DATA.length, fileWant = true): { sender: TransferSender; receiver: TransferReceiver; create: TransferAction[] } {
  const { sender, receiver } = machines(fileWant);
  for (const message of sends(sender.start(1, size))) receiver.receive(0, message);
  const create = sends(sender.announceFile(PATH, 0o644, size, MTIME)).flatMap((message) => [...receiver.receive(0, message)]);
  return { sender, receiver, create };
}

test('FILE_WANT, FILE_WHOLE, written as an inline file, FILE_OK: both sides settle it OK, and DONE closes both', () => {
  const { sender, receiver, create } = announced();
  expect(create.map((action) => action.type)).toEqual(['createFile']);
  const want = receiver.fileWanted(0);
  expect(sends(want)).toEqual([{ type: PacketType.FILE_WANT, fileId: 0 }]);
  expect(receiver.fileRecords).toBe(1);
  expect(sender.receive(sends(want)[0]!)).toEqual([{ type: 'sendWhole', fileId: 0 }]);
  const whole = sender.wholeMessage(0, DATA, HASH)!;
  expect(whole).toEqual({ type: PacketType.FILE_WHOLE, fileId: 0, hash: HASH, data: DATA });
  expect(receiver.receive(0, whole)).toEqual([{ type: 'writeWanted', fileId: 0, hash: HASH, data: DATA }]);
  const committed = receiver.fileCommitted(0);
  expect(sends(committed)).toEqual([{ type: PacketType.FILE_OK, fileId: 0 }]);
  expect(sender.receive(sends(committed)[0]!)).toEqual([{ type: 'fileOk', fileId: 0 }]);
  expect(receiver.fileRecords).toBe(0);
  const done = sends(sender.finish());
  const closing = done.flatMap((message) => [...receiver.receive(0, message)]);
  expect(closing.map((action) => action.type)).toEqual(['finish']);
  const summary = sends(receiver.finished()).flatMap((message) => [...sender.receive(message)]);
  expect(summary).toMatchObject([{ type: 'complete', filesOk: 1, filesFailed: 0, bytes: DATA.length }]);
});

test('the answers to a file (FILE_WANT, FILE_OK of a FILE_WHOLE or FILE_INLINE file) may wait for the end of the turn', () => {
  const { sender, receiver } = announced();
  const answer = (fileId: number, type: number): TransferAction => ({ type: 'send', message: { type, fileId } as Message, mayWait: true });
  expect(receiver.fileWanted(0)).toEqual([answer(0, PacketType.FILE_WANT)]);
  sender.receive({ type: PacketType.FILE_WANT, fileId: 0 });
  receiver.receive(0, sender.wholeMessage(0, DATA, HASH)!);
  expect(receiver.fileCommitted(0).find((action) => action.type === 'send')).toEqual(answer(0, PacketType.FILE_OK));
  const inline = machines();
  for (const message of sends(inline.sender.start(1, DATA.length))) inline.receiver.receive(0, message);
  const sent = sends(inline.sender.sendInline(PATH, 0o644, MTIME, DATA, HASH));
  expect(inline.receiver.receive(0, sent[0]!).map((action) => action.type)).toEqual(['writeFile']);
  expect(inline.receiver.fileCommitted(0).find((action) => action.type === 'send')).toEqual(answer(0, PacketType.FILE_OK));
});

test('a file the sender cannot read fails on both sides with its FILE_ERROR; nothing was created for it', () => {
  const { sender, receiver } = announced();
  sender.receive(sends(receiver.fileWanted(0))[0]!);
  const failed = sender.fileFailed(0, new FcpError('FCP_ERR_NOT_FOUND', 'f: gone'));
  const error = sends(failed);
  expect(error.map((message) => message.type)).toEqual([PacketType.FILE_ERROR]);
  const there = receiver.receive(0, error[0]!);
  expect(there.map((action) => action.type)).toEqual(['fileFailed']);
  expect(receiver.fileRecords).toBe(0);
});

test.each([
  ['FILE_WHOLE of another size than its FILE_INFO', (r: TransferReceiver) => r.receive(0, { type: PacketType.FILE_WHOLE, fileId: 0, hash: 0n, data: Buffer.from('hell') })],
  ['FILE_WHOLE twice', (r: TransferReceiver) => {
    r.receive(0, { type: PacketType.FILE_WHOLE, fileId: 0, hash: HASH, data: DATA });
    return r.receive(0, { type: PacketType.FILE_WHOLE, fileId: 0, hash: HASH, data: DATA });
  }],
  ['FILE_WHOLE for a file not announced', (r: TransferReceiver) => r.receive(0, { type: PacketType.FILE_WHOLE, fileId: 5, hash: HASH, data: DATA })],
  ['FILE_DONE for a file asked for whole', (r: TransferReceiver) => r.receive(0, { type: PacketType.FILE_DONE, fileId: 0, digest: Buffer.alloc(16) })],
  ['DATA for a file asked for whole', (r: TransferReceiver) => r.receive(1, { type: PacketType.DATA, fileId: 0, seq: 0, data: DATA })],
])('the receiver refuses %s', (_name, deliver) => {
  const { receiver } = announced();
  receiver.fileWanted(0);
  expect(failure(deliver(receiver))).toMatch(/^FCP_ERR_PROTOCOL/);
});

test('the receiver refuses a FILE_WHOLE it did not ask for, and one in a session without the feature', () => {
  const asked = announced();
  expect(failure(asked.receiver.receive(0, { type: PacketType.FILE_WHOLE, fileId: 0, hash: HASH, data: DATA }))).toMatch(/^FCP_ERR_PROTOCOL: FILE_WHOLE for file_id 0 \(f\), which this side did not ask for whole/);
  const without = announced(DATA.length, false);
  expect(() => without.receiver.fileWanted(0)).toThrow(/cannot be asked for whole/);
  expect(failure(without.receiver.receive(0, { type: PacketType.FILE_WHOLE, fileId: 0, hash: HASH, data: DATA }))).toMatch(/^FCP_ERR_UNEXPECTED_MESSAGE/);
});

test('the receiver asks for small files only', () => {
  const large = announced(INLINE_MAX + 1);
  expect(() => large.receiver.fileWanted(0)).toThrow(/cannot be asked for whole/);
});

test.each([
  ['FILE_WANT for a file over INLINE_MAX', INLINE_MAX + 1, [{ type: PacketType.FILE_WANT, fileId: 0 }], /only files of at most 16384 come whole/],
  ['FILE_WANT twice', 5, [{ type: PacketType.FILE_WANT, fileId: 0 }, { type: PacketType.FILE_WANT, fileId: 0 }], /FILE_WANT for file_id 0, which was asked for whole/],
  ['FILE_READY after FILE_WANT', 5, [{ type: PacketType.FILE_WANT, fileId: 0 }, { type: PacketType.FILE_READY, fileId: 0 }], /FILE_READY for file_id 0, which was asked for whole/],
  ['FILE_WANT after FILE_READY', 5, [{ type: PacketType.FILE_READY, fileId: 0 }, { type: PacketType.FILE_WANT, fileId: 0 }], /FILE_WANT for file_id 0, which is ready/],
  ['RESEND for a file asked for whole', 5, [{ type: PacketType.FILE_WANT, fileId: 0 }, { type: PacketType.RESEND, fileId: 0, seq: 0, length: 5 }], /RESEND for file_id 0, which was asked for whole/],
  ['FILE_OK before FILE_WHOLE', 5, [{ type: PacketType.FILE_WANT, fileId: 0 }, { type: PacketType.FILE_OK, fileId: 0 }], /FILE_OK for file_id 0 before its FILE_WHOLE/],
  ['FILE_WANT for a file not announced', 5, [{ type: PacketType.FILE_WANT, fileId: 3 }], /FILE_WANT/],
] as [string, number, Message[], RegExp][])('the sender refuses %s', (_name, size, messages, error) => {
  const { sender } = announced(size);
  const actions = messages.flatMap((message) => [...sender.receive(message)]);
  expect(failure(actions)).toMatch(error);
});

test('the sender refuses FILE_WANT in a session without the feature', () => {
  const { sender } = announced(DATA.length, false);
  expect(failure(sender.receive({ type: PacketType.FILE_WANT, fileId: 0 }))).toMatch(/^FCP_ERR_UNEXPECTED_MESSAGE/);
});
