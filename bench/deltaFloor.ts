/**
 * One side's share of a delta's reading (bench/remote.sh sync, the floor): reads the file named on
 * the command line in 4 MiB reads, as deltaFiles.ts does, and cuts it into its blocks with each
 * block's xxh64, nothing else: the receiver's signature. With a second file (the old version), the
 * sender's scan instead: the old file is cut first (not timed: a warm signature cache's work), then
 * the new one is scanned following its signature. Not a test: prints the blocks and the seconds
 * of the timed scan.
 */
import * as fs from 'node:fs';
import { loadXxhash } from '../src/protocol/xxhash';
import { BlockScanner, FileScanner } from '../src/delta/blocks';
import { GuidedScanner } from '../src/delta/guidedScan';
import { scanBlocks } from '../src/transfer/deltaFiles';

async function blocksOfFile(path: string, scanner: FileScanner): Promise<number> {
  const fd = fs.openSync(path, 'r');
  const blocks = await scanBlocks(fd, fs.fstatSync(fd).size, scanner, () => false);
  fs.closeSync(fd);
  return blocks?.length ?? 0;
}

async function main(): Promise<void> {
  const [path, old] = process.argv.slice(2);
  if (!path) throw new Error('usage: node dist/bench/deltaFloor.js FILE [OLD]');
  const xxh = await loadXxhash();
  const signature = old === undefined ? undefined : new BlockScanner(xxh);
  if (old !== undefined) await blocksOfFile(old, signature!);
  const started = process.hrtime.bigint();
  const blocks = await blocksOfFile(path, signature ? new GuidedScanner(xxh, signature.end()) : new BlockScanner(xxh));
  console.log(`${blocks} blocks ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s`);
}

void main();
