/**
 * The pure bookkeeping of lost data connections (src/session/dataLoss.ts): the ring of chunks a
 * connection carries unacknowledged, checked against a plain list, and the replacement budget;
 * and the receiver machine's side: a chunk cut off by a lost connection may come again, a
 * genuine duplicate may not.
 */
import fc from 'fast-check';
import { PacketType } from '../../../src/protocol/constants';
import { OutstandingChunks, REOPEN_ATTEMPTS, REOPENS_PER_CONNECTION, ReopenBudget, SLOT_LOSSES_MAX } from '../../../src/session/dataLoss';
import { requestScope } from '../../../src/session/entryScope';
import { TransferReceiver } from '../../../src/session/transfer';

type Step = { kind: 'write'; fileId: number; index: number } | { kind: 'ack'; ahead: number } | { kind: 'lose'; ahead: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), fileId: fc.nat(2 ** 32 - 1), index: fc.nat(2 ** 32 - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ack' as const), ahead: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), ahead: fc.nat(20) }) },
);

describe('OutstandingChunks', () => {
  it('gives back, at a loss, exactly the chunks written after the count received, in order, like a plain list', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 8, 16), fc.array(step, { maxLength: 200 }), (capacity, steps) => {
        const ring = new OutstandingChunks(capacity);
        // The model: every chunk written since the connection was attached, and how many were acknowledged.
        let written: [number, number][] = [];
        let acked = 0;
        for (const s of steps) {
          if (s.kind === 'write') {
            if (ring.room === 0) {
              expect(() => ring.push(s.fileId, s.index)).toThrow(RangeError);
              continue;
            }
            ring.push(s.fileId, s.index);
            written.push([s.fileId, s.index]);
          } else {
            // A count anywhere from what was acknowledged to past what was written.
            const count = acked + s.ahead;
            const valid = count <= written.length;
            if (s.kind === 'ack') {
              expect(ring.ack(count) === undefined).toBe(valid);
              if (valid) acked = count;
            } else {
              const lost: [number, number][] = [];
              const problem = ring.lose(count, (fileId, index) => lost.push([fileId, index]));
              expect(problem === undefined).toBe(valid);
              if (valid) {
                expect(lost).toEqual(written.slice(count));
                written = [];
                acked = 0;
              } else {
                expect(lost).toEqual([]);
              }
            }
          }
          expect({ size: ring.size, room: ring.room }).toEqual({ size: written.length - acked, room: capacity - (written.length - acked) });
        }
      }),
    );
  });

  it('refuses a count below the last acknowledgement', () => {
    const ring = new OutstandingChunks(8);
    for (let i = 0; i < 5; i++) ring.push(1, i);
    expect(ring.ack(3)).toBeUndefined();
    expect(ring.ack(2)).toMatch(/2 chunks received, but 5 were sent \(3 acknowledged before\)/);
    expect(ring.lose(1, () => undefined)).toMatch(/1 chunks received/);
  });

  it('takes only a power of two as its capacity', () => {
    expect(() => new OutstandingChunks(12)).toThrow(RangeError);
  });
});

describe('ReopenBudget', () => {
  it('allows a few dials with a growing delay per loss, a few losses per index, and a cap for the session', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.record({ index: fc.integer({ min: 1, max: 8 }), dials: fc.nat(5) }), { maxLength: 40 }), (connections, losses) => {
        const budget = new ReopenBudget(connections);
        const lostTimes = new Map<number, number>();
        let dials = 0;
        for (const loss of losses) {
          const index = Math.min(loss.index, connections);
          lostTimes.set(index, (lostTimes.get(index) ?? 0) + 1);
          const reopen = budget.lost(index);
          expect(reopen).toBe(lostTimes.get(index)! < SLOT_LOSSES_MAX && dials < REOPENS_PER_CONNECTION * connections);
          if (!reopen) continue;
          let previous = 0;
          for (let attempt = 0; attempt < loss.dials; attempt++) {
            const delay = budget.nextDial(attempt);
            if (attempt >= REOPEN_ATTEMPTS || dials >= REOPENS_PER_CONNECTION * connections) {
              expect(delay).toBeUndefined();
              break;
            }
            expect(delay).toBeGreaterThan(previous);
            previous = delay!;
            dials++;
          }
        }
        expect(dials).toBeLessThanOrEqual(REOPENS_PER_CONNECTION * connections);
      }),
    );
  });
});

describe('TransferReceiver with RECONNECT', () => {
  const CHUNK = 64 * 1024;
  const FILE = Buffer.from('f');

  /** A receiver with one ready file of two chunks. */
  function ready(): TransferReceiver {
    const r = new TransferReceiver({ chunkSize: CHUNK, peerName: 'client test', scope: requestScope(0, true), reconnect: true });
    r.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 2 * CHUNK });
    r.receive(0, { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: 2 * CHUNK, mtimeNs: 0n, digest: Buffer.alloc(16), path: FILE });
    r.fileCreated(0);
    return r;
  }
  const data = (seq: number) => ({ type: PacketType.DATA, fileId: 0, seq, data: Buffer.alloc(57344) }) as const;
  const sum = { type: PacketType.CHUNK_SUM, fileId: 0, seq: 0, length: CHUNK, hash: 1n } as const;
  const types = (actions: readonly { type: string }[]) => actions.map((a) => ('message' in a ? `send ${(a as { message: { type: number } }).message.type}` : a.type));

  it('takes a chunk cut off by a lost connection again, from its first DATA, on another connection', () => {
    const r = ready();
    expect(r.receive(1, data(0))).toEqual([]);
    expect(r.connectionLost(1)).toEqual([{ type: 'send', message: { type: PacketType.DATA_LOST, connIndex: 1, chunks: 0 } }]);
    expect(r.receive(2, data(0))).toEqual([]);
    expect(r.receive(2, { ...data(7), data: Buffer.alloc(CHUNK - 57344) })).toEqual([]);
    expect(types(r.receive(2, sum))).toEqual(['writeChunk']);
  });

  it('still refuses a chunk that came whole coming again, and counts it in DATA_LOST', () => {
    const r = ready();
    r.receive(1, data(0));
    r.receive(1, { ...data(7), data: Buffer.alloc(CHUNK - 57344) });
    r.receive(1, sum);
    expect(r.connectionLost(1)).toEqual([{ type: 'send', message: { type: PacketType.DATA_LOST, connIndex: 1, chunks: 1 } }]);
    expect(r.receive(2, data(0))).toEqual([expect.objectContaining({ type: 'fail', error: expect.objectContaining({ code: 'FCP_ERR_PROTOCOL' }) })]);
  });

  it('takes the sender\'s answer to its own DATA_LOST once, and refuses one it did not ask for', () => {
    const r = ready();
    r.connectionLost(3);
    expect(r.receive(0, { type: PacketType.DATA_LOST, connIndex: 3, chunks: 0 })).toEqual([{ type: 'dataLostAnswered', connIndex: 3 }]);
    expect(r.receive(0, { type: PacketType.DATA_LOST, connIndex: 3, chunks: 0 })).toEqual([
      expect.objectContaining({ type: 'fail', error: expect.objectContaining({ code: 'FCP_ERR_PROTOCOL' }) }),
    ]);
  });

  it('refuses DATA_LOST in a session without RECONNECT', () => {
    const r = new TransferReceiver({ chunkSize: CHUNK, peerName: 'client test', scope: requestScope(0, true) });
    r.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 1 });
    expect(r.receive(0, { type: PacketType.DATA_LOST, connIndex: 1, chunks: 0 })).toEqual([
      expect.objectContaining({ type: 'fail', error: expect.objectContaining({ code: 'FCP_ERR_UNEXPECTED_MESSAGE' }) }),
    ]);
  });
});
