/**
 * The delta's scan on one core (feature DELTA, PROTOCOL.md §7.7): MB/s of the content-defined
 * chunker alone, and of a whole block scan (chunker and each block's xxh64), over 256 MiB of
 * random bytes fed in 4 MiB reads as deltaFiles.ts reads them. Not a test: prints MB/s.
 */
import { randomBytes } from 'node:crypto';
import { loadXxhash } from '../src/protocol/xxhash';
import { ContentChunker } from '../src/delta/chunker';
import { BlockScanner } from '../src/delta/blocks';

const TOTAL = 256 * 1024 * 1024;
const READ = 4 * 1024 * 1024;
const ROUNDS = 3;

function mbps(started: bigint): string {
  return ((TOTAL / Number(process.hrtime.bigint() - started)) * 1000).toFixed(0);
}

async function main(): Promise<void> {
  const xxh = await loadXxhash();
  const source = randomBytes(TOTAL);
  for (let round = 0; round < ROUNDS; round++) {
    let started = process.hrtime.bigint();
    const chunker = new ContentChunker();
    let cuts = 0;
    for (let at = 0; at < TOTAL; at += READ) cuts += chunker.push(source.subarray(at, at + READ)).length;
    const chunking = mbps(started);
    started = process.hrtime.bigint();
    const scanner = new BlockScanner(xxh);
    for (let at = 0; at < TOTAL; at += READ) scanner.push(source.subarray(at, at + READ));
    const blocks = scanner.end().length;
    console.log(`chunker ${chunking} MB/s (${cuts} cuts), block scan ${mbps(started)} MB/s (${blocks} blocks)`);
  }
}

void main();
