/**
 * The end of a session that removes its sources (MODE's REMOVE_SOURCE), between the two pure
 * machines (PROTOCOL.md §7.1): the sender removes the last sources when the receiver's DONE is in;
 * under more feature SOURCES_REMOVED it then answers with a DONE of its own, and the receiver ends
 * only at that DONE; under SOURCE_KEPT it names each source it keeps, before that DONE.
 */
import { wireFromCode } from '../../../src/errors';
import { MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { EntryScope } from '../../../src/session/entryScope';
import { TransferAction, TransferReceiver, TransferSender } from '../../../src/session/transfer';

const sends = (actions: readonly TransferAction[]): Message[] => actions.flatMap((action) => (action.type === 'send' ? [action.message] : []));
/** Each action's type; a send's by its message: 'DONE' for a DONE. */
const kinds = (actions: readonly TransferAction[]): string[] => actions.map((action) => (action.type !== 'send' ? action.type : action.message.type === PacketType.DONE ? 'DONE' : `send ${action.message.type}`));
const DONE: Message = { type: PacketType.DONE };

/** Both machines with nothing announced, the sender's DONE taken and the receiver asked to finish. */
function atTheEnd(opts: { removeSources: boolean; confirmRemovals: boolean; awaitRemovals: boolean; keptReported?: boolean }): { sender: TransferSender; receiver: TransferReceiver } {
  const kept = opts.keptReported ?? false;
  const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', reconnect: true, removeSources: opts.removeSources, confirmRemovals: opts.confirmRemovals, reportsKept: kept });
  const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: new EntryScope({ recursive: true, singleRoot: true }), reconnect: true, awaitRemovals: opts.awaitRemovals, keptReported: kept });
  for (const message of [...sends(sender.start(0, 0)), ...sends(sender.finish())]) receiver.receive(0, message);
  return { sender, receiver };
}

test('SOURCES_REMOVED: the sender removes, then says DONE; the receiver completes only at that DONE', () => {
  const { sender, receiver } = atTheEnd({ removeSources: true, confirmRemovals: true, awaitRemovals: true });
  const finished = receiver.finished();
  expect(kinds(finished)).toEqual(['DONE']);
  // Its data connections closing now is no news, and costs nothing.
  expect(receiver.connectionLost(1)).toEqual([]);
  expect(kinds(sender.receive(DONE))).toEqual(['removeSources']);
  const over = sender.removalsOver();
  expect(kinds(over)).toEqual(['DONE', 'complete']);
  expect(kinds(receiver.receive(0, sends(over)[0]!))).toEqual(['complete']);
});

test('SOURCES_REMOVED: anything but DONE or KEEPALIVE while the receiver waits for it is refused', () => {
  const { receiver } = atTheEnd({ removeSources: true, confirmRemovals: true, awaitRemovals: true });
  receiver.finished();
  expect(receiver.receive(0, { type: PacketType.KEEPALIVE })).toEqual([]);
  const refused = receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 1 });
  expect(refused).toMatchObject([{ type: 'fail', error: { code: 'FCP_ERR_UNEXPECTED_MESSAGE' } }]);
  expect(refused[0]!.type === 'fail' && refused[0]!.error.message).toMatch(/AWAIT_REMOVALS/);
});

test('a DONE on a data connection does not end the wait', () => {
  const { receiver } = atTheEnd({ removeSources: true, confirmRemovals: true, awaitRemovals: true });
  receiver.finished();
  expect(kinds(receiver.receive(1, DONE))).toEqual(['fail']);
});

test('without SOURCES_REMOVED the sender removes and completes, and the receiver completes at its own DONE', () => {
  const { sender, receiver } = atTheEnd({ removeSources: true, confirmRemovals: false, awaitRemovals: false });
  expect(kinds(receiver.finished())).toEqual(['DONE', 'complete']);
  expect(kinds(sender.receive(DONE))).toEqual(['removeSources']);
  expect(kinds(sender.removalsOver())).toEqual(['complete']);
});

test('removalsOver() only while the last sources go', () => {
  const { sender } = atTheEnd({ removeSources: true, confirmRemovals: true, awaitRemovals: true });
  expect(() => sender.removalsOver()).toThrow(/removalsOver\(\) in state DONE_SENT/);
  sender.receive(DONE);
  sender.removalsOver();
  expect(() => sender.removalsOver()).toThrow(/in state CLOSED/);
});

const PATH = Buffer.from('d/a');
const KEPT: Message = { type: PacketType.SOURCE_KEPT, code: wireFromCode('FCP_ERR_SOURCE_CHANGED'), path: PATH, message: 'it grew while it was read' };

test('SOURCE_KEPT: a source kept while files go, and one kept among the last, reach the receiver before the sender\'s DONE', () => {
  const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', removeSources: true, confirmRemovals: true, reportsKept: true });
  const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: new EntryScope({ recursive: true, singleRoot: true }), awaitRemovals: true, keptReported: true });
  receiver.receive(0, sends(sender.start(0, 0))[0]!);
  const whileAnnouncing = sends(sender.sourceKept(PATH, 'FCP_ERR_SOURCE_CHANGED', 'it grew while it was read'));
  expect(whileAnnouncing).toEqual([KEPT]);
  expect(receiver.receive(0, whileAnnouncing[0]!)).toEqual([{ type: 'sourceKept', path: PATH, code: 'FCP_ERR_SOURCE_CHANGED', why: 'it grew while it was read' }]);
  receiver.receive(0, sends(sender.finish())[0]!);
  // DONE_SENT: a file's FILE_OK may still come, and its source be kept.
  expect(sends(sender.sourceKept(PATH, 'FCP_ERR_IO', 'x'))).toHaveLength(1);
  expect(kinds(receiver.finished())).toEqual(['DONE']);
  expect(kinds(sender.receive(DONE))).toEqual(['removeSources']);
  const last = sends(sender.sourceKept(PATH, 'FCP_ERR_CONFLICT', 'it is the destination itself'));
  expect(receiver.receive(0, last[0]!)).toEqual([{ type: 'sourceKept', path: PATH, code: 'FCP_ERR_CONFLICT', why: 'it is the destination itself' }]);
  expect(kinds(receiver.receive(0, sends(sender.removalsOver())[0]!))).toEqual(['complete']);
  // After the end nothing more is told, and nothing more is taken.
  expect(() => sender.sourceKept(PATH, 'FCP_ERR_IO', 'x')).toThrow(/in state CLOSED/);
  expect(kinds(receiver.receive(0, KEPT))).toEqual(['fail']);
});

test('SOURCE_KEPT: without the feature (or without SOURCES_REMOVED) the sender sends none and the receiver refuses one', () => {
  for (const opts of [{ keptReported: false, confirmRemovals: true, awaitRemovals: true }, { keptReported: true, confirmRemovals: false, awaitRemovals: false }]) {
    const { sender, receiver } = atTheEnd({ removeSources: true, ...opts });
    expect(sender.sourceKept(PATH, 'FCP_ERR_IO', 'x')).toEqual([]);
    const refused = receiver.receive(0, KEPT);
    expect(refused).toMatchObject([{ type: 'fail', error: { code: 'FCP_ERR_UNEXPECTED_MESSAGE' } }]);
  }
});

test('SOURCE_KEPT on a data connection is refused', () => {
  const { receiver } = atTheEnd({ removeSources: true, confirmRemovals: true, awaitRemovals: true, keptReported: true });
  expect(kinds(receiver.receive(1, KEPT))).toEqual(['fail']);
});

test('a session that removes nothing ends as always, whatever was agreed', () => {
  const { sender, receiver } = atTheEnd({ removeSources: false, confirmRemovals: true, awaitRemovals: false });
  expect(kinds(receiver.finished())).toEqual(['DONE', 'complete']);
  expect(kinds(sender.receive(DONE))).toEqual(['complete']);
});
