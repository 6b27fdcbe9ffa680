/**
 * The receiver's FILE_SAME ids (src/session/idRanges.ts): runs of ids that answer like a plain set,
 * and cost one record per run, not per file.
 */
import fc from 'fast-check';
import { DIGEST_SIZE, MIN_CHUNK_SIZE, PacketType } from '../../../src/protocol';
import { IdRanges } from '../../../src/session/idRanges';
import { EntryScope } from '../../../src/session/entryScope';
import { TransferReceiver } from '../../../src/session/transfer';

/** Runs in a sorted list of distinct ids: how many maximal stretches of consecutive ids. */
const runsOf = (ids: Set<number>): number => [...ids].sort((a, b) => a - b).filter((id, i, sorted) => i === 0 || sorted[i - 1] !== id - 1).length;

describe('IdRanges', () => {
  it('holds exactly the ids added, in as many runs as they make, in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(60), { maxLength: 120 }), fc.array(fc.nat(70), { maxLength: 40 }), (added, probes) => {
        const ranges = new IdRanges();
        const model = new Set<number>();
        for (const id of added) {
          ranges.add(id);
          model.add(id);
          expect(ranges.runs).toBe(runsOf(model));
        }
        for (const id of [...added, ...probes]) expect(ranges.has(id)).toBe(model.has(id));
      }),
    );
  });

  it('holds ids added out of order as one run once the gaps are filled', () => {
    const ranges = new IdRanges();
    for (const id of [5, 3, 1, 0, 2, 4]) ranges.add(id);
    expect(ranges.runs).toBe(1);
    expect([-1, 0, 5, 6].map((id) => ranges.has(id))).toEqual([false, true, true, false]);
  });
});

describe('TransferReceiver', () => {
  it('keeps no record per file the quick check answered FILE_SAME, and still drops a FILE_ERROR that crossed an answer', () => {
    const files = 2000;
    const machine = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: new EntryScope({ recursive: true, singleRoot: false }) });
    machine.receive(0, { type: PacketType.FILE_COUNT, count: files, totalBytes: files * 5 });
    for (let fileId = 0; fileId < files; fileId++) {
      const path = Buffer.from(`f${fileId}`);
      machine.receive(0, { type: PacketType.FILE_INFO, fileId, perm: 0o644, size: 5, mtimeNs: 0n, digest: Buffer.alloc(DIGEST_SIZE), path });
      const answered = machine.fileSame(fileId);
      expect(answered).toContainEqual(expect.objectContaining({ type: 'send', message: { type: PacketType.FILE_SAME, fileId } }));
    }
    expect(machine.fileRecords).toBe(1);
    const crossed = machine.receive(0, { type: PacketType.FILE_ERROR, fileId: 1234, code: 1, message: 'unreadable' });
    expect(crossed).toEqual([]);
    const unknown = machine.receive(0, { type: PacketType.FILE_ERROR, fileId: files, code: 1, message: 'never announced' });
    expect(unknown).toContainEqual(expect.objectContaining({ type: 'fail' }));
  });
});
