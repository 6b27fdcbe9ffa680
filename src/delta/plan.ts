/**
 * The sender's plan for a file the receiver holds an older version of (PROTOCOL.md §7.7): the new
 * file as consecutive pieces, each either copied from a range of the old file (DELTA_COPY) or sent
 * as literal bytes (DATA). Literal pieces start and end on DATA_UNIT boundaries (DATA's seq counts
 * in those units), or at the end of the file; the copies around them give up the bytes they overlap.
 */
import { DATA_UNIT } from '../protocol/constants';
import type { Block, SignedBlock } from './blocks';
import { SignatureIndex } from './signatureIndex';

/** `length` bytes of the new file at `at`: copied from the old file at `from`, or literal when `from` is undefined. */
export interface Piece {
  at: number;
  length: number;
  from?: number;
}

/** A piece copied from the old file. */
export type CopyPiece = Required<Piece>;

/** Appends a piece, merged into the last one when it continues it (literal after literal, copy after its old neighbour). */
function append(pieces: Piece[], piece: Piece): void {
  const last = pieces[pieces.length - 1];
  const continues = last !== undefined && (last.from === undefined ? piece.from === undefined : piece.from === last.from + last.length);
  if (continues) last.length += piece.length;
  else pieces.push(piece);
}

/**
 * The pieces of a new file of `size` bytes whose blocks are `blocks`, given the old file's
 * signature: a block whose length and hash the signature holds is copied, any other is literal.
 */
export function planDelta(signature: readonly SignedBlock[], blocks: readonly Block[], size: number): Piece[] {
  const index = new SignatureIndex(signature);
  const matched: Piece[] = [];
  for (const block of blocks) {
    const old = index.blocks[index.find(block.length, block.hash)];
    append(matched, old ? { at: block.offset, length: block.length, from: old.offset } : { at: block.offset, length: block.length });
  }
  return alignLiterals(matched, size);
}

/** Widens every literal piece to DATA_UNIT boundaries (or the end of the file) and trims the copies it now overlaps. */
export function alignLiterals(pieces: readonly Piece[], size: number): Piece[] {
  const literals: { start: number; end: number }[] = [];
  for (const piece of pieces) {
    if (piece.from !== undefined) continue;
    const start = Math.floor(piece.at / DATA_UNIT) * DATA_UNIT;
    const end = Math.min(size, Math.ceil((piece.at + piece.length) / DATA_UNIT) * DATA_UNIT);
    const last = literals[literals.length - 1];
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else literals.push({ start, end });
  }
  const aligned: Piece[] = [];
  let next = 0;
  for (const piece of pieces) {
    if (piece.from === undefined) continue;
    // The literals before this copy, and the parts of it that they leave.
    let at = piece.at;
    const end = piece.at + piece.length;
    while (at < end) {
      while (next < literals.length && literals[next]!.end <= at) next++;
      const literal = literals[next];
      if (literal && literal.start <= at) {
        at = literal.end;
        continue;
      }
      const stop = literal ? Math.min(end, literal.start) : end;
      append(aligned, { at, length: stop - at, from: piece.from + (at - piece.at) });
      at = stop;
    }
  }
  return mergeInOrder(aligned, literals.map(({ start, end }) => ({ at: start, length: end - start })));
}

/** Copies and literals (each in order, not overlapping) as one list in file order. */
function mergeInOrder(copies: readonly Piece[], literals: readonly Piece[]): Piece[] {
  const merged: Piece[] = [];
  let c = 0;
  let l = 0;
  while (c < copies.length || l < literals.length) {
    const takeCopy = l === literals.length || (c < copies.length && copies[c]!.at < literals[l]!.at);
    merged.push(takeCopy ? copies[c++]! : literals[l++]!);
  }
  return merged;
}

/** The pieces within [start, end) of the file, cut at its edges (a chunk's share of the plan). */
export function piecesIn(pieces: readonly Piece[], start: number, end: number): Piece[] {
  // The first piece that ends after start: binary search, the plan of a large file has thousands.
  let low = 0;
  let high = pieces.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (pieces[mid]!.at + pieces[mid]!.length <= start) low = mid + 1;
    else high = mid;
  }
  const inside: Piece[] = [];
  for (let i = low; i < pieces.length && pieces[i]!.at < end; i++) {
    const piece = pieces[i]!;
    const from = Math.max(start, piece.at);
    const to = Math.min(end, piece.at + piece.length);
    inside.push(piece.from === undefined ? { at: from, length: to - from } : { at: from, length: to - from, from: piece.from + (from - piece.at) });
  }
  return inside;
}

/** Bytes of the pieces that are copied. */
export function copiedBytes(pieces: readonly Piece[]): number {
  let bytes = 0;
  for (const piece of pieces) if (piece.from !== undefined) bytes += piece.length;
  return bytes;
}
