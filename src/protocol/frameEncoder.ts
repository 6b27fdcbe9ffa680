/**
 * Frames to bytes. Every frame is written with its header and payload in one Buffer (one
 * socket write each), and a run of DATA frames can be written into one caller-owned Buffer.
 */
import { FcpError } from '../errors';
import {
  CHKSUM_OFFSET,
  ChksumCoverage,
  ChksumCoverageValue,
  DATA_FRAME_BYTES,
  DATA_HEADER_SIZE,
  DATA_UNIT,
  GCM_TAG_SIZE,
  HEADER_SIZE,
  LENGTH_OFFSET,
  MAX_PAYLOAD,
  PacketType,
  packetTypeName,
} from './constants';
import { batchEntriesLength, writeBatchEntries } from './batch';
import { checksumOfFrame } from './chksum';
import { CipherHandOff, FrameSealer, Sealing } from './frameCipher';
import type { Message } from './messages';
import { payloadLength, writePayload } from './serializer';
import type { XXHashAPI } from './xxhash';

const UNITS_PER_DATA_FRAME = DATA_FRAME_BYTES / DATA_UNIT;
const isU32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

export class FrameEncoder {
  private coverage: ChksumCoverageValue = ChksumCoverage.FULL;
  private sealer: FrameSealer | undefined;
  private tagSize = 0;
  /** Where sealed BATCH entries are written before their sealing (encodeBatchApart), reused from frame to frame. */
  private scratch: Buffer | undefined;

  constructor(private readonly xxh: XXHashAPI) {}

  /** From the next frame on, seal payloads as `sealing` says (none: plain frames) and checksum with the given coverage. */
  setSealing(sealing: Sealing | undefined, coverage: ChksumCoverageValue): void {
    this.sealer = sealing && new FrameSealer(sealing);
    this.tagSize = sealing ? GCM_TAG_SIZE : 0;
    this.coverage = coverage;
  }

  /**
   * From the next frame on, frames are written whole but not sealed: each payload stays
   * plaintext, with room for its tag after it, for whoever goes on with the returned sealing and
   * count (a crypto thread, src/wire/cryptoThreads.ts) to seal in order before they are sent.
   * Only where the checksum covers the header alone, which sealing does not change; undefined,
   * and nothing changes, otherwise.
   */
  handOffSealing(): CipherHandOff | undefined {
    if (!this.sealer || this.coverage !== ChksumCoverage.HEADER) return undefined;
    const handOff: CipherHandOff = { sealing: this.sealer.sealing, count: this.sealer.counter.words };
    // tagSize stays: frames keep their sealed length and layout.
    this.sealer = undefined;
    return handOff;
  }

  frameLength(message: Message): number {
    return HEADER_SIZE + payloadLength(message) + this.tagSize;
  }

  /** One frame in a Buffer of exactly its size. */
  encode(message: Message): Buffer {
    const frame = Buffer.allocUnsafe(this.frameLength(message));
    this.encodeInto(message, frame, 0);
    return frame;
  }

  /**
   * One BATCH frame of messages, their entries written straight into it rather than copied there;
   * `length` is batchEntriesLength(messages) when the caller has it already.
   */
  encodeBatch(messages: readonly Message[], length = batchEntriesLength(messages)): Buffer {
    const frame = Buffer.allocUnsafe(HEADER_SIZE + length + this.tagSize);
    writeBatchEntries(messages, frame, HEADER_SIZE);
    this.finishFrame(frame, 0, PacketType.BATCH, length);
    return frame;
  }

  /**
   * The same frame as encodeBatch's, as the pieces to write in order. Sealed with HEADER coverage
   * (the checksum covers the header alone), the entries are written into a Buffer this encoder
   * reuses and the frame is its header, the ciphertext and the tag: no Buffer of the frame's size
   * is allocated for it (fresh memory faults a page at a time on this path) and the ciphertext is
   * not copied into one.
   */
  encodeBatchApart(messages: readonly Message[], length = batchEntriesLength(messages)): Buffer[] {
    if (!this.sealer || this.coverage !== ChksumCoverage.HEADER) return [this.encodeBatch(messages, length)];
    const header = Buffer.allocUnsafe(HEADER_SIZE);
    const sealedLength = this.checkedLength(PacketType.BATCH, length);
    this.scratch ??= Buffer.allocUnsafeSlow(MAX_PAYLOAD);
    writeBatchEntries(messages, this.scratch, 0);
    header[0] = PacketType.BATCH;
    header.writeUInt32BE(0, CHKSUM_OFFSET);
    header.writeUInt16BE(sealedLength, LENGTH_OFFSET);
    const [ciphertext, tag] = this.sealer.sealApart(header, this.scratch.subarray(0, length));
    header.writeUInt32BE(checksumOfFrame(this.xxh, header, ChksumCoverage.HEADER), CHKSUM_OFFSET);
    return [header, ciphertext, tag];
  }

  /** Writes one frame at pos (room for frameLength(message) bytes); returns the end position. */
  encodeInto(message: Message, buf: Buffer, pos: number): number {
    const end = writePayload(message, buf, pos + HEADER_SIZE);
    return this.finishFrame(buf, pos, message.type, end - pos - HEADER_SIZE);
  }

  /** Whether payloads are sealed (AES-GCM) from now on. */
  get sealed(): boolean {
    return this.tagSize > 0;
  }

  /** Bytes encodeData needs for byteCount bytes of file data. */
  dataLength(byteCount: number): number {
    return Math.ceil(byteCount / DATA_FRAME_BYTES) * (HEADER_SIZE + DATA_HEADER_SIZE + this.tagSize) + byteCount;
  }

  /**
   * Where the data of `byteCount` bytes goes inside `buf` when laid out as DATA frames: one view
   * per frame. A sender reads file data straight into these views (one readv), then calls
   * sealData, so file bytes are never copied on their way to the socket.
   */
  dataSlots(buf: Buffer, byteCount: number): Buffer[] {
    const slots: Buffer[] = [];
    const frame = HEADER_SIZE + DATA_HEADER_SIZE + DATA_FRAME_BYTES + this.tagSize;
    for (let offset = 0, pos = HEADER_SIZE + DATA_HEADER_SIZE; offset < byteCount; offset += DATA_FRAME_BYTES, pos += frame) {
      slots.push(buf.subarray(pos, pos + Math.min(DATA_FRAME_BYTES, byteCount - offset)));
    }
    return slots;
  }

  /**
   * Completes the DATA frames whose data sits in dataSlots(buf, byteCount): file_id, seq (from
   * `seq`, advancing 7 units a frame), header, sealing and checksum. Returns the encoded bytes.
   */
  sealData(fileId: number, seq: number, buf: Buffer, byteCount: number): Buffer {
    const frames = Math.ceil(byteCount / DATA_FRAME_BYTES);
    if (!isU32(fileId) || !isU32(seq) || byteCount === 0 || !isU32(seq + (frames - 1) * UNITS_PER_DATA_FRAME)) {
      throw new FcpError('FCP_ERR_BAD_FIELD', `DATA for file ${fileId} at seq ${seq}: ${byteCount} bytes do not fit`);
    }
    let pos = 0;
    for (let offset = 0; offset < byteCount; offset += DATA_FRAME_BYTES, seq += UNITS_PER_DATA_FRAME) {
      buf.writeUInt32BE(fileId, pos + HEADER_SIZE);
      buf.writeUInt32BE(seq, pos + HEADER_SIZE + 4);
      pos = this.finishFrame(buf, pos, PacketType.DATA, DATA_HEADER_SIZE + Math.min(DATA_FRAME_BYTES, byteCount - offset));
    }
    return buf.subarray(0, pos);
  }

  /**
   * Encodes `bytes`, the file data starting at unit `seq`, as back-to-back DATA frames (all full
   * but the last) into `out` when it is large enough, else into a new Buffer.
   */
  encodeData(fileId: number, seq: number, bytes: Buffer, out?: Buffer): Buffer {
    const buf = out && out.length >= this.dataLength(bytes.length) ? out : Buffer.allocUnsafe(this.dataLength(bytes.length));
    let offset = 0;
    for (const slot of this.dataSlots(buf, bytes.length)) offset += bytes.copy(slot, 0, offset, offset + slot.length);
    return this.sealData(fileId, seq, buf, bytes.length);
  }

  /**
   * Completes the frame at pos whose plaintext payload is written: header, sealing when on, then
   * the checksum over the frame with a zero chksum field. Returns the end of the frame.
   */
  finishFrame(buf: Buffer, pos: number, type: number, plainLength: number): number {
    const length = this.checkedLength(type, plainLength);
    buf[pos] = type;
    buf.writeUInt32BE(0, pos + CHKSUM_OFFSET);
    buf.writeUInt16BE(length, pos + LENGTH_OFFSET);
    this.sealer?.seal(buf, pos, plainLength);
    const end = pos + HEADER_SIZE + length;
    buf.writeUInt32BE(checksumOfFrame(this.xxh, buf.subarray(pos, end), this.coverage), pos + CHKSUM_OFFSET);
    return end;
  }

  /** The payload's length on the wire, its tag included. */
  private checkedLength(type: number, plainLength: number): number {
    const length = plainLength + this.tagSize;
    // A payload that fits the plain limit may leave no room for the tag (PULL, HELLO): refuse it
    // here, before writeUInt16BE throws a RangeError and before the GCM counter advances.
    if (length > MAX_PAYLOAD) {
      throw new FcpError(
        'FCP_ERR_BAD_LENGTH',
        `${packetTypeName[type]} payload of ${plainLength} bytes plus its ${this.tagSize}-byte tag exceeds ${MAX_PAYLOAD} bytes`,
      );
    }
    return length;
  }
}
