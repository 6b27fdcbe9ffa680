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
  HEADER_SIZE,
  LENGTH_OFFSET,
  PacketType,
} from './constants';
import { checksumOfFrame } from './chksum';
import type { Message } from './messages';
import { payloadLength, writePayload } from './serializer';
import type { XXHashAPI } from './xxhash';

const UNITS_PER_DATA_FRAME = DATA_FRAME_BYTES / DATA_UNIT;

export class FrameEncoder {
  /** What the checksum covers; switched to HEADER when a connection's payloads become GCM-sealed. */
  coverage: ChksumCoverageValue = ChksumCoverage.FULL;

  constructor(private readonly xxh: XXHashAPI) {}

  frameLength(message: Message): number {
    return HEADER_SIZE + payloadLength(message);
  }

  /** One frame in a Buffer of exactly its size. */
  encode(message: Message): Buffer {
    const frame = Buffer.allocUnsafe(this.frameLength(message));
    this.encodeInto(message, frame, 0);
    return frame;
  }

  /** Writes one frame at pos (room for frameLength(message) bytes); returns the end position. */
  encodeInto(message: Message, buf: Buffer, pos: number): number {
    const end = writePayload(message, buf, pos + HEADER_SIZE);
    this.seal(buf, pos, message.type, end - pos - HEADER_SIZE);
    return end;
  }

  /** Bytes encodeData needs for byteCount bytes of file data. */
  static dataLength(byteCount: number): number {
    return Math.ceil(byteCount / DATA_FRAME_BYTES) * (HEADER_SIZE + DATA_HEADER_SIZE) + byteCount;
  }

  /**
   * Encodes `bytes`, the file data starting at unit `seq`, as back-to-back full DATA frames (the
   * last may be short) into `out` when it is large enough, else into a new Buffer. Returns the
   * encoded bytes as a view of that Buffer.
   */
  encodeData(fileId: number, seq: number, bytes: Buffer, out?: Buffer): Buffer {
    const total = FrameEncoder.dataLength(bytes.length);
    const frames = Math.ceil(bytes.length / DATA_FRAME_BYTES);
    if (bytes.length === 0 || seq + (frames - 1) * UNITS_PER_DATA_FRAME > 0xffffffff) {
      throw new FcpError('FCP_ERR_BAD_FIELD', `DATA for file ${fileId} at seq ${seq}: ${bytes.length} bytes do not fit`);
    }
    const buf = out && out.length >= total ? out : Buffer.allocUnsafe(total);
    let pos = 0;
    for (let offset = 0; offset < bytes.length; offset += DATA_FRAME_BYTES, seq += UNITS_PER_DATA_FRAME) {
      const length = Math.min(DATA_FRAME_BYTES, bytes.length - offset);
      const payload = pos + HEADER_SIZE;
      buf.writeUInt32BE(fileId, payload);
      buf.writeUInt32BE(seq, payload + 4);
      bytes.copy(buf, payload + DATA_HEADER_SIZE, offset, offset + length);
      this.seal(buf, pos, PacketType.DATA, DATA_HEADER_SIZE + length);
      pos = payload + DATA_HEADER_SIZE + length;
    }
    return buf.subarray(0, total);
  }

  /** Writes flag and length, then the checksum over the frame with a zero chksum field. */
  private seal(buf: Buffer, pos: number, type: number, length: number): void {
    buf[pos] = type;
    buf.writeUInt32BE(0, pos + CHKSUM_OFFSET);
    buf.writeUInt16BE(length, pos + LENGTH_OFFSET);
    const chksum = checksumOfFrame(this.xxh, buf.subarray(pos, pos + HEADER_SIZE + length), this.coverage);
    buf.writeUInt32BE(chksum, pos + CHKSUM_OFFSET);
  }
}
