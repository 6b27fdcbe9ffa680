/**
 * HARDLINK in the receiving machine (PROTOCOL.md §4, §7.2 E5): a link waits for the file it names
 * to be in place, fails with that file, and may only name a file announced before it.
 */
import { codeFromWire, FcpError } from '../../../src/errors';
import { DIGEST_SIZE, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol';
import type { Message } from '../../../src/protocol/messages';
import { EntryScope } from '../../../src/session/entryScope';
import { ReceiverAction, TransferReceiver } from '../../../src/session/transfer';

const b = (text: string): Buffer => Buffer.from(text);

function receiver(hardLinks = true): TransferReceiver {
  const machine = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: new EntryScope({ recursive: true, singleRoot: false }), hardLinks });
  machine.receive(0, { type: PacketType.FILE_COUNT, count: 2, totalBytes: 10 });
  return machine;
}

const fileInfo = (fileId: number, name: string): Message => ({
  type: PacketType.FILE_INFO,
  fileId,
  perm: 0o644,
  size: 5,
  mtimeNs: 0n,
  digest: Buffer.alloc(DIGEST_SIZE),
  path: b(name),
});
const hardlink = (name: string, target: string): Message => ({ type: PacketType.HARDLINK, path: b(name), target: b(target) });

/** The actions that make or report links, as plain values. */
function links(actions: readonly ReceiverAction[]): unknown[] {
  return actions.flatMap((action): unknown[] => {
    if (action.type === 'createHardlink') return [{ link: action.path.toString(), to: action.target.toString() }];
    if (action.type === 'entryFailed') return [{ failed: action.path.toString(), code: action.error.code }];
    if (action.type === 'send' && action.message.type === PacketType.ENTRY_ERROR) return [{ entryError: action.message.path.toString(), code: codeFromWire(action.message.code) }];
    if (action.type === 'fail') return [{ fail: action.error.code }];
    return [];
  });
}

test('a link waits for its file, and is made once the file is written; a later link to it is made at once', () => {
  const machine = receiver();
  machine.receive(0, { type: PacketType.FILE_INLINE, fileId: 0, perm: 0o644, mtimeNs: 0n, hash: 0n, path: b('a'), data: b('hello') });
  expect(links(machine.receive(0, hardlink('b', 'a')))).toEqual([]);
  expect(links(machine.fileCommitted(0))).toEqual([{ link: 'b', to: 'a' }]);
  expect(links(machine.receive(0, hardlink('c', 'a')))).toEqual([{ link: 'c', to: 'a' }]);
});

test('a link to a file the destination already holds (FILE_SAME) is made', () => {
  const machine = receiver();
  machine.receive(0, fileInfo(0, 'a'));
  machine.receive(0, hardlink('b', 'a'));
  expect(links(machine.fileSame(0))).toEqual([{ link: 'b', to: 'a' }]);
});

test('a link to a file that failed fails with it, and the sender hears of it (ENTRY_ERROR)', () => {
  const machine = receiver();
  machine.receive(0, fileInfo(0, 'a'));
  machine.receive(0, hardlink('b', 'a'));
  expect(links(machine.fileFailed(0, new FcpError('FCP_ERR_PERMISSION', 'denied')))).toEqual([
    { entryError: 'b', code: 'FCP_ERR_PERMISSION' },
    { failed: 'b', code: 'FCP_ERR_PERMISSION' },
  ]);
});

test.each([
  ['a name never announced', [hardlink('b', 'nowhere')], 'FCP_ERR_BAD_PATH'],
  ['a directory', [{ type: PacketType.DIR_INFO, perm: 0o755, mtimeNs: 0n, path: b('d') }, hardlink('b', 'd')], 'FCP_ERR_BAD_PATH'],
  ['a file announced after it', [hardlink('b', 'a'), fileInfo(0, 'a')], 'FCP_ERR_BAD_PATH'],
] as [string, Message[], string][])('a link to %s is refused', (_name, messages, code) => {
  const machine = receiver();
  const actions = messages.flatMap((message) => machine.receive(0, message));
  expect(links(actions)).toEqual([{ fail: code }]);
});

test('HARDLINK in a session without HARD_LINKS is an unexpected message', () => {
  const machine = receiver(false);
  machine.receive(0, fileInfo(0, 'a'));
  expect(links(machine.receive(0, hardlink('b', 'a')))).toEqual([{ fail: 'FCP_ERR_UNEXPECTED_MESSAGE' }]);
});
