/**
 * One side's share of a delta's reading (bench/remote.sh sync, the floor): reads the file named on
 * the command line in 4 MiB reads, as deltaFiles.ts does, and cuts it into its blocks with each
 * block's xxh64, nothing else. Not a test: prints the block count.
 */
import * as fs from 'node:fs';
import { loadXxhash } from '../src/protocol/xxhash';
import { BlockScanner } from '../src/delta/blocks';
import { scanBlocks } from '../src/transfer/deltaFiles';

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) throw new Error('usage: node dist/bench/deltaFloor.js FILE');
  const xxh = await loadXxhash();
  const fd = fs.openSync(path, 'r');
  const blocks = await scanBlocks(fd, fs.fstatSync(fd).size, new BlockScanner(xxh), () => false);
  console.log(`${blocks?.length ?? 0} blocks`);
}

void main();
