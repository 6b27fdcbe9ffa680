/**
 * The delta between the two pure machines (PROTOCOL.md §7.7): the receiver's signature travels as
 * DELTA_SIG before FILE_READY and reaches the sender's sendFile whole; a chunk made of DELTA_COPY
 * and DATA ends in a writeChunk with its copies; and every bound a hostile peer could break, on
 * either side, is FCP_ERR_PROTOCOL (or FCP_ERR_UNEXPECTED_MESSAGE without DELTA negotiated). With
 * SIG_CACHE the sender's blocks of the new file (NEW_SIG) reach the receiver's commit, within bounds.
 */
import { DATA_UNIT, DELTA_MAX_BLOCK, DELTA_SIG_ENTRY_SIZE, DELTA_SIG_MAX_BLOCK, DELTA_SIG_UNIT, MAX_SIG_ENTRIES, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import type { DeltaSigMessage, Message, NewSigMessage } from '../../../src/protocol/messages';
import { EntryScope } from '../../../src/session/entryScope';
import { TransferAction, TransferReceiver, TransferSender } from '../../../src/session/transfer';
import type { SignedBlock } from '../../../src/delta/blocks';
import { newSignatureMessages, signatureLimit, signatureMessages } from '../../../src/delta/signature';
import { singleChunkDigest } from '../../../src/session/digest';
import { FcpError } from '../../../src/errors';

const CHUNK = MIN_CHUNK_SIZE;
const SIZE = 4 * CHUNK;
const PATH = Buffer.from('f');
const MTIME = 1_700_000_000_000_000_000n;

const sends = (actions: readonly TransferAction[]): Message[] => actions.flatMap((action) => (action.type === 'send' ? [action.message] : []));
const failureOf = (actions: readonly TransferAction[]): string | undefined => {
  const failed = actions.find((action) => action.type === 'fail');
  return failed?.type === 'fail' ? failed.error.code : undefined;
};
const blocks = (count: number, length = DELTA_SIG_UNIT): SignedBlock[] => Array.from({ length: count }, (_, i) => ({ length, hash: BigInt(i + 1) }));

function announcedSender(delta = true, size = SIZE): TransferSender {
  const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver', resume: true, delta });
  sender.start(1, size);
  sender.announceFile(PATH, 0o644, size, MTIME);
  return sender;
}

function announcedReceiver(delta = true): TransferReceiver {
  const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), resume: true, delta });
  receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE });
  receiver.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: MTIME, digest: Buffer.alloc(16), path: PATH });
  return receiver;
}

describe('signature', () => {
  test('DELTA_SIG messages carry the signature to the sender, which hands it to sendFile', () => {
    const signature = blocks(MAX_SIG_ENTRIES + 3, 17);
    const receiver = announcedReceiver();
    const sender = announcedSender(true, 128 * 1024 * 1024);
    const messages = sends(receiver.fileCreated(0, { held: new Map(), stale: undefined }, signature));
    // The receiver cuts the signature to what a file of SIZE bytes may use.
    const limit = signatureLimit(SIZE);
    expect(messages.map((m) => m.type)).toEqual([PacketType.DELTA_SIG, PacketType.FILE_READY]);
    expect((messages[0] as DeltaSigMessage).entries.length).toBe(limit * DELTA_SIG_ENTRY_SIZE);
    const all = signatureMessages(0, signature);
    expect(all.map((m) => m.oldOffset)).toEqual([0, MAX_SIG_ENTRIES * 17]);
    const actions = [...all, { type: PacketType.FILE_READY, fileId: 0 } as const].flatMap((m) => [...sender.receive(m)]);
    expect(failureOf(actions)).toBeUndefined();
    const sendFile = actions.find((action) => action.type === 'sendFile');
    expect(sendFile?.type === 'sendFile' && sendFile.signature).toEqual(signature);
  });

  test('a signature streamed in parts: DELTA_SIG as each part comes, old offsets continuing, cut at the limit, then FILE_READY alone', () => {
    const receiver = announcedReceiver();
    const limit = signatureLimit(SIZE);
    const first = sends(receiver.signaturePart(0, blocks(3, 100)));
    const second = sends(receiver.signaturePart(0, blocks(limit, 200)));
    const late = sends(receiver.signaturePart(0, blocks(1)));
    const ready = sends(receiver.fileCreated(0, { held: new Map(), stale: undefined }));
    expect(first.map((m) => m.type === PacketType.DELTA_SIG && [m.oldOffset, m.entries.length / DELTA_SIG_ENTRY_SIZE])).toEqual([[0, 3]]);
    expect(second.map((m) => m.type === PacketType.DELTA_SIG && [m.oldOffset, m.entries.length / DELTA_SIG_ENTRY_SIZE])).toEqual([[300, limit - 3]]);
    expect(late).toEqual([]);
    expect(ready.map((m) => m.type)).toEqual([PacketType.FILE_READY]);
    // The sender collects the parts as one signature and says when the first came.
    const sender = announcedSender();
    const actions = [...first, ...second, ...ready].map((m) => [...sender.receive(m)]);
    expect(actions.map((list) => list.map((action) => action.type))).toEqual([['signatureStarted'], [], ['sendFile']]);
    const sendFile = actions[2]!.find((action) => action.type === 'sendFile');
    expect(sendFile?.type === 'sendFile' && sendFile.signature).toEqual([...blocks(3, 100), ...blocks(limit - 3, 200)]);
  });

  test('held chunks go before a delta: a part file to resume gets CHUNKS_HELD and no DELTA_SIG', () => {
    const messages = sends(announcedReceiver().fileCreated(0, { held: new Map([[0, 5n]]), stale: undefined }, blocks(3)));
    expect(messages.map((m) => m.type)).toEqual([PacketType.CHUNKS_HELD, PacketType.FILE_READY]);
  });

  const sig = (oldOffset: number, entries: SignedBlock[]): DeltaSigMessage => ({ ...signatureMessages(0, entries)[0]!, oldOffset });
  test.each<[string, (sender: TransferSender) => readonly TransferAction[]]>([
    ['an old offset that does not continue the blocks before', (s) => s.receive(sig(100, blocks(2)))],
    ['a second message that leaves a gap', (s) => [...s.receive(sig(0, blocks(2))), ...s.receive(sig(3 * DELTA_SIG_UNIT, blocks(1)))]],
    ['a block of 0 bytes', (s) => s.receive(sig(0, blocks(1, 0)))],
    ['a block over DELTA_SIG_MAX_BLOCK', (s) => s.receive(sig(0, blocks(1, DELTA_SIG_MAX_BLOCK + 1)))],
    ['more blocks than the file size allows', (s) => s.receive(sig(0, blocks(signatureLimit(SIZE) + 1)))],
    ['entries that are not a whole number of 12 bytes', (s) => s.receive({ type: PacketType.DELTA_SIG, fileId: 0, oldOffset: 0, entries: Buffer.alloc(13) })],
    ['a DELTA_SIG after FILE_READY', (s) => [...s.receive({ type: PacketType.FILE_READY, fileId: 0 }), ...s.receive(sig(0, blocks(1)))]],
    ['a DELTA_SIG for a file never announced', (s) => s.receive({ ...sig(0, blocks(1)), fileId: 7 })],
    ['DELTA_SIG after CHUNKS_HELD', (s) => [...s.receive({ type: PacketType.CHUNKS_HELD, fileId: 0, firstIndex: 0, hashes: Buffer.alloc(8) }), ...s.receive(sig(0, blocks(1)))]],
    ['CHUNKS_HELD after DELTA_SIG', (s) => [...s.receive(sig(0, blocks(1))), ...s.receive({ type: PacketType.CHUNKS_HELD, fileId: 0, firstIndex: 0, hashes: Buffer.alloc(8) })]],
  ])('the sender refuses %s with FCP_ERR_PROTOCOL', (_name, act) => {
    expect(failureOf(act(announcedSender()))).toBe('FCP_ERR_PROTOCOL');
  });

  test('the sender takes blocks longer than it cuts, up to DELTA_SIG_MAX_BLOCK: an older peer cut to 256 KiB', () => {
    const sender = announcedSender();
    const signature = [...blocks(1, DELTA_SIG_MAX_BLOCK), ...blocks(1, DELTA_MAX_BLOCK + 1)];
    const actions = [sig(0, signature), { type: PacketType.FILE_READY, fileId: 0 } as const].flatMap((m) => [...sender.receive(m)]);
    expect(failureOf(actions)).toBeUndefined();
    const sendFile = actions.find((action) => action.type === 'sendFile');
    expect(sendFile?.type === 'sendFile' && sendFile.signature).toEqual(signature);
  });

  test('without DELTA negotiated, DELTA_SIG and DELTA_COPY are FCP_ERR_UNEXPECTED_MESSAGE', () => {
    expect(failureOf(announcedSender(false).receive(sig(0, blocks(1))))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
    const receiver = announcedReceiver(false);
    receiver.fileCreated(0, { held: new Map(), stale: undefined }, blocks(4));
    expect(failureOf(receiver.receive(1, { type: PacketType.DELTA_COPY, fileId: 0, offset: 0, oldOffset: 0, length: 1 }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
  });
});

describe('DELTA_COPY', () => {
  /** A receiver that described an old version of 4 blocks (64 KiB) and answered FILE_READY. */
  function readyReceiver(signature = blocks(4)): TransferReceiver {
    const receiver = announcedReceiver();
    receiver.fileCreated(0, { held: new Map(), stale: undefined }, signature);
    return receiver;
  }
  const copy = (offset: number, oldOffset: number, length: number): Message => ({ type: PacketType.DELTA_COPY, fileId: 0, offset, oldOffset, length });
  const data = (offset: number, length: number): Message => ({ type: PacketType.DATA, fileId: 0, seq: offset / DATA_UNIT, data: Buffer.alloc(length) });

  test('a chunk of copies and DATA ends in a writeChunk with its copies, in order', () => {
    const receiver = readyReceiver();
    const pieces = [copy(0, 100, 2 * DATA_UNIT), data(2 * DATA_UNIT, DATA_UNIT), copy(3 * DATA_UNIT, 0, CHUNK - 3 * DATA_UNIT)];
    const actions = [...pieces, { type: PacketType.CHUNK_SUM, fileId: 0, seq: 0, length: CHUNK, hash: 9n } as const].flatMap((m) => [...receiver.receive(1, m)]);
    expect(failureOf(actions)).toBeUndefined();
    const write = actions.find((action) => action.type === 'writeChunk');
    expect(write?.type === 'writeChunk' && { copies: write.copies, data: write.data.map((b) => b.length) }).toEqual({
      copies: [
        { at: 0, from: 100, length: 2 * DATA_UNIT },
        { at: 3 * DATA_UNIT, from: 0, length: CHUNK - 3 * DATA_UNIT },
      ],
      data: [DATA_UNIT],
    });
  });

  test.each<[string, Message[], 'signed' | 'unsigned']>([
    ['a copy from past the bytes DELTA_SIG described', [copy(0, 4 * DELTA_SIG_UNIT - 10, 11)], 'signed'],
    ['a copy past the end of its chunk', [copy(0, 0, CHUNK + 1)], 'signed'],
    ['a copy that does not start a chunk', [copy(DATA_UNIT, 0, 10)], 'signed'],
    ['a copy that does not continue its chunk', [copy(0, 0, DATA_UNIT), copy(2 * DATA_UNIT, 0, 10)], 'signed'],
    ['DATA that stops short of a DATA_UNIT boundary before a copy', [data(0, 100), copy(100, 0, 10)], 'signed'],
    ['a copy for a file this side sent no DELTA_SIG for', [copy(0, 0, 10)], 'unsigned'],
  ])('the receiver refuses %s with FCP_ERR_PROTOCOL', (_name, messages, signed) => {
    const receiver = readyReceiver(signed === 'signed' ? blocks(4) : []);
    const actions = messages.flatMap((m) => [...receiver.receive(1, m)]);
    expect(failureOf(actions)).toBe('FCP_ERR_PROTOCOL');
  });
});

describe('NEW_SIG (feature SIG_CACHE)', () => {
  const HASH = 77n;
  const newBlocks = (count: number): SignedBlock[] => blocks(count, CHUNK / count);

  /** A receiver (DELTA and, unless told, SIG_CACHE) of one file of one chunk, which it described by DELTA_SIG and answered FILE_READY. */
  function describedReceiver(sigCache = true, signature = blocks(2)): TransferReceiver {
    const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), delta: true, sigCache });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: CHUNK });
    receiver.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: CHUNK, mtimeNs: MTIME, digest: Buffer.alloc(16), path: PATH });
    receiver.fileCreated(0, { held: new Map(), stale: undefined }, signature);
    return receiver;
  }

  /** The file's chunk whole, written, then FILE_DONE: the actions of each step, flattened. */
  function complete(receiver: TransferReceiver): TransferAction[] {
    return [
      ...receiver.receive(1, { type: PacketType.DATA, fileId: 0, seq: 0, data: Buffer.alloc(CHUNK) }),
      ...receiver.receive(1, { type: PacketType.CHUNK_SUM, fileId: 0, seq: 0, length: CHUNK, hash: HASH }),
      ...receiver.chunkWritten(0, 0, true, HASH),
      ...receiver.receive(0, { type: PacketType.FILE_DONE, fileId: 0, digest: singleChunkDigest(CHUNK, CHUNK, HASH) }),
    ];
  }

  const commitOf = (actions: readonly TransferAction[]): unknown => {
    const commit = actions.find((action) => action.type === 'commitFile');
    return commit?.type === 'commitFile' ? { signature: commit.signature } : undefined;
  };

  test('the new file\'s blocks, in parts, reach the commit once they cover the file', () => {
    const receiver = describedReceiver();
    const signature = newBlocks(4);
    const parts = newSignatureMessages(0, signature);
    const split = [
      { ...parts[0]!, entries: parts[0]!.entries.subarray(0, DELTA_SIG_ENTRY_SIZE) },
      { ...parts[0]!, offset: CHUNK / 4, entries: parts[0]!.entries.subarray(DELTA_SIG_ENTRY_SIZE) },
    ];
    const actions = [...split.flatMap((m) => [...receiver.receive(0, m)]), ...complete(receiver)];
    expect(failureOf(actions)).toBeUndefined();
    expect(commitOf(actions)).toEqual({ signature });
  });

  test('blocks short of the file, or none, commit without a signature', () => {
    const short = describedReceiver();
    short.receive(0, newSignatureMessages(0, newBlocks(4).slice(0, 3))[0]!);
    expect(commitOf(complete(short))).toEqual({ signature: undefined });
    expect(commitOf(complete(describedReceiver()))).toEqual({ signature: undefined });
  });

  const newSig = (offset: number, entries: SignedBlock[]): NewSigMessage => ({ ...newSignatureMessages(0, entries)[0]!, offset });
  test.each<[string, (receiver: TransferReceiver) => readonly TransferAction[], 'signed' | 'unsigned']>([
    ['an offset that does not continue the blocks before', (r) => r.receive(0, newSig(100, newBlocks(4))), 'signed'],
    ['a block over DELTA_MAX_BLOCK', (r) => r.receive(0, newSig(0, blocks(1, DELTA_MAX_BLOCK + 1))), 'signed'],
    ['blocks past the file\'s size', (r) => r.receive(0, newSig(0, newBlocks(4).map((b) => ({ ...b, length: b.length + 1 })))), 'signed'],
    ['entries that are not a whole number of 12 bytes', (r) => r.receive(0, { type: PacketType.NEW_SIG, fileId: 0, offset: 0, entries: Buffer.alloc(13) }), 'signed'],
    ['NEW_SIG after FILE_DONE', (r) => [...complete(r), ...r.receive(0, newSig(0, newBlocks(4)))], 'signed'],
    ['NEW_SIG for a file this side sent no DELTA_SIG for', (r) => r.receive(0, newSig(0, newBlocks(4))), 'unsigned'],
    ['NEW_SIG for a file never announced', (r) => r.receive(0, { ...newSig(0, newBlocks(4)), fileId: 7 }), 'signed'],
  ])('the receiver refuses %s with FCP_ERR_PROTOCOL', (_name, act, signed) => {
    expect(failureOf(act(describedReceiver(true, signed === 'signed' ? blocks(2) : [])))).toBe('FCP_ERR_PROTOCOL');
  });

  test('without SIG_CACHE negotiated, NEW_SIG is FCP_ERR_UNEXPECTED_MESSAGE', () => {
    expect(failureOf(describedReceiver(false).receive(0, newSig(0, newBlocks(4))))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
  });
});

describe('chunks before FILE_READY (feature DELTA_EARLY)', () => {
  /** A receiver that described the first `count` blocks of its old version and still reads it (no fileCreated yet). */
  function signingReceiver(deltaEarly: boolean, count = 4): { receiver: TransferReceiver; messages: Message[] } {
    const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), delta: true, deltaEarly });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE });
    receiver.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: MTIME, digest: Buffer.alloc(16), path: PATH });
    return { receiver, messages: sends(receiver.signaturePart(0, blocks(count))) };
  }
  const copy = (offset: number, oldOffset: number, length: number): Message => ({ type: PacketType.DELTA_COPY, fileId: 0, offset, oldOffset, length });
  const sum = (offset: number, hash = 9n): Message => ({ type: PacketType.CHUNK_SUM, fileId: 0, seq: offset / DATA_UNIT, length: CHUNK, hash });

  test('the receiver takes a chunk copied from what DELTA_SIG described so far, and asks for it again before FILE_READY if it fails', () => {
    const { receiver, messages } = signingReceiver(true);
    expect(messages.map((m) => m.type)).toEqual([PacketType.DELTA_SIG]);
    const actions = [copy(0, 0, CHUNK), sum(0)].flatMap((m) => [...receiver.receive(1, m)]);
    expect(failureOf(actions)).toBeUndefined();
    const write = actions.find((action) => action.type === 'writeChunk');
    expect(write?.type === 'writeChunk' && write.copies).toEqual([{ at: 0, from: 0, length: CHUNK }]);
    expect(sends(receiver.chunkWritten(0, 0, false)).map((m) => m.type)).toEqual([PacketType.RESEND]);
    // The signature goes on meanwhile, then FILE_READY.
    expect(sends(receiver.signaturePart(0, blocks(2))).map((m) => m.type)).toEqual([PacketType.DELTA_SIG]);
    expect(sends(receiver.fileCreated(0, { held: new Map(), stale: undefined })).map((m) => m.type)).toEqual([PacketType.FILE_READY]);
  });

  test.each<[string, boolean, Message[], string]>([
    ['a copy from past the blocks described so far', true, [copy(0, 4 * DELTA_SIG_UNIT - 10, 11)], 'FCP_ERR_PROTOCOL'],
    ['FILE_DONE before FILE_READY', true, [{ type: PacketType.FILE_DONE, fileId: 0, digest: Buffer.alloc(16) }], 'FCP_ERR_PROTOCOL'],
    ['a chunk before FILE_READY without DELTA_EARLY negotiated', false, [copy(0, 0, CHUNK)], 'FCP_ERR_PROTOCOL'],
  ])('the receiver refuses %s', (_name, deltaEarly, messages, code) => {
    const { receiver } = signingReceiver(deltaEarly);
    const actions = messages.flatMap((m) => [...receiver.receive(m.type === PacketType.FILE_DONE ? 0 : 1, m)]);
    expect(failureOf(actions)).toBe(code);
  });

  test('the receiver still refuses a chunk before FILE_READY for a file it described by no DELTA_SIG', () => {
    const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), delta: true, deltaEarly: true });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE });
    receiver.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: MTIME, digest: Buffer.alloc(16), path: PATH });
    expect(failureOf(receiver.receive(1, { type: PacketType.DATA, fileId: 0, seq: 0, data: Buffer.alloc(DATA_UNIT) }))).toBe('FCP_ERR_PROTOCOL');
  });

  test('a file that fails while it is signed drops the chunks still on their way, without a protocol error', () => {
    const { receiver } = signingReceiver(true);
    receiver.receive(1, copy(0, 0, DATA_UNIT));
    receiver.fileFailed(0, new FcpError('FCP_ERR_IO', 'disk full'));
    const actions = [copy(DATA_UNIT, 0, CHUNK - DATA_UNIT), sum(0), copy(CHUNK, 0, CHUNK)].flatMap((m) => [...receiver.receive(1, m)]);
    expect(failureOf(actions)).toBeUndefined();
  });

  test('the sender takes a RESEND before FILE_READY for a file described by DELTA_SIG only with DELTA_EARLY', () => {
    const resend: Message = { type: PacketType.RESEND, fileId: 0, seq: 0, length: CHUNK };
    for (const deltaEarly of [true, false]) {
      const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver', delta: true, deltaEarly });
      sender.start(1, SIZE);
      sender.announceFile(PATH, 0o644, SIZE, MTIME);
      expect(sender.receive(signatureMessages(0, blocks(2))[0]!).map((action) => action.type)).toEqual(['signatureStarted']);
      const actions = sender.receive(resend);
      expect({ deltaEarly, failure: failureOf(actions), resent: actions.some((action) => action.type === 'resendChunk') }).toEqual({
        deltaEarly,
        failure: deltaEarly ? undefined : 'FCP_ERR_PROTOCOL',
        resent: deltaEarly,
      });
    }
  });
});
