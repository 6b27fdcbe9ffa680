/**
 * Codec throughput on one core: encode and decode (checksum verification, opening when sealed,
 * parsing) of full DATA frames, the hot path of a transfer. Not a test: prints GB per CPU second.
 * The last row is the sealed data path as each side runs it: the sender hashes each 1 MiB chunk
 * (xxh64, the chunk digest) and seals its frames; the receiver opens them and hashes the chunk
 * again to verify it: the ceiling of one core per side (docs/BENCHMARKS.md, "Every core").
 */
import { randomBytes } from 'node:crypto';
import { ChksumCoverage, ChksumCoverageValue, Cipher, DATA_FRAME_BYTES, DATA_UNIT, FrameDecoder, FrameEncoder, loadXxhash, parsePayload, PacketType } from '../src/protocol';
import { chunkHash } from '../src/protocol/xxhash';

const TOTAL = 1024 ** 3;
const CHUNK = 1024 * 1024;
const STREAM = 64 * CHUNK;
/** Socket reads arrive in slices of about this size. */
const SLICE = 64 * 1024;

const configs: { name: string; key?: Buffer; coverage: ChksumCoverageValue; hashChunks?: boolean }[] = [
  { name: 'plain, full checksum      ', coverage: ChksumCoverage.FULL },
  { name: 'AES-256-GCM, header chksum', key: randomBytes(32), coverage: ChksumCoverage.HEADER },
  { name: 'AES-256-GCM, full checksum', key: randomBytes(32), coverage: ChksumCoverage.FULL },
  { name: 'sealed data path (+xxh64) ', key: randomBytes(32), coverage: ChksumCoverage.HEADER, hashChunks: true },
];

/** CPU time (user + system) of this process in ns: on a shared machine, what one core did, not how long it waited. */
const cpuNs = (): bigint => {
  const { user, system } = process.cpuUsage();
  return BigInt(user + system) * 1000n;
};
const gbps = (ns: bigint): string => (TOTAL / Number(ns)).toFixed(2);

/** Encodes `bytes` of data as a run of 1 MiB chunks, calling sink with each encoded chunk. */
function encodeRun(encoder: FrameEncoder, source: Buffer, bytes: number, sink: (frames: Buffer) => void, hash?: (chunk: Buffer) => void): void {
  const out = Buffer.allocUnsafe(encoder.dataLength(CHUNK));
  for (let done = 0; done < bytes; done += CHUNK) {
    hash?.(source);
    sink(encoder.encodeData(1, done / DATA_UNIT, source, out));
  }
}

async function main(): Promise<void> {
  const xxh = await loadXxhash();
  const source = randomBytes(CHUNK);
  for (const { name, key, coverage, hashChunks } of configs) {
    let digests = 0n;
    const hash = hashChunks ? (chunk: Buffer): void => void (digests ^= chunkHash(xxh, [chunk])) : undefined;
    const encoder = new FrameEncoder(xxh);
    encoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
    let t = cpuNs();
    encodeRun(encoder, source, TOTAL, () => undefined, hash);
    const encodeNs = cpuNs() - t;

    // Decode a 64 MiB stream 16 times (a fresh decoder each pass restarts the GCM counter),
    // fed in socket-sized slices: larger than the caches, like data fresh from a socket.
    const streamEncoder = new FrameEncoder(xxh);
    streamEncoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
    const stream: Buffer[] = [];
    encodeRun(streamEncoder, source, STREAM, (frames) => stream.push(Buffer.from(frames)));
    let bytes = 0;
    let chunk = hashChunks ? xxh.create64(0n) : undefined;
    t = cpuNs();
    for (let pass = 0; pass < TOTAL / STREAM; pass++) {
      const decoder = new FrameDecoder(xxh);
      decoder.setSealing(key && { cipher: Cipher.AES_256_GCM, key }, coverage);
      for (const encoded of stream) {
        for (let pos = 0; pos < encoded.length; pos += SLICE) {
          decoder.push(encoded.subarray(pos, pos + SLICE));
          for (let raw = decoder.next(); raw; raw = decoder.next()) {
            const message = parsePayload(raw.type, raw.payload);
            if (message.type !== PacketType.DATA) continue;
            bytes += message.data.length;
            // The receiver hashes a chunk's frames as they come, and checks the digest at its end.
            chunk?.update(message.data);
            if (chunk && bytes % CHUNK === 0) {
              digests ^= chunk.digest();
              chunk = xxh.create64(0n);
            }
          }
        }
      }
    }
    const decodeNs = cpuNs() - t;
    if (bytes !== TOTAL) throw new Error(`decoded ${bytes} bytes, expected ${TOTAL}`);
    // Every chunk hashed on both sides (each digest twice): they cancel out.
    if (digests !== 0n) throw new Error('the two sides hashed different chunks');
    console.log(`${name}: encode ${gbps(encodeNs)} GB/s, decode ${gbps(decodeNs)} GB/s`);
  }
  console.log(`(${DATA_FRAME_BYTES}-byte DATA frames, 1 GiB each way, GB per CPU second of one core; target >= 2 GB/s plain)`);
}

void main();
