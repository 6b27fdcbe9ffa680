/**
 * The receiving side's sealed data path with and without opening threads (src/wire/openingThreads.ts):
 * 1 GiB of sealed DATA frames fed to a FramedConnection in 64 KiB reads, as a socket gives them,
 * each pass a new connection that hands its opening to the threads FCP_CRYPTO_THREADS names
 * (`node dist/bench/openingThreads.js N`). Prints the wall time, GB/s, and the main thread's CPU
 * seconds (Linux: /proc/self/task): what a data connection's thread is spared. No sender and no
 * disk: on this 2-core machine the main thread and one opening thread have a core each.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Duplex } from 'node:stream';
import { ChksumCoverage, Cipher, DATA_UNIT, PacketType } from '../src/protocol/constants';
import { FrameEncoder } from '../src/protocol/frameEncoder';
import { loadXxhash } from '../src/protocol/xxhash';
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

async function main(): Promise<void> {
  process.env.FCP_CRYPTO_THREADS = process.argv[2] ?? '0';
  const xxh = await loadXxhash();
  const key = randomBytes(32);
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
  const source = randomBytes(CHUNK);
  const sealed = Buffer.concat(Array.from({ length: STREAM / CHUNK }, (_, i) => Buffer.from(encoder.encodeData(1, (i * CHUNK) / DATA_UNIT, source))));
  // The opening threads do not keep a process alive (a socket does, in fcp): this timer does here.
  const alive = setInterval(() => undefined, 1000);
  const started = Date.now();
  const cpu = mainThreadSeconds();
  let threaded = false;
  for (let pass = 0; pass < PASSES; pass++) {
    const stream = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
    const conn = new FramedConnection(stream, xxh, 'bench connection', 60_000);
    conn.seal({ type: 'seal', direction: 'in', cipher: Cipher.AES_256_GCM, key, coverage: ChksumCoverage.HEADER });
    threaded = conn.openInThread();
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
  }
  const seconds = (Date.now() - started) / 1000;
  const gib = (STREAM * PASSES) / 1024 ** 3;
  console.log(
    `opening threads ${process.env.FCP_CRYPTO_THREADS}${threaded ? '' : ' (on the main thread)'}: ${gib} GiB in ${seconds.toFixed(2)} s, ` +
      `${((STREAM * PASSES) / seconds / 1e9).toFixed(2)} GB/s, main thread ${(mainThreadSeconds() - cpu).toFixed(2)} CPU s`,
  );
  clearInterval(alive);
  process.exit(0);
}

void main();
