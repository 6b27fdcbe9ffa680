/**
 * Codec throughput on one core: encode and decode (checksum verification, opening when sealed,
 * parsing) of full DATA frames, the hot path of a transfer. Not a test: prints GB/s.
 */
import { randomBytes } from 'node:crypto';
import { ChksumCoverage, ChksumCoverageValue, Cipher, DATA_FRAME_BYTES, DATA_UNIT, FrameDecoder, FrameEncoder, loadXxhash, parsePayload, PacketType } from '../src/protocol';

const TOTAL = 1024 ** 3;
const CHUNK = 1024 * 1024;
const STREAM = 64 * CHUNK;
/** Socket reads arrive in slices of about this size. */
const SLICE = 64 * 1024;

const configs: { name: string; key?: Buffer; coverage: ChksumCoverageValue }[] = [
  { name: 'plain, full checksum      ', coverage: ChksumCoverage.FULL },
  { name: 'AES-256-GCM, header chksum', key: randomBytes(32), coverage: ChksumCoverage.HEADER },
  { name: 'AES-256-GCM, full checksum', key: randomBytes(32), coverage: ChksumCoverage.FULL },
];

const gbps = (ns: bigint): string => (TOTAL / Number(ns)).toFixed(2);

/** Encodes `bytes` of data as a run of 1 MiB chunks, calling sink with each encoded chunk. */
function encodeRun(encoder: FrameEncoder, source: Buffer, bytes: number, sink: (frames: Buffer) => void): void {
  const out = Buffer.allocUnsafe(encoder.dataLength(CHUNK));
  for (let done = 0; done < bytes; done += CHUNK) sink(encoder.encodeData(1, done / DATA_UNIT, source, out));
}

async function main(): Promise<void> {
  const xxh = await loadXxhash();
  const source = randomBytes(CHUNK);
  for (const { name, key, coverage } of configs) {
    const encoder = new FrameEncoder(xxh);
    encoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
    let t = process.hrtime.bigint();
    encodeRun(encoder, source, TOTAL, () => undefined);
    const encodeNs = process.hrtime.bigint() - t;

    // Decode a 64 MiB stream 16 times (a fresh decoder each pass restarts the GCM counter),
    // fed in socket-sized slices: larger than the caches, like data fresh from a socket.
    const streamEncoder = new FrameEncoder(xxh);
    streamEncoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
    const stream: Buffer[] = [];
    encodeRun(streamEncoder, source, STREAM, (frames) => stream.push(Buffer.from(frames)));
    let bytes = 0;
    t = process.hrtime.bigint();
    for (let pass = 0; pass < TOTAL / STREAM; pass++) {
      const decoder = new FrameDecoder(xxh);
      decoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
      for (const encoded of stream) {
        for (let pos = 0; pos < encoded.length; pos += SLICE) {
          decoder.push(encoded.subarray(pos, pos + SLICE));
          for (let raw = decoder.next(); raw; raw = decoder.next()) {
            const message = parsePayload(raw.type, raw.payload);
            if (message.type === PacketType.DATA) bytes += message.data.length;
          }
        }
      }
    }
    const decodeNs = process.hrtime.bigint() - t;
    if (bytes !== TOTAL) throw new Error(`decoded ${bytes} bytes, expected ${TOTAL}`);
    console.log(`${name}: encode ${gbps(encodeNs)} GB/s, decode ${gbps(decodeNs)} GB/s`);
  }
  console.log(`(${DATA_FRAME_BYTES}-byte DATA frames, 1 GiB each way, one core; target >= 2 GB/s plain)`);
}

void main();
