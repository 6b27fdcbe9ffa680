/**
 * Codec throughput on one core: encode and decode (with checksum verification) of full DATA
 * frames, the hot path of a transfer. Not a test: prints GB/s against the targets.
 */
import { ChksumCoverage, DATA_FRAME_BYTES, FrameDecoder, FrameEncoder, loadXxhash, parsePayload, PacketType } from '../src/protocol';

const TOTAL = 2 * 1024 ** 3;
const CHUNK = 1024 * 1024;

function rate(bytes: number, ns: bigint): string {
  return (bytes / Number(ns)).toFixed(2);
}

async function main(): Promise<void> {
  const xxh = await loadXxhash();
  const source = Buffer.alloc(CHUNK, 0xa5);
  for (const coverage of [ChksumCoverage.FULL, ChksumCoverage.HEADER]) {
    const encoder = new FrameEncoder(xxh);
    encoder.coverage = coverage;
    const out = Buffer.allocUnsafe(FrameEncoder.dataLength(CHUNK));
    let t = process.hrtime.bigint();
    for (let done = 0, seq = 0; done < TOTAL; done += CHUNK, seq += CHUNK / 8192) encoder.encodeData(1, seq, source, out);
    const encodeNs = process.hrtime.bigint() - t;

    // Decode the same encoded chunk repeatedly, in 64 KiB slices as a socket delivers them.
    const encoded = Buffer.from(encoder.encodeData(1, 0, source));
    const decoder = new FrameDecoder(xxh);
    decoder.coverage = coverage;
    let frames = 0;
    t = process.hrtime.bigint();
    for (let done = 0; done < TOTAL; done += CHUNK) {
      for (let pos = 0; pos < encoded.length; pos += 65536) {
        decoder.push(encoded.subarray(pos, pos + 65536));
        for (let raw = decoder.next(); raw; raw = decoder.next()) {
          if (parsePayload(raw.type, raw.payload).type === PacketType.DATA) frames++;
        }
      }
    }
    const decodeNs = process.hrtime.bigint() - t;
    const name = coverage === ChksumCoverage.FULL ? 'full checksum ' : 'header checksum';
    console.log(
      `${name}: encode ${rate(TOTAL, encodeNs)} GB/s, decode+verify+parse ${rate(TOTAL, decodeNs)} GB/s ` +
        `(${DATA_FRAME_BYTES}-byte DATA frames, ${frames} decoded; target >= 2 GB/s each)`,
    );
  }
}

void main();
