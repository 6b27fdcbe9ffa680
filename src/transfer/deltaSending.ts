/**
 * A file the sender sends as a delta, as its plan comes chunk by chunk (regions.ts): the chunks
 * planned and not yet handed to a pump, each one's pieces until it is sent, and its chunks' hashes
 * as its scan reads them. With DELTA_EARLY the plan grows while the receiver still signs, and the
 * pumps send each chunk as it is planned; without it, all of it is planned at FILE_READY.
 */
import type { SignedBlock } from '../delta/blocks';
import type { Piece } from '../delta/plan';
import { RegionPlanner } from '../delta/regions';
import { SignatureIndex } from '../delta/signatureIndex';
import type { FileScan } from './deltaFrames';

export class DeltaSending {
  private readonly planner: RegionPlanner;
  private readonly index = new SignatureIndex();
  /** Planned chunks not yet taken, in the order they were planned. */
  private readonly ready: number[] = [];
  /** The pieces of each planned chunk until it is sent (a chunk sent again goes whole). */
  private readonly pieces = new Map<number, Piece[]>();
  /** The xxh64 of each chunk read so far (the scan's list, which grows). */
  private chunkHashes: readonly bigint[] = [];
  /** The signature is whole (FILE_READY came): the last chunks are planned, and FILE_DONE may follow the last chunk sent. */
  whole = false;
  /** The file is in the send queue: it has chunks ready, or had when it was queued. */
  queued = false;

  /**
   * signature: the receiver's blocks, the list that grows as DELTA_SIG comes; `scan`: the scan of
   * the file, which settles when it is over (undefined when it stopped).
   */
  constructor(
    size: number,
    chunkSize: number,
    private readonly signature: readonly SignedBlock[],
    readonly scan: Promise<FileScan | undefined>,
  ) {
    this.planner = new RegionPlanner(size, chunkSize);
  }

  /** Plans the chunks the scan so far settles (all of them once the signature is whole and the scan over); how many it planned. */
  advance(scan: FileScan, covered: number): number {
    this.chunkHashes = scan.chunkHashes;
    this.index.catchUp(this.signature);
    const plans = this.planner.advance(scan.blocks, covered, this.index, this.whole);
    for (const { index, pieces } of plans) {
      this.pieces.set(index, pieces);
      this.ready.push(index);
    }
    return plans.length;
  }

  /** The next planned chunk, or undefined. */
  take(): number | undefined {
    return this.ready.shift();
  }

  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  /** The pieces of a planned chunk not yet sent. */
  piecesOf(index: number): Piece[] | undefined {
    return this.pieces.get(index);
  }

  /** The xxh64 of chunk `index`, as the scan read it. */
  chunkHash(index: number): bigint {
    return this.chunkHashes[index]!;
  }

  /** The chunk went: its pieces are not needed again. */
  sent(index: number): void {
    this.pieces.delete(index);
  }
}
