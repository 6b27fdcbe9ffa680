/**
 * Incremental frame decoder over a byte stream. Feed it slices of any size with push(); pull
 * whole frames with next(). It refuses a frame as soon as its header shows an unknown type or a
 * length its type cannot have, so it never buffers or allocates more than one frame's declared
 * length; a frame that lies inside one pushed slice is returned as a view, without a copy.
 * After the first error every call throws that error again: a stream is not resynchronised.
 */
import { asFcpError, FcpError } from '../errors';
import {
  CHKSUM_OFFSET,
  ChksumCoverage,
  ChksumCoverageValue,
  DATA_HEADER_SIZE,
  GCM_TAG_SIZE,
  HEADER_SIZE,
  LENGTH_OFFSET,
  PacketType,
  packetTypeName,
} from './constants';
import { checksumOfParts, coveredPayload } from './chksum';
import { CipherHandOff, FrameOpener, Sealing } from './frameCipher';
import { payloadBounds } from './layouts';
import { unknownType } from './parser';
import type { XXHashAPI } from './xxhash';

export interface RawFrame {
  type: number;
  /**
   * The plaintext payload: a view into pushed input when the frame lay inside one slice and was
   * not sealed, else a Buffer of its own.
   */
  payload: Buffer;
}

/**
 * From nextPieces(): a DATA payload that spans pushed slices, as views of them (or, sealed, the
 * plaintext of each), in order, instead of a copy joining them. Most DATA frames straddle the
 * 64 KiB reads of a socket, and joining them cost a copy of every byte received.
 */
export interface PiecesFrame {
  type: number;
  pieces: Buffer[];
}

/**
 * From nextPieces() once the opening was handed off (handOffOpening): a frame as it came, checked
 * but not opened, its payload (ciphertext ‖ tag) as views of pushed input.
 */
export interface SealedFrame {
  type: number;
  sealed: Buffer[];
}

const NOTHING = Buffer.alloc(0);

export class FrameDecoder {
  private coverage: ChksumCoverageValue = ChksumCoverage.FULL;
  private opener: FrameOpener | undefined;
  /** Sealed payloads are returned unopened, for whoever took the opening over. */
  private openedElsewhere = false;
  private tagSize = 0;

  private readonly slices: Buffer[] = [];
  /** Read position in slices[0]. */
  private offset = 0;
  private buffered = 0;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private failure: FcpError | undefined;

  /** The covered start of a DATA payload in pieces, for its checksum. */
  private readonly dataHead = Buffer.alloc(DATA_HEADER_SIZE);

  constructor(private readonly xxh: XXHashAPI) {}

  /** From the next frame on, open sealed payloads as `sealing` says (none: plain frames) and check the given coverage. */
  setSealing(sealing: Sealing | undefined, coverage: ChksumCoverageValue): void {
    this.opener = sealing && new FrameOpener(sealing);
    this.tagSize = sealing ? GCM_TAG_SIZE : 0;
    this.coverage = coverage;
  }

  /**
   * From the next frame on, sealed payloads are not opened here: nextPieces returns each frame as
   * a SealedFrame, in order, for whoever goes on with the returned sealing and count (an opening
   * thread, src/wire/cryptoThreads.ts). Undefined, and nothing changes, while frames are not sealed.
   */
  handOffOpening(): CipherHandOff | undefined {
    if (!this.opener) return undefined;
    const handOff: CipherHandOff = { sealing: this.opener.sealing, count: this.opener.counter.words };
    this.opener = undefined;
    this.openedElsewhere = true;
    return handOff;
  }

  /** Bytes received and not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  push(slice: Buffer): void {
    if (this.failure) throw this.failure;
    if (slice.length === 0) return;
    this.slices.push(slice);
    this.buffered += slice.length;
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws FcpError on a bad frame. */
  next(): RawFrame | undefined {
    if (this.openedElsewhere) throw new FcpError('FCP_ERR_INTERNAL', 'frames are opened elsewhere: read them with nextSealed');
    return this.attempt(false) as RawFrame | undefined;
  }

  /** next(), but a DATA payload spanning pushed slices comes as pieces. */
  nextPieces(): RawFrame | PiecesFrame | undefined {
    if (this.openedElsewhere) throw new FcpError('FCP_ERR_INTERNAL', 'frames are opened elsewhere: read them with nextSealed');
    return this.attempt(true) as RawFrame | PiecesFrame | undefined;
  }

  /** After handOffOpening: the next whole frame, checked and still sealed, or undefined until more bytes arrive. */
  nextSealed(): SealedFrame | undefined {
    if (!this.openedElsewhere) throw new FcpError('FCP_ERR_INTERNAL', 'frames are opened here: read them with nextPieces');
    return this.attempt(true) as SealedFrame | undefined;
  }

  private attempt(dataPieces: boolean): RawFrame | PiecesFrame | SealedFrame | undefined {
    if (this.failure) throw this.failure;
    if (this.buffered < HEADER_SIZE) return undefined;
    try {
      return this.take(dataPieces);
    } catch (err) {
      this.failure = asFcpError(err, 'the frame decoder');
      throw this.failure;
    }
  }

  /** The stream ended: a partial frame left over is an error. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0) {
      this.failure = new FcpError(
        'FCP_ERR_TRUNCATED',
        `stream ended inside a frame (${this.buffered} bytes of an incomplete frame)`,
      );
      throw this.failure;
    }
  }

  private take(dataPieces: boolean): RawFrame | PiecesFrame | SealedFrame | undefined {
    const header = this.header;
    this.copyOut(header, HEADER_SIZE);
    const type = header[0]!;
    const length = header.readUInt16BE(LENGTH_OFFSET);
    const bounds = payloadBounds(type);
    if (!bounds) throw unknownType(type);
    const plainLength = length - this.tagSize;
    if (plainLength < bounds.min || plainLength > bounds.max) {
      const sealed = this.tagSize ? ` plus a ${this.tagSize}-byte tag` : '';
      throw new FcpError(
        'FCP_ERR_BAD_LENGTH',
        `${packetTypeName[type]} frame declares a ${length}-byte payload; its type allows ${bounds.min}..${bounds.max}${sealed}`,
      );
    }
    const expected = header.readUInt32BE(CHKSUM_OFFSET);
    header.writeUInt32BE(0, CHKSUM_OFFSET);
    if (this.coverage === ChksumCoverage.HEADER) this.verify(type, expected, header, NOTHING);
    if (this.buffered < HEADER_SIZE + length) return undefined;

    this.consume(HEADER_SIZE);
    if (this.openedElsewhere) return { type, sealed: this.checkedPieces(type, expected, header, length) };
    if (dataPieces && type === PacketType.DATA && !this.inFirstSlice(length)) {
      const pieces = this.checkedPieces(type, expected, header, length);
      return { type, pieces: this.opener ? this.opener.openPieces(header, pieces) : pieces };
    }
    const payload = this.readPayload(length);
    if (this.coverage === ChksumCoverage.FULL) this.verify(type, expected, header, payload.subarray(0, coveredPayload(type, length, this.coverage)));
    return { type, payload: this.opener ? this.opener.open(header, payload) : payload };
  }

  private verify(type: number, expected: number, header: Buffer, covered: Buffer): void {
    const actual = checksumOfParts(this.xxh, header, covered);
    if (actual !== expected) {
      throw new FcpError(
        'FCP_ERR_BAD_CHECKSUM',
        `${packetTypeName[type]} frame failed its checksum (got 0x${actual.toString(16)}, frame says 0x${expected.toString(16)})`,
        { hint: 'the data was corrupted on the way; retry, and check the network path if it repeats' },
      );
    }
  }

  /** The payload of `length` bytes as views of the slices, its covered start checked, consumed. */
  private checkedPieces(type: number, expected: number, header: Buffer, length: number): Buffer[] {
    if (this.coverage === ChksumCoverage.FULL) {
      const covered = this.dataHead.subarray(0, coveredPayload(type, length, this.coverage));
      this.copyOut(covered, covered.length);
      this.verify(type, expected, header, covered);
    }
    const pieces: Buffer[] = [];
    let offset = this.offset;
    for (let i = 0, left = length; left > 0; i++, offset = 0) {
      const slice = this.slices[i]!;
      const end = Math.min(slice.length, offset + left);
      if (end > offset) pieces.push(slice.subarray(offset, end));
      left -= end - offset;
    }
    this.consume(length);
    return pieces;
  }

  private inFirstSlice(length: number): boolean {
    const first = this.slices[0];
    return first !== undefined && first.length - this.offset >= length;
  }

  /** The next `length` bytes as a view of slices[0] when they lie in it, else as one new Buffer. */
  private readPayload(length: number): Buffer {
    if (this.inFirstSlice(length)) {
      const view = this.slices[0]!.subarray(this.offset, this.offset + length);
      this.consume(length);
      return view;
    }
    const copy = Buffer.allocUnsafe(length);
    this.copyOut(copy, length);
    this.consume(length);
    return copy;
  }

  /** Copies the next `length` buffered bytes into target without consuming them. */
  private copyOut(target: Buffer, length: number): void {
    let offset = this.offset;
    for (let i = 0, copied = 0; copied < length; i++, offset = 0) {
      const slice = this.slices[i]!;
      copied += slice.copy(target, copied, offset, Math.min(slice.length, offset + length - copied));
    }
  }

  private consume(length: number): void {
    this.buffered -= length;
    // Slices used up are dropped in one splice: shifting one at a time is quadratic when a
    // frame arrives a byte per slice.
    let used = 0;
    let offset = this.offset;
    while (length > 0) {
      const left = this.slices[used]!.length - offset;
      if (length < left) {
        offset += length;
        break;
      }
      length -= left;
      used++;
      offset = 0;
    }
    if (used > 0) this.slices.splice(0, used);
    this.offset = offset;
  }
}
