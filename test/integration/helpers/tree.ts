/**
 * Builders of source trees with random content. Paths are Buffers where names need not be UTF-8.
 * Metadata is applied last (file modes and mtimes, then symlink mtimes, then directories deepest
 * first), because creating an entry changes its directory's mtime.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type PathLike = string | Buffer;

export const DATA_UNIT = 8192;
export const DATA_FRAME_BYTES = 57344;
/** Files up to this size travel whole on the control connection (FILE_INLINE). */
export const INLINE_MAX = 16384;
export const CHUNK = 1024 * 1024;

/** Joins path components as bytes (any of them may be a non-UTF-8 Buffer). */
export function joinBytes(...parts: PathLike[]): Buffer {
  const out: Buffer[] = [];
  parts.forEach((part, i) => {
    if (i > 0) out.push(Buffer.from('/'));
    out.push(typeof part === 'string' ? Buffer.from(part) : part);
  });
  return Buffer.concat(out);
}

/** A file of `size` random bytes (or zeros), written in blocks so large files need little memory. */
export function writeRandomFile(file: PathLike, size: number, options: { zeros?: boolean } = {}): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    const block = 8 * 1024 * 1024;
    for (let written = 0; written < size; ) {
      const n = Math.min(block, size - written);
      const data = options.zeros ? Buffer.alloc(n) : randomBytes(n);
      let off = 0;
      while (off < n) off += fs.writeSync(fd, data, off, n - off);
      written += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Seconds since the epoch (with a fraction) → a Date-free value fs.utimes applies exactly enough. */
function at(isoOrSeconds: string | number): number {
  return typeof isoOrSeconds === 'number' ? isoOrSeconds : Date.parse(isoOrSeconds) / 1000;
}

/** Accumulates metadata to apply once every entry exists. */
export class TreeBuilder {
  private readonly fileMeta: { path: Buffer; mode: number; mtime: number }[] = [];
  private readonly linkMeta: { path: Buffer; mtime: number }[] = [];
  private readonly dirMeta: { path: Buffer; mode: number; mtime: number }[] = [];
  fileCount = 0;
  totalBytes = 0;
  /** Relative paths (from the parent of root, i.e. starting with root's name) of regular files. */
  readonly files: Buffer[] = [];

  constructor(readonly root: Buffer) {}

  private rel(p: Buffer): Buffer {
    const parent = Buffer.from(path.dirname(this.root.toString('latin1')), 'latin1');
    return p.subarray(parent.length + 1);
  }

  dir(rel: PathLike[], mode = 0o755, mtime: string | number = '2003-03-03T03:03:03.303Z'): Buffer {
    const p = joinBytes(this.root, ...rel);
    fs.mkdirSync(p, { recursive: true });
    this.dirMeta.push({ path: p, mode, mtime: at(mtime) });
    return p;
  }

  file(
    rel: PathLike[],
    size: number,
    options: { mode?: number; mtime?: string | number; zeros?: boolean; content?: Buffer } = {},
  ): Buffer {
    const p = joinBytes(this.root, ...rel);
    if (options.content) fs.writeFileSync(p, options.content);
    else writeRandomFile(p, size, { zeros: options.zeros });
    this.fileMeta.push({ path: p, mode: options.mode ?? 0o644, mtime: at(options.mtime ?? '2001-09-09T01:46:40.123Z') });
    this.fileCount++;
    this.totalBytes += options.content?.length ?? size;
    this.files.push(this.rel(p));
    return p;
  }

  symlink(rel: PathLike[], target: PathLike, mtime: string | number = '2002-02-02T02:02:02.202Z'): Buffer {
    const p = joinBytes(this.root, ...rel);
    fs.symlinkSync(target, p);
    this.linkMeta.push({ path: p, mtime: at(mtime) });
    return p;
  }

  /** Applies modes and mtimes: files, symlinks, then directories deepest first. */
  finish(): void {
    for (const f of this.fileMeta) {
      fs.chmodSync(f.path, f.mode);
      fs.utimesSync(f.path, f.mtime, f.mtime);
    }
    for (const l of this.linkMeta) fs.lutimesSync(l.path, l.mtime, l.mtime);
    const rootMeta = this.dirMeta.find((d) => d.path.equals(this.root));
    const dirs = [...this.dirMeta].sort((a, b) => b.path.length - a.path.length);
    for (const d of dirs) {
      fs.chmodSync(d.path, d.mode);
      fs.utimesSync(d.path, d.mtime, d.mtime);
    }
    if (!rootMeta) {
      fs.chmodSync(this.root, 0o755);
      fs.utimesSync(this.root, at('2004-04-04T04:04:04.404Z'), at('2004-04-04T04:04:04.404Z'));
    }
  }
}

/** The file sizes of the boundary test: around DATA_UNIT, INLINE_MAX, the DATA frame, and the 1 MiB chunk. */
export const BOUNDARY_SIZES: Record<string, number> = {
  'size-0': 0,
  'size-1': 1,
  'unit-1': DATA_UNIT - 1,
  unit: DATA_UNIT,
  'unit+1': DATA_UNIT + 1,
  inline: INLINE_MAX,
  'inline+1': INLINE_MAX + 1,
  'frame-1': DATA_FRAME_BYTES - 1,
  frame: DATA_FRAME_BYTES,
  'frame+1': DATA_FRAME_BYTES + 1,
  '2frames+1': 2 * DATA_FRAME_BYTES + 1,
  'chunk-1': CHUNK - 1,
  chunk: CHUNK,
  'chunk+1': CHUNK + 1,
  '2chunks+1': 2 * CHUNK + 1,
};

/** Names that stress quoting and encoding: unicode, spaces, a newline, a non-UTF-8 byte. */
export const ODD_NAMES: Buffer[] = [
  Buffer.from('ünïcødé 日本語 ✓.txt'),
  Buffer.from('with space.txt'),
  Buffer.from(' leading and trailing space '),
  Buffer.from('new\nline'),
  Buffer.from('tab\there'),
  Buffer.from('-starts-with-dash'),
  Buffer.from('emoji 🎉'),
  Buffer.from('quote\'s "and" back\\slash'),
  Buffer.from([0x66, 0xff, 0x6f]),
  Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0x31, 0x2d, 0xe9, 0x74, 0xe9]),
];

export interface BuiltTree {
  /** The tree's root directory (absolute). */
  root: string;
  /** Its parent: where a CLI copy is run from. */
  parent: string;
  name: string;
  fileCount: number;
  totalBytes: number;
  /** Every regular file, relative to parent (first component = name). */
  files: Buffer[];
}

/**
 * The mixed tree: boundary sizes, a zero-filled file, odd names, modes 0600/0755/0700/0444 on
 * files and 0700/0755/0555 on directories, old mtimes with sub-millisecond fractions, relative,
 * absolute and dangling symlinks and one to a directory, empty and nested empty directories, and
 * a directory of many small files (several announcement windows' worth of round trips).
 */
export function buildMixedTree(parent: string, name = 'mixed'): BuiltTree {
  const root = path.join(parent, name);
  const t = new TreeBuilder(Buffer.from(root));
  t.dir([], 0o755, '2004-04-04T04:04:04.404Z');

  t.dir(['sizes'], 0o755, '2005-05-05T05:05:05.505Z');
  let n = 0;
  for (const [label, size] of Object.entries(BOUNDARY_SIZES)) {
    t.file(['sizes', `${label}.bin`], size, { mtime: 978307200 + n++ * 86_400.25 + 0.000_123 });
  }
  t.file(['sizes', 'zeros-chunk+1.bin'], CHUNK + 1, { zeros: true, mtime: '2010-10-10T10:10:10.010Z' });

  t.dir(['names'], 0o700, '2006-06-06T06:06:06.606Z');
  ODD_NAMES.forEach((odd, i) => t.file(['names', odd], 1 + i * 997, { mtime: 1_000_000_000 + i * 3_600 + 0.5 }));
  t.dir(['names', Buffer.from('dir ✓ with space')], 0o755, '2007-07-07T07:07:07.707Z');
  t.file(['names', Buffer.from('dir ✓ with space'), Buffer.from([0x80, 0x81])], 4242);

  t.dir(['modes'], 0o755, '2008-08-08T08:08:08.808Z');
  t.file(['modes', 'f0600'], 600, { mode: 0o600 });
  t.file(['modes', 'f0755'], 755, { mode: 0o755 });
  t.file(['modes', 'f0700'], 700, { mode: 0o700 });
  t.file(['modes', 'f0444'], 444, { mode: 0o444 });
  t.dir(['modes', 'd0700'], 0o700, '2009-01-01T00:00:00.001Z');
  t.file(['modes', 'd0700', 'inside'], 70, { mode: 0o600 });
  t.dir(['modes', 'd0755'], 0o755, '2009-02-02T00:00:00.002Z');
  t.file(['modes', 'd0755', 'inside'], 75, { mode: 0o755 });
  t.dir(['modes', 'd0555'], 0o555, '2009-03-03T00:00:00.003Z');
  t.file(['modes', 'd0555', 'inside'], 55, { mode: 0o644 });

  t.dir(['links'], 0o755, '2011-11-11T11:11:11.111Z');
  t.symlink(['links', 'relative'], '../sizes/size-1.bin');
  t.symlink(['links', 'absolute'], path.join(root, 'sizes', 'frame.bin'), '2012-12-12T12:12:12.121Z');
  t.symlink(['links', 'dangling'], 'no/such/target', '2013-01-13T13:13:13.131Z');
  t.symlink(['links', 'to-dir'], '../names');
  t.symlink(['links', Buffer.from('odd link ✓')], Buffer.from([0x66, 0xff, 0x6f]));

  t.dir(['empty'], 0o755, '2014-04-14T14:14:14.141Z');
  t.dir(['deep'], 0o755);
  t.dir(['deep', 'a'], 0o700);
  t.dir(['deep', 'a', 'b'], 0o755);
  t.dir(['deep', 'a', 'b', 'empty-leaf'], 0o700, '2015-05-15T15:15:15.151Z');
  t.file(['deep', 'a', 'b', 'leaf.txt'], 12345, { mode: 0o600 });

  t.dir(['many'], 0o755, '2016-06-16T16:16:16.161Z');
  for (let i = 0; i < 300; i++) {
    t.file(['many', `small-${String(i).padStart(3, '0')}`], (i * 37) % 3000, { mtime: 1_100_000_000 + i });
  }
  t.finish();
  return { root, parent, name, fileCount: t.fileCount, totalBytes: t.totalBytes, files: t.files };
}

/** One file of random content with an old mtime; returns its absolute path. */
export function makeFile(dir: string, name: string, size: number, options: { mode?: number; mtime?: string | number } = {}): string {
  const p = path.join(dir, name);
  writeRandomFile(p, size);
  fs.chmodSync(p, options.mode ?? 0o644);
  const mtime = at(options.mtime ?? '2001-09-09T01:46:40.123Z');
  fs.utimesSync(p, mtime, mtime);
  return p;
}

/** A small tree: name/{a, sub/b, sub/c 0600, link -> sub/b}; returns its root. */
export function buildSmallTree(parent: string, name = 'small'): BuiltTree {
  const root = path.join(parent, name);
  const t = new TreeBuilder(Buffer.from(root));
  t.dir([], 0o755, '2004-04-04T04:04:04.404Z');
  t.file(['a'], 1000);
  t.dir(['sub'], 0o750, '2005-05-05T05:05:05.505Z');
  t.file(['sub', 'b'], 70_000, { mode: 0o640 });
  t.file(['sub', 'c'], 3, { mode: 0o600 });
  t.symlink(['link'], 'sub/b');
  t.finish();
  return { root, parent, name, fileCount: t.fileCount, totalBytes: t.totalBytes, files: t.files };
}

/**
 * Many files for the open-file tests: `dirs` directories of `perDir` files, file i of size
 * sizeOf(i); returns its root.
 */
export function buildManyFiles(parent: string, name: string, dirs: number, perDir: number, sizeOf: (i: number) => number): string {
  const t = new TreeBuilder(Buffer.from(path.join(parent, name)));
  t.dir([]);
  for (let d = 0; d < dirs; d++) {
    t.dir([`d${d}`]);
    for (let f = 0; f < perDir; f++) t.file([`d${d}`, `f${f}`], sizeOf(d * perDir + f));
  }
  t.finish();
  return t.root.toString();
}

/** Every other file above INLINE_MAX (FILE_INFO, a descriptor on each side), the rest sent inline. */
export const mixedSmallSize = (i: number): number => (i % 2 === 0 ? 20_000 : (i * 37) % INLINE_MAX);
