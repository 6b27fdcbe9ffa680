/**
 * Resume between the two pure machines (PROTOCOL.md §7.5): the receiver claims the chunks an
 * interrupted run left (CHUNKS_HELD), the sender reads and hashes each claimed chunk and keeps it
 * (CHUNK_KEPT) only when its own hash matches; every other chunk is sent. Whatever the claims,
 * the receiver ends with the sender's hashes (its whole-file digest checks out) and the chunks
 * sent are exactly the missing and the wrongly claimed ones.
 */
import fc from 'fast-check';
import { DATA_FRAME_BYTES, DATA_UNIT, HASH_SIZE, MAX_HELD_HASHES, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { chunkCount, FileDigest } from '../../../src/session/digest';
import { EntryScope } from '../../../src/session/entryScope';
import { heldMessages, TransferAction, TransferReceiver, TransferSender } from '../../../src/session/transfer';
import { numRuns } from '../protocol/fuzzRuns';

const CHUNK = MIN_CHUNK_SIZE;
const PATH = Buffer.from('f');
const MTIME = 1_700_000_000_000_000_000n;

const sends = (actions: readonly TransferAction[]): Message[] =>
  actions.flatMap((action) => (action.type === 'send' ? [action.message] : []));

function expectNoFailure(actions: readonly TransferAction[]): void {
  const failed = actions.find((action) => action.type === 'fail');
  expect(failed && failed.type === 'fail' ? failed.error.message : undefined).toBeUndefined();
}

/** Delivers every message the sender's actions send to the receiver; returns the receiver's actions. */
function toReceiver(receiver: TransferReceiver, actions: readonly TransferAction[]): TransferAction[] {
  expectNoFailure(actions);
  return sends(actions).flatMap((message) => [...receiver.receive(0, message)]);
}

function toSender(sender: TransferSender, actions: readonly TransferAction[]): TransferAction[] {
  expectNoFailure(actions);
  return sends(actions).flatMap((message) => [...sender.receive(message)]);
}

/** The DATA frames of a chunk, then its CHUNK_SUM (the machine checks framing, not bytes). */
function chunkFrames(offset: number, length: number, hash: bigint): Message[] {
  const frames: Message[] = [];
  for (let at = offset; at < offset + length; at += DATA_FRAME_BYTES) {
    const data = Buffer.alloc(Math.min(DATA_FRAME_BYTES, offset + length - at));
    frames.push({ type: PacketType.DATA, fileId: 0, seq: at / DATA_UNIT, data });
  }
  frames.push({ type: PacketType.CHUNK_SUM, fileId: 0, seq: offset / DATA_UNIT, length, hash });
  return frames;
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** A file, the sender's chunk hashes, and the receiver's claims: some right, some wrong. */
const scenario = fc
  .integer({ min: 1, max: 40 * CHUNK })
  .chain((size) => {
    const chunks = chunkCount(size, CHUNK);
    const claim = fc.option(fc.oneof(fc.constant<'right'>('right'), u64), { nil: undefined });
    return fc.record({
      size: fc.constant(size),
      own: fc.array(u64, { minLength: chunks, maxLength: chunks }),
      claims: fc.array(claim, { minLength: chunks, maxLength: chunks }),
      order: fc.shuffledSubarray([...Array(chunks).keys()], { minLength: chunks, maxLength: chunks }),
    });
  });

test('the sender sends exactly the chunks not claimed or claimed with another hash, and the file verifies', () => {
  fc.assert(
    fc.property(scenario, ({ size, own, claims, order }) => {
      const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver', resume: true });
      const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), resume: true });
      toReceiver(receiver, sender.start(1, size));
      const create = toReceiver(receiver, sender.announceFile(PATH, 0o644, size, MTIME));
      expect(create.map((action) => action.type)).toEqual(['createFile']);
      const held = new Map<number, bigint>();
      claims.forEach((claim, index) => {
        if (claim !== undefined) held.set(index, claim === 'right' ? own[index]! : claim);
      });
      const ready = toSender(sender, receiver.fileCreated(0, { held, stale: undefined }));
      expect(ready).toEqual([{ type: 'sendFile', fileId: 0, claimed: held.size > 0 ? new Set(held.keys()) : undefined }]);

      const sent: number[] = [];
      let receiverResumed = 0;
      for (const index of order) {
        const length = Math.min(CHUNK, size - index * CHUNK);
        const kept = held.has(index) ? sender.chunkRead(0, index, own[index]!) : undefined;
        if (kept) {
          const after = toReceiver(receiver, kept);
          for (const action of after) if (action.type === 'chunkKept') receiverResumed += action.bytes;
          expect(after.filter((action) => action.type !== 'chunkKept')).toEqual([]);
          continue;
        }
        sent.push(index);
        const writes = chunkFrames(index * CHUNK, length, own[index]!).flatMap((frame) => [...receiver.receive(1, frame)]);
        expect(writes.map((action) => action.type)).toEqual(['writeChunk']);
        expectNoFailure(receiver.chunkWritten(0, (index * CHUNK) / DATA_UNIT, true));
      }
      const expectedSent = own.map((_, index) => index).filter((index) => held.get(index) !== own[index]);
      expect(sent.sort((a, b) => a - b)).toEqual(expectedSent);

      const digest = new FileDigest(size, CHUNK);
      own.forEach((hash, index) => digest.add(index, hash));
      const commit = toReceiver(receiver, sender.fileSent(0, digest.digest()));
      expect(commit).toEqual([{ type: 'commitFile', fileId: 0 }]);
      toSender(sender, receiver.fileCommitted(0));
      expect(toReceiver(receiver, sender.finish())).toEqual([{ type: 'finish' }]);
      const receiverDone = receiver.finished();
      const senderDone = toSender(sender, receiverDone);
      const resumed = size - expectedSent.reduce((sum, index) => sum + Math.min(CHUNK, size - index * CHUNK), 0);
      expect(receiverResumed).toBe(resumed);
      const summary = (actions: readonly TransferAction[]) => actions.find((action) => action.type === 'complete');
      expect(summary(receiverDone)).toMatchObject({ filesOk: 1, bytes: size, bytesResumed: resumed });
      expect(summary(senderDone)).toMatchObject({ filesOk: 1, bytes: size, bytesResumed: resumed });
    }),
    { numRuns: numRuns(200) },
  );
});

test('CHUNKS_HELD is cut into runs of consecutive chunks, none over MAX_HELD_HASHES', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 3 * MAX_HELD_HASHES }), { maxLength: 2 * MAX_HELD_HASHES }), u64, (indexes, hash) => {
      const held = new Map(indexes.map((index) => [index, hash ^ BigInt(index)]));
      const claimed = new Map<number, bigint>();
      for (const message of heldMessages(7, held)) {
        const count = message.hashes.length / HASH_SIZE;
        expect(count).toBeGreaterThan(0);
        expect(count).toBeLessThanOrEqual(MAX_HELD_HASHES);
        for (let i = 0; i < count; i++) claimed.set(message.firstIndex + i, message.hashes.readBigUInt64BE(i * HASH_SIZE));
      }
      expect(claimed).toEqual(held);
    }),
    { numRuns: numRuns(30) },
  );
});

describe('what a peer may not do with resume', () => {
  function readyPair(held: Map<number, bigint>): { sender: TransferSender; receiver: TransferReceiver } {
    const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver', resume: true });
    const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }), resume: true });
    toReceiver(receiver, sender.start(1, 3 * CHUNK));
    toReceiver(receiver, sender.announceFile(PATH, 0o644, 3 * CHUNK, MTIME));
    toSender(sender, receiver.fileCreated(0, { held, stale: undefined }));
    return { sender, receiver };
  }
  const failureOf = (actions: readonly TransferAction[]): string | undefined => {
    const failed = actions.find((action) => action.type === 'fail');
    return failed?.type === 'fail' ? failed.error.code : undefined;
  };

  test('CHUNK_KEPT for a chunk the receiver does not hold is FCP_ERR_PROTOCOL', () => {
    const { receiver } = readyPair(new Map([[0, 1n]]));
    expect(failureOf(receiver.receive(0, { type: PacketType.CHUNK_KEPT, fileId: 0, index: 1 }))).toBe('FCP_ERR_PROTOCOL');
  });

  test('CHUNKS_HELD past the last chunk, or after FILE_READY, is FCP_ERR_PROTOCOL', () => {
    const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver', resume: true });
    sender.start(1, 3 * CHUNK);
    sender.announceFile(PATH, 0o644, 3 * CHUNK, MTIME);
    const tooFar = { type: PacketType.CHUNKS_HELD, fileId: 0, firstIndex: 2, hashes: Buffer.alloc(2 * HASH_SIZE) } as const;
    expect(failureOf(sender.receive(tooFar))).toBe('FCP_ERR_PROTOCOL');
    const { sender: ready } = readyPair(new Map());
    expect(failureOf(ready.receive({ ...tooFar, firstIndex: 0, hashes: Buffer.alloc(HASH_SIZE) }))).toBe('FCP_ERR_PROTOCOL');
  });

  test('without RESUME negotiated, CHUNKS_HELD and CHUNK_KEPT are FCP_ERR_UNEXPECTED_MESSAGE', () => {
    const sender = new TransferSender({ chunkSize: CHUNK, peerName: 'receiver' });
    sender.start(1, 3 * CHUNK);
    sender.announceFile(PATH, 0o644, 3 * CHUNK, MTIME);
    expect(failureOf(sender.receive({ type: PacketType.CHUNKS_HELD, fileId: 0, firstIndex: 0, hashes: Buffer.alloc(HASH_SIZE) }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
    const receiver = new TransferReceiver({ chunkSize: CHUNK, peerName: 'sender', scope: new EntryScope({ recursive: false, singleRoot: true }) });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 1 });
    expect(failureOf(receiver.receive(0, { type: PacketType.CHUNK_KEPT, fileId: 0, index: 0 }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
  });
});
