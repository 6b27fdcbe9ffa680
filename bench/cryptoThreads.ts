/**
 * The sealed data path with and without crypto threads (src/wire/cryptoThreads.ts), each side
 * apart (`npm run bench:crypto -- N`, N the threads, as FCP_CRYPTO_THREADS). Sending: 1 GiB of
 * DATA frames written to a FramedConnection as the pumps write them (1 MiB chunks encoded into two
 * buffers used in turn, each written once the last write from it is out) over a stream that takes
 * everything. Receiving: 1 GiB of sealed DATA frames fed to a FramedConnection in 64 KiB reads,
 * as a socket gives them. Each pass a new connection that hands its sealing or opening to the
 * threads. Prints the wall time, GB/s, and the main thread's CPU seconds (Linux: /proc/self/task):
 * what a data connection's thread is spared. No peer and no disk: on this 2-core machine the main
 * thread and one crypto thread have a core each.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Duplex } from 'node:stream';
import { ChksumCoverage, Cipher, DATA_UNIT, PacketType } from '../src/protocol/constants';
import { FrameEncoder } from '../src/protocol/frameEncoder';
import { loadXxhash, XXHashAPI } from '../src/protocol/xxhash';
import { FramedConnection } from '../src/wire/framedConnection';

const CHUNK = 1024 * 1024;
const STREAM = 64 * CHUNK;
const PASSES = 16;
const SLICE = 64 * 1024;

/** CPU seconds (user + system) of this process's main thread. */
function mainThreadSeconds(): number {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `pass` PASSES times; prints what it took. */
async function timed(label: string, pass: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  const cpu = mainThreadSeconds();
  let threaded = false;
  for (let i = 0; i < PASSES; i++) threaded = await pass();
  const seconds = (Date.now() - started) / 1000;
  const gib = (STREAM * PASSES) / 1024 ** 3;
  console.log(
    `${label}, crypto threads ${process.env.FCP_CRYPTO_THREADS}${threaded ? '' : ' (on the main thread)'}: ${gib} GiB in ${seconds.toFixed(2)} s, ` +
      `${((STREAM * PASSES) / seconds / 1e9).toFixed(2)} GB/s, main thread ${(mainThreadSeconds() - cpu).toFixed(2)} CPU s`,
  );
}

/** A connection's sending side: STREAM bytes of DATA written as the pumps write them. */
async function sendPass(xxh: XXHashAPI, key: Buffer, source: Buffer): Promise<boolean> {
  const stream = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
  const conn = new FramedConnection(stream, xxh, 'bench connection', 60_000);
  conn.seal({ type: 'seal', direction: 'out', cipher: Cipher.AES_256_GCM, key, coverage: ChksumCoverage.HEADER });
  const threaded = conn.sealInThread();
  const buffers = [Buffer.allocUnsafe(conn.encoder.dataLength(CHUNK)), Buffer.allocUnsafe(conn.encoder.dataLength(CHUNK))];
  const flushed: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  for (let i = 0; i < STREAM / CHUNK; i++) {
    await flushed[i % 2];
    const frames = conn.encoder.encodeData(1, (i * CHUNK) / DATA_UNIT, source, buffers[i % 2]);
    flushed[i % 2] = new Promise((resolve) => conn.write(frames, resolve));
    await conn.drain();
  }
  await Promise.all(flushed);
  conn.close();
  return threaded;
}

async function main(): Promise<void> {
  process.env.FCP_CRYPTO_THREADS = process.argv[2] ?? '0';
  const xxh = await loadXxhash();
  const key = randomBytes(32);
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
  const source = randomBytes(CHUNK);
  const sealed = Buffer.concat(Array.from({ length: STREAM / CHUNK }, (_, i) => Buffer.from(encoder.encodeData(1, (i * CHUNK) / DATA_UNIT, source))));
  // The crypto threads do not keep a process alive (a socket does, in fcp): this timer does here.
  const alive = setInterval(() => undefined, 1000);
  await timed('sending', () => sendPass(xxh, key, source));
  await timed('receiving', async () => {
    const stream = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
    const conn = new FramedConnection(stream, xxh, 'bench connection', 60_000);
    conn.seal({ type: 'seal', direction: 'in', cipher: Cipher.AES_256_GCM, key, coverage: ChksumCoverage.HEADER });
    const threaded = conn.openInThread();
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      conn.start({
        message: (message) => {
          if (message.type !== PacketType.DATA) return;
          received += message.data.length;
          for (const piece of message.more ?? []) received += piece.length;
          if (received === STREAM) resolve();
        },
        closed: (error) => reject(error ?? new Error('closed')),
      });
      for (let at = 0; at < sealed.length; at += SLICE) stream.push(sealed.subarray(at, at + SLICE));
    });
    conn.close();
    return threaded;
  });
  clearInterval(alive);
  process.exit(0);
}

void main();
