/** What the delta tests share: random edits of a file, and the file a plan rebuilds. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Piece } from '../../../src/delta/plan';

/** What the receiver builds: copies from the old bytes, literals from the new. */
export function apply(pieces: readonly Piece[], oldBytes: Buffer, newBytes: Buffer): Buffer {
  return Buffer.concat(pieces.map((piece) => (piece.from === undefined ? newBytes.subarray(piece.at, piece.at + piece.length) : oldBytes.subarray(piece.from, piece.from + piece.length))));
}

export type Edit =
  | { kind: 'rewrite'; at: number; length: number }
  | { kind: 'insert'; at: number; length: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; length: number }
  | { kind: 'duplicate'; at: number; from: number; length: number };

export const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('rewrite' as const), at: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x), length: fc.integer({ min: 1, max: 40_000 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 40_000 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 40_000 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('append' as const), length: fc.integer({ min: 1, max: 40_000 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), from: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 100_000 }) }),
) as fc.Arbitrary<Edit>;

export function applyEdit(data: Buffer, change: Edit): Buffer {
  if (change.kind === 'append') return Buffer.concat([data, randomBytes(change.length)]);
  const at = Math.floor(change.at * data.length);
  switch (change.kind) {
    case 'rewrite': {
      const copy = Buffer.from(data);
      randomBytes(Math.min(change.length, data.length - at)).copy(copy, at);
      return copy;
    }
    case 'insert':
      return Buffer.concat([data.subarray(0, at), randomBytes(change.length), data.subarray(at)]);
    case 'delete':
      return Buffer.concat([data.subarray(0, at), data.subarray(at + change.length)]);
    case 'truncate':
      return data.subarray(0, at);
    case 'duplicate': {
      // A range of the file copied elsewhere in it: the same blocks twice.
      const from = Math.floor(change.from * data.length);
      return Buffer.concat([data.subarray(0, at), data.subarray(from, from + change.length), data.subarray(at)]);
    }
  }
}
