/**
 * Feature COMPRESS (-C, PROTOCOL.md §4 DATA_Z): a chunk's DATA frames, each deflated on its own
 * (raw deflate, level 1: fast); a frame whose deflated bytes come out smaller travels as DATA_Z,
 * any other as the plain DATA it always was. The receiver inflates DATA_Z back into the DATA it
 * stands for, so every check after it (CHUNK_SUM's hash included) sees the file's own bytes.
 */
import type * as Zlib from 'node:zlib';
import { FcpError } from '../errors';
import { DATA_FRAME_BYTES, DATA_HEADER_SIZE, DATA_UNIT, DATA_Z_HEADER_SIZE, PacketType } from '../protocol/constants';
import type { FrameEncoder } from '../protocol/frameEncoder';
import type { DataMessage, DataZMessage } from '../protocol/messages';

/**
 * The fastest level (zlib's Z_BEST_SPEED, 1 in its API): -C is for links slower than the CPU, and
 * level 1 already takes most of text's redundancy.
 */
const DEFLATE_OPTIONS: Zlib.ZlibOptions = { level: 1 };

let zlibModule: typeof Zlib | undefined;
/** node:zlib, loaded by the first frame deflated or inflated: a copy without -C never loads it (1-2 ms of every start of fcp and fcpd). */
function zlib(): typeof Zlib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (zlibModule ??= require('node:zlib') as typeof Zlib);
}
const UNITS_PER_FRAME = DATA_FRAME_BYTES / DATA_UNIT;

/**
 * Writes `data` (a chunk's bytes, from unit `seq` of the file) as frames at pos in buf, one per
 * DATA frame it would take: DATA_Z where that frame is the smaller, DATA otherwise. buf has room
 * for the DATA frames (encoder.dataLength), which the DATA_Z frames never exceed. Returns the end.
 */
export function encodeCompressedData(encoder: FrameEncoder, fileId: number, seq: number, data: Buffer, buf: Buffer, pos: number): number {
  for (let offset = 0; offset < data.length; offset += DATA_FRAME_BYTES, seq += UNITS_PER_FRAME) {
    const raw = data.subarray(offset, offset + DATA_FRAME_BYTES);
    const deflated = zlib().deflateRawSync(raw, DEFLATE_OPTIONS);
    // DATA_Z's raw_length field costs 4 bytes more than DATA's header: it must pay for them too.
    pos =
      DATA_Z_HEADER_SIZE + deflated.length < DATA_HEADER_SIZE + raw.length
        ? encoder.encodeInto({ type: PacketType.DATA_Z, fileId, seq, rawLength: raw.length, data: deflated }, buf, pos)
        : encoder.encodeInto({ type: PacketType.DATA, fileId, seq, data: raw }, buf, pos);
  }
  return pos;
}

/**
 * The DATA a DATA_Z stands for. Its bytes must inflate to exactly raw_length: inflating stops at
 * raw_length (a zip bomb costs no more memory than an honest frame), and a shorter, longer or
 * broken stream is the peer's protocol error.
 */
export function inflateDataZ(message: DataZMessage): DataMessage {
  const { fileId, seq, rawLength } = message;
  const where = `DATA_Z for file_id ${fileId} at offset ${seq * DATA_UNIT}`;
  let data: Buffer;
  try {
    data = zlib().inflateRawSync(message.data, { maxOutputLength: rawLength });
  } catch (err) {
    const tooLong = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new FcpError('FCP_ERR_PROTOCOL', `${where}: ${tooLong ? `inflates to more than its raw_length of ${rawLength} bytes` : `not a raw deflate stream (${(err as Error).message})`}`);
  }
  if (data.length !== rawLength) throw new FcpError('FCP_ERR_PROTOCOL', `${where}: inflates to ${data.length} bytes, not its raw_length of ${rawLength}`);
  return { type: PacketType.DATA, fileId, seq, data };
}
