/**
 * The data sets of `npm run bench`, made once per run on tmpfs, and the digest that checks a
 * tool's output is the source: every name, kind, size and content under the copied top entry.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

export type DataName = 'big' | 'tree' | 'mixed' | 'midfiles' | 'files200k' | 'files1m' | 'treeSome' | 'treeAgain';
/** What every link copies when no data set is named. */
export const DATA_NAMES: readonly DataName[] = ['big', 'tree', 'mixed', 'midfiles'];
/**
 * Many tiny files (issue 14's memory case: peak RSS must not grow with the tree), run only when
 * named: scp would take hours over them, so `tar c | ssh tar x` is their baseline.
 */
export const MANY_FILES_NAMES: readonly DataName[] = ['files200k', 'files1m'];
/**
 * The 10,000-file tree copied where its landing is there already (run only when named): holding
 * its first directory (an interrupted copy run again: every other file is compared and sent), or
 * all of it (run again with nothing changed: every file compared, none sent). rsync's own case.
 */
export const LANDING_NAMES: readonly DataName[] = ['treeSome', 'treeAgain'];
const MANY_FILES_DIRS = 1000;
const TINY_BYTES = [16, 100];

export interface DataSet {
  name: DataName;
  /** What the tables call it. */
  title: string;
  /** The top entry to copy (a file or a directory), under the run's source directory. */
  path: string;
  bytes: number;
  files: number;
  directory: boolean;
  /** One of MANY_FILES_NAMES. */
  many?: boolean;
  /** One of LANDING_NAMES: what of the source its landing (out/NAME) holds before each run, copied with cp -a. */
  landing?: 'first directory' | 'all';
}

function randomFile(file: string, bytes: number): void {
  if (bytes >= MIB) execFileSync('head', ['-c', String(bytes), '/dev/urandom'], { stdio: ['ignore', fs.openSync(file, 'w'), 'inherit'] });
  else fs.writeFileSync(file, randomBytes(bytes));
}

/** 10,000 × 4 KiB in 100 directories, the small-file case of every issue. */
function smallFiles(root: string): void {
  for (let d = 0; d < 100; d++) {
    const dir = path.join(root, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}`), randomBytes(4096));
  }
}

/**
 * Files too large to go inline and small enough to be one chunk (16 KiB < size <= 1 MiB, the
 * default chunk size): each is announced with FILE_INFO and costs the receiver a temporary of its
 * own, a FILE_READY round trip and a commit (docs/BENCHMARKS.md, sixteenth round).
 */
const MID_FILES = 1000;
const MID_DIRS = 10;
const MID_BYTES = [16 * 1024 + 1, 200 * 1024];

/** `files` files of random sizes in `[min, max]` bytes, spread evenly over `dirs` directories; their bytes. */
function randomSizedFiles(root: string, files: number, dirs: number, [min, max]: readonly number[]): number {
  let bytes = 0;
  for (let d = 0; d < dirs; d++) {
    const dir = path.join(root, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < files / dirs; f++) {
      const size = min! + randomInt(max! - min! + 1);
      randomFile(path.join(dir, `f${f}`), size);
      bytes += size;
    }
  }
  return bytes;
}

export function makeData(name: DataName, sourceDir: string): DataSet {
  const top = path.join(sourceDir, name);
  switch (name) {
    case 'big':
      randomFile(top, GIB);
      return { name, title: '1 GiB file', path: top, bytes: GIB, files: 1, directory: false };
    case 'tree':
      smallFiles(top);
      return { name, title: '10,000 × 4 KiB in 100 dirs', path: top, bytes: 10_000 * 4096, files: 10_000, directory: true };
    case 'mixed': {
      fs.mkdirSync(path.join(top, 'large'), { recursive: true });
      randomFile(path.join(top, 'large', 'half'), 512 * MIB);
      for (let i = 0; i < 100; i++) randomFile(path.join(top, 'large', `m${i}`), 4 * MIB);
      smallFiles(path.join(top, 'small'));
      return { name, title: 'mixed 1 GiB tree (512 MiB + 100 × 4 MiB + 10,000 × 4 KiB)', path: top, bytes: 912 * MIB + 10_000 * 4096, files: 10_101, directory: true };
    }
    case 'treeSome':
    case 'treeAgain': {
      smallFiles(top);
      const landing = name === 'treeSome' ? 'first directory' : 'all';
      const title = name === 'treeSome' ? '10,000 × 4 KiB, its first 100 there (a copy run again)' : '10,000 × 4 KiB, all there (nothing changed)';
      return { name, title, path: top, bytes: 10_000 * 4096, files: 10_000, directory: true, landing };
    }
    case 'midfiles':
      return { name, title: '1,000 × 16–200 KiB in 10 dirs', path: top, bytes: randomSizedFiles(top, MID_FILES, MID_DIRS, MID_BYTES), files: MID_FILES, directory: true };
    case 'files200k':
    case 'files1m': {
      const files = name === 'files200k' ? 200_000 : 1_000_000;
      const title = `${files.toLocaleString('en-US')} × 16–100 B in 1,000 dirs`;
      return { name, title, path: top, bytes: randomSizedFiles(top, files, MANY_FILES_DIRS, TINY_BYTES), files, directory: true, many: true };
    }
  }
}

/** A digest of everything under `top` (a file or a directory): names, kinds, sizes and contents, in sorted order. */
export function treeDigest(top: string): string {
  const digest = createHash('sha1');
  const visit = (at: string, name: string): void => {
    const stat = fs.lstatSync(at);
    if (stat.isDirectory()) {
      digest.update(`d ${name}\n`);
      for (const child of fs.readdirSync(at).sort()) visit(path.join(at, child), `${name}/${child}`);
    } else if (stat.isSymbolicLink()) {
      digest.update(`l ${name} ${fs.readlinkSync(at)}\n`);
    } else {
      digest.update(`f ${name} ${stat.size}\n`);
      const fd = fs.openSync(at, 'r');
      const buffer = Buffer.allocUnsafe(4 * MIB);
      try {
        for (let got = fs.readSync(fd, buffer); got > 0; got = fs.readSync(fd, buffer)) digest.update(buffer.subarray(0, got));
      } finally {
        fs.closeSync(fd);
      }
    }
  };
  visit(top, '.');
  return digest.digest('hex');
}
