/**
 * Tree checkers. compareTrees walks two trees with Buffer paths and lists every difference in
 * words: missing and unexpected names, types, sizes, sha256 of contents, mode & 0o7777 of files
 * and directories, mtimes (to the millisecond) and symlink targets. An empty list means equal.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { PathLike } from './tree';

const SLASH = Buffer.from('/');

/** A path for messages: as text when it is valid UTF-8, else with \xNN escapes for bad bytes. */
export function show(p: PathLike): string {
  if (typeof p === 'string') return JSON.stringify(p);
  const text = p.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(p)) return JSON.stringify(text);
  let out = '';
  for (const byte of p) out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return `"${out}"`;
}

function toBuf(p: PathLike): Buffer {
  return typeof p === 'string' ? Buffer.from(p) : p;
}

function join(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, SLASH, name]);
}

export function sha256File(file: PathLike): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function kind(stat: fs.BigIntStats): string {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'directory';
  if (stat.isSymbolicLink()) return 'symlink';
  return 'special';
}

const oct = (mode: bigint | number): string => `0${(Number(mode) & 0o7777).toString(8)}`;
const NS_PER_MS = 1_000_000n;

function isoNs(ns: bigint): string {
  const ms = ns / NS_PER_MS - (ns < 0n && ns % NS_PER_MS !== 0n ? 1n : 0n);
  const frac = ((ns % NS_PER_MS) + NS_PER_MS) % NS_PER_MS;
  return `${new Date(Number(ms)).toISOString()}+${frac}ns`;
}

export interface CompareOptions {
  /** Read the expected side through symlinks (the copy was made with -L). */
  followExpected?: boolean;
  /** Compare mtimes of symlinks too (fcp sends and applies them). Default true. */
  symlinkMtimes?: boolean;
  /** Compare the metadata (mode, mtime) of the two roots themselves. Default true. */
  rootMeta?: boolean;
  /** Names (relative paths, as text) to leave out on both sides. */
  ignore?: (relative: Buffer) => boolean;
}

/**
 * Differences between `expected` (the source) and `actual` (the copy), one line each, in walk
 * order. Paths in the lines are relative to the roots.
 */
export function compareTrees(expectedRoot: PathLike, actualRoot: PathLike, options: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const symlinkMtimes = options.symlinkMtimes ?? true;
  const statExpected = (p: Buffer): fs.BigIntStats =>
    options.followExpected ? fs.statSync(p, { bigint: true }) : fs.lstatSync(p, { bigint: true });

  const visit = (exp: Buffer, act: Buffer, rel: Buffer, isRoot: boolean): void => {
    const where = isRoot ? '(root)' : show(rel);
    let es: fs.BigIntStats;
    let as: fs.BigIntStats;
    try {
      es = statExpected(exp);
    } catch (err) {
      diffs.push(`${where}: cannot stat expected side: ${(err as Error).message}`);
      return;
    }
    try {
      as = fs.lstatSync(act, { bigint: true });
    } catch (err) {
      diffs.push(`${where}: missing in copy (expected ${kind(es)}): ${(err as NodeJS.ErrnoException).code}`);
      return;
    }
    if (kind(es) !== kind(as)) {
      diffs.push(`${where}: type differs: expected ${kind(es)}, copy is ${kind(as)}`);
      return;
    }
    const checkMeta = !isRoot || options.rootMeta !== false;
    if (es.isFile()) {
      if (es.size !== as.size) diffs.push(`${where}: size differs: expected ${es.size}, copy has ${as.size}`);
      else {
        const eh = sha256File(exp);
        const ah = sha256File(act);
        if (eh !== ah) diffs.push(`${where}: content differs (sha256 expected ${eh.slice(0, 16)}…, copy ${ah.slice(0, 16)}…)`);
      }
    }
    if (es.isSymbolicLink()) {
      const et = fs.readlinkSync(exp, { encoding: 'buffer' });
      const at = fs.readlinkSync(act, { encoding: 'buffer' });
      if (!et.equals(at)) diffs.push(`${where}: symlink target differs: expected ${show(et)}, copy points to ${show(at)}`);
    }
    if (checkMeta && !es.isSymbolicLink()) {
      if ((es.mode & 0o7777n) !== (as.mode & 0o7777n)) diffs.push(`${where}: mode differs: expected ${oct(es.mode)}, copy has ${oct(as.mode)}`);
    }
    if (checkMeta && (!es.isSymbolicLink() || symlinkMtimes)) {
      const delta = es.mtimeNs - as.mtimeNs;
      if (delta >= NS_PER_MS || delta <= -NS_PER_MS) {
        diffs.push(`${where}: mtime differs by more than 1 ms: expected ${isoNs(es.mtimeNs)}, copy has ${isoNs(as.mtimeNs)}`);
      }
    }
    if (es.isDirectory()) {
      const names = (dir: Buffer, label: string): Buffer[] | undefined => {
        try {
          return fs.readdirSync(dir, { encoding: 'buffer' });
        } catch (err) {
          diffs.push(`${where}: cannot list ${label} directory: ${(err as NodeJS.ErrnoException).code}`);
          return undefined;
        }
      };
      const en = names(exp, 'expected');
      const an = names(act, 'copied');
      if (!en || !an) return;
      const key = (b: Buffer): string => b.toString('latin1');
      const relOf = (name: Buffer): Buffer => (isRoot ? name : join(rel, name));
      const keep = (name: Buffer): boolean => !options.ignore?.(relOf(name));
      const expectedNames = new Map(en.filter(keep).map((n) => [key(n), n]));
      const actualNames = new Map(an.filter(keep).map((n) => [key(n), n]));
      for (const [k, name] of [...expectedNames].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (!actualNames.has(k)) {
          let what = '?';
          try {
            what = kind(statExpected(join(exp, name)));
          } catch {
            /* shown as ? */
          }
          diffs.push(`${show(relOf(name))}: missing in copy (expected ${what})`);
          continue;
        }
        visit(join(exp, name), join(act, name), relOf(name), false);
      }
      for (const [k, name] of actualNames) {
        if (!expectedNames.has(k)) {
          let what = '?';
          try {
            what = kind(fs.lstatSync(join(act, name), { bigint: true }));
          } catch {
            /* shown as ? */
          }
          diffs.push(`${show(relOf(name))}: unexpected in copy (${what})${/\.fcp-/.test(key(name)) ? ' — a leftover temporary' : ''}`);
        }
      }
    }
  };
  visit(toBuf(expectedRoot), toBuf(actualRoot), Buffer.alloc(0), true);
  return diffs;
}

/** Every entry under root (relative path → "type size mode mtimeNs sha256|target"), for before/after snapshots. */
export function snapshot(root: PathLike, options: { exclude?: PathLike[] } = {}): Map<string, string> {
  const out = new Map<string, string>();
  const excluded = (options.exclude ?? []).map(toBuf);
  const visit = (p: Buffer, rel: Buffer | undefined): void => {
    if (excluded.some((e) => e.equals(p))) return;
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(p, { bigint: true });
    } catch {
      return;
    }
    let detail = '';
    if (st.isFile()) {
      try {
        detail = sha256File(p);
      } catch (err) {
        detail = `unreadable:${(err as NodeJS.ErrnoException).code}`;
      }
    } else if (st.isSymbolicLink()) detail = `-> ${show(fs.readlinkSync(p, { encoding: 'buffer' }))}`;
    out.set(rel ? show(rel) : '.', `${kind(st)} ${st.isDirectory() ? '-' : st.size} ${oct(st.mode)} ${st.mtimeNs} ${detail}`);
    if (st.isDirectory()) {
      let names: Buffer[] = [];
      try {
        names = fs.readdirSync(p, { encoding: 'buffer' });
      } catch {
        return;
      }
      for (const name of names) visit(join(p, name), rel ? join(rel, name) : name);
    }
  };
  visit(toBuf(root), undefined);
  return out;
}

/** What changed between two snapshots, one line per path. */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const diffs: string[] = [];
  for (const [p, v] of before) {
    if (!after.has(p)) diffs.push(`${p}: removed (was ${v})`);
    else if (after.get(p) !== v) diffs.push(`${p}: changed from ${v} to ${after.get(p)}`);
  }
  for (const [p, v] of after) if (!before.has(p)) diffs.push(`${p}: created (${v})`);
  return diffs;
}

/** A part file with its journal and no lock: what an interrupted run keeps for a rerun to resume (PROTOCOL.md §7.5). */
function resumeState(part: Buffer): boolean {
  const name = part.toString('latin1');
  if (name.endsWith('.fcp-part.journal')) return fs.existsSync(part.subarray(0, part.length - '.journal'.length));
  return name.endsWith('.fcp-part') && fs.existsSync(Buffer.concat([part, Buffer.from('.journal')])) && !fs.existsSync(Buffer.concat([part, Buffer.from('.lock')]));
}

/**
 * Names under root that look like fcp temporaries (".name.fcp-xxxxxxxx"), relative to root: orphans,
 * that is, all but the resume state an interrupted run keeps.
 */
export function leftoverTemporaries(root: PathLike): string[] {
  const found: string[] = [];
  const visit = (p: Buffer, rel: Buffer | undefined): void => {
    let names: Buffer[];
    try {
      names = fs.readdirSync(p, { encoding: 'buffer' });
    } catch {
      return;
    }
    for (const name of names) {
      const child = join(p, name);
      const childRel = rel ? join(rel, name) : name;
      if (/^\..*\.fcp-[0-9a-z-]+$/s.test(name.toString('latin1')) && !resumeState(child)) found.push(show(childRel));
      try {
        if (fs.lstatSync(child).isDirectory()) visit(child, childRel);
      } catch {
        /* vanished */
      }
    }
  };
  visit(toBuf(root), undefined);
  return found;
}

/** Every regular file under root with its sha256, by relative path (latin1 key). */
export function fileHashes(root: PathLike): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (p: Buffer, rel: Buffer | undefined): void => {
    const st = fs.lstatSync(p);
    if (st.isFile()) out.set((rel ?? Buffer.alloc(0)).toString('latin1'), sha256File(p));
    else if (st.isDirectory()) {
      for (const name of fs.readdirSync(p, { encoding: 'buffer' })) visit(join(p, name), rel ? join(rel, name) : name);
    }
  };
  visit(toBuf(root), undefined);
  return out;
}

/**
 * Files under `copied` (if it exists) whose content differs from the file of the same relative
 * path under `expectedRoot`, or that has no such file: what a failed copy must never leave.
 */
export function wrongFiles(expectedRoot: PathLike, copied: PathLike): string[] {
  const expected = fileHashes(expectedRoot);
  const actual = fs.existsSync(copied) ? fileHashes(copied) : new Map<string, string>();
  // The resume state of an interrupted run is not a file under a final name.
  return [...actual].filter(([rel, hash]) => expected.get(rel) !== hash && !resumeState(join(toBuf(copied), Buffer.from(rel, 'latin1')))).map(([rel]) => rel);
}

/** fcp's files of a transfer under way: partial files (`.NAME.fcp-part...`) and temporaries (`.NAME.fcp-PID-N`). */
const UNDER_WAY = /^\..*\.fcp-(part|[0-9a-z]+-[0-9a-z]+$)/;

/**
 * Every regular file below `root` by its path relative to it, as `describe` shows it: its content
 * by default. fcp's files of a transfer under way are left out, and so is a file renamed or removed
 * between the listing and the reading (a transfer may be running).
 */
export function regularFiles(root: string, describe: (file: string) => string = (file) => fs.readFileSync(file, 'utf8')): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (rel: string): void => {
    for (const entry of fs.readdirSync(`${root}/${rel}`, { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (UNDER_WAY.test(entry.name)) continue;
      if (entry.isDirectory()) visit(child);
      else if (entry.isFile()) {
        try {
          found[child] = describe(`${root}/${child}`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  };
  visit('');
  return found;
}
