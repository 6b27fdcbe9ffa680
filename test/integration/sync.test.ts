/**
 * Syncs (issue 16; PROTOCOL.md §7.2, §7.8) with real engines: random trees mutated at random
 * and synced again converge on the source (content, mode, mtime, symlink targets) locally, pushed
 * to and pulled from a loopback fcpd, and a sync of an unchanged tree sends no file bytes;
 * --delete never reaches outside the destination; a dry run changes nothing; --itemize-changes
 * prints what rsync prints on the same trees; the trailing-slash rule converges.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { copy, localLauncher } from '../../src';
import { PathFilter } from '../../src/sync/filter';
import type { CopyOptions, CopySummary } from '../../src/client/copy';
import { compareTrees, regularFiles, snapshot, snapshotDiff } from './helpers/compare';
import { describeRun, errorCodes, killAll, runFcp } from './helpers/run';
import { testBothLocalPaths } from './helpers/localPaths';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(240_000);
const temp = useTempDirs();
afterAll(() => killAll());

const rsyncPresent = spawnSync('rsync', ['--version']).status === 0;

// ─── random trees and mutations ──────────────────────────────────────────────────────────────

type Node = { kind: 'file'; size: number; mode: number; seed: number } | { kind: 'dir'; children: Record<string, Node> } | { kind: 'link'; target: string };

const NAMES = ['a', 'b', 'c', 'd'];
const fileNode = fc.record({ kind: fc.constant('file' as const), size: fc.constantFrom(0, 1, 100, 20_000, 70_000), mode: fc.constantFrom(0o644, 0o600, 0o755), seed: fc.nat(255) });
const linkNode = fc.record({ kind: fc.constant('link' as const), target: fc.constantFrom('a', '../b', '/nonexistent') });
const { tree: treeNode } = fc.letrec<{ tree: Node }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fileNode,
    linkNode,
    fc.record({ kind: fc.constant('dir' as const), children: fc.dictionary(fc.constantFrom(...NAMES), tie('tree'), { maxKeys: 3 }) }),
  ),
}));
const rootNode = fc.dictionary(fc.constantFrom(...NAMES), treeNode, { minKeys: 1, maxKeys: 4 });

function fill(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
  return data;
}

let clock = 1_600_000_000;
function write(at: string, node: Node): void {
  if (node.kind === 'file') {
    fs.writeFileSync(at, fill(node.size, node.seed));
    fs.chmodSync(at, node.mode);
    fs.utimesSync(at, clock, clock++);
  } else if (node.kind === 'link') fs.symlinkSync(node.target, at);
  else {
    fs.mkdirSync(at);
    for (const [name, child] of Object.entries(node.children)) write(path.join(at, name), child);
  }
}

/** Every path of a tree on disk, directories first. */
function paths(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      found.push(full);
      if (fs.lstatSync(full).isDirectory()) walk(full);
    }
  };
  walk(root);
  return found;
}

type Mutation = { op: 'add' | 'remove' | 'modify' | 'truncate' | 'touch' | 'chmod' | 'toDir' | 'toFile' | 'rename'; pick: number; node: Node };
const mutation = fc.record({
  op: fc.constantFrom<Mutation['op']>('add', 'remove', 'modify', 'truncate', 'touch', 'chmod', 'toDir', 'toFile', 'rename'),
  pick: fc.nat(),
  node: treeNode,
});

function mutate(root: string, m: Mutation): void {
  const all = paths(root);
  const dirs = [root, ...all.filter((p) => fs.lstatSync(p).isDirectory())];
  const target = all.length > 0 ? all[m.pick % all.length]! : undefined;
  const stat = target === undefined ? undefined : fs.lstatSync(target);
  switch (m.op) {
    case 'add': {
      const dir = dirs[m.pick % dirs.length]!;
      const name = `n${m.pick % 97}`;
      // lstat, not existsSync: a dangling symlink already there is a name taken.
      if (!fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false })) write(path.join(dir, name), m.node);
      return;
    }
    case 'remove':
      if (target) fs.rmSync(target, { recursive: true, force: true });
      return;
    case 'modify':
      // In place, same size and mtime are not kept: a sync sees the new mtime.
      if (stat?.isFile() && stat.size > 0) {
        const fd = fs.openSync(target!, 'r+');
        fs.writeSync(fd, Buffer.from([0xaa ^ (m.pick & 0xff)]), 0, 1, m.pick % stat.size);
        fs.closeSync(fd);
        fs.utimesSync(target!, clock, clock++);
      }
      return;
    case 'truncate':
      if (stat?.isFile()) fs.truncateSync(target!, Math.floor(stat.size / 2));
      return;
    case 'touch':
      if (target) fs.lutimesSync(target, clock, clock++);
      return;
    case 'chmod':
      if (stat?.isFile()) fs.chmodSync(target!, stat.mode & 0o100 ? 0o640 : 0o751);
      return;
    case 'toDir':
      if (target && !stat!.isDirectory()) {
        fs.rmSync(target);
        write(target, { kind: 'dir', children: { x: { kind: 'file', size: 5, mode: 0o644, seed: 1 } } });
      }
      return;
    case 'toFile':
      if (target && !stat!.isFile()) {
        fs.rmSync(target, { recursive: true });
        write(target, { kind: 'file', size: 30, mode: 0o644, seed: 2 });
      }
      return;
    case 'rename':
      if (target) fs.renameSync(target, `${target}-moved`);
  }
}

// ─── the ways a sync runs ────────────────────────────────────────────────────────────────────

type Way = 'local' | 'push' | 'pull';
const WAYS: Way[] = ['local', 'push', 'pull'];

/** Syncs the contents of `src` into `dst` (src/ dst) with --delete and the extra options, the way asked. */
function sync(way: Way, src: string, dst: string, extra: Partial<CopyOptions> = {}): Promise<CopySummary> {
  const remote = way === 'local' ? {} : { launcher: localLauncher() };
  return copy({
    sources: [way === 'pull' ? `localhost:${src}/` : `${src}/`],
    destination: way === 'push' ? `localhost:${dst}` : dst,
    recursive: true,
    delete: true,
    ...remote,
    ...extra,
  });
}

describe('random trees, mutated and synced again, converge on the source', () => {
  test.each(WAYS)('%s', async (way) => {
    await fc.assert(
      fc.asyncProperty(rootNode, fc.array(mutation, { minLength: 1, maxLength: 6 }), async (tree, mutations) => {
        const work = temp.make('fcp-sync');
        const src = path.join(work, 'src');
        const dst = path.join(work, 'dst');
        write(src, { kind: 'dir', children: tree });
        await sync(way, src, dst);
        expect(compareTrees(src, dst)).toEqual([]);
        for (const m of mutations) mutate(src, m);
        const changed = await sync(way, src, dst);
        expect(changed.errors).toEqual([]);
        expect(compareTrees(src, dst)).toEqual([]);
        const again = await sync(way, src, dst);
        expect({ bytesSent: again.bytesSent, filesDeleted: again.filesDeleted, errors: again.errors }).toEqual({ bytesSent: 0, filesDeleted: 0, errors: [] });
        fs.rmSync(work, { recursive: true, force: true });
      }),
      { numRuns: way === 'local' ? 25 : 8 },
    );
  });
});

describe('--delete stays inside the destination', () => {
  test.each(WAYS)('a symlink planted in the destination is removed as a link; what it points to is untouched (%s)', async (way) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    const outside = path.join(work, 'outside');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub', 'kept'), 'kept');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious'), 'precious');
    await sync(way, src, dst);
    fs.symlinkSync(outside, path.join(dst, 'planted'));
    fs.symlinkSync(outside, path.join(dst, 'sub', 'planted'));
    const before = snapshot(outside);
    const summary = await sync(way, src, dst, { itemizeChanges: true });
    expect(summary.filesDeleted).toBe(2);
    expect(fs.readdirSync(dst).sort()).toEqual(['sub']);
    expect(fs.readdirSync(path.join(dst, 'sub'))).toEqual(['kept']);
    expect(snapshotDiff(before, snapshot(outside))).toEqual([]);
    expect(fs.readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('precious');
  });

  test('--max-delete N: N deletions, then FCP_ERR_MAX_DELETE and a non-zero exit', async () => {
    const work = temp.make('fcp-sync');
    fs.mkdirSync(path.join(work, 'src'));
    fs.mkdirSync(path.join(work, 'dst'));
    for (const name of ['x', 'y', 'z']) fs.writeFileSync(path.join(work, 'dst', name), name);
    const result = await runFcp(['-r', '--delete', '--max-delete', '1', 'src/', 'dst'], { cwd: work });
    expect({ code: result.code, what: describeRun(result) }).toEqual({ code: 8, what: describeRun(result) });
    expect(errorCodes(result.stderr)).toContain('FCP_ERR_MAX_DELETE');
    expect(fs.readdirSync(path.join(work, 'dst')).length).toBe(2);
  });
});

describe("what a sync removes at the destination, rsync's way", () => {
  /** dst/x: a directory holding a file, where src has a file x; dst/e: an empty directory where src has a file e. */
  function inTheWay(work: string): { src: string; dst: string } {
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'x'), 'a file\n');
    fs.writeFileSync(path.join(src, 'e'), 'another\n');
    fs.mkdirSync(path.join(dst, 'x'), { recursive: true });
    fs.writeFileSync(path.join(dst, 'x', 'precious'), 'kept\n');
    fs.mkdirSync(path.join(dst, 'e'));
    return { src, dst };
  }

  // It was removed with everything in it as soon as any sync option was given (--checksum, -u, even --itemize-changes).
  test.each(WAYS)('a directory that is not empty does not make way for a file without --delete, nor with --backup; an empty one does (%s)', async (way) => {
    for (const extra of [{ delete: false, checksum: true }, { delete: false, itemizeChanges: true }, { delete: true, backup: true }, { delete: false, dryRun: true }]) {
      const { src, dst } = inTheWay(temp.make('fcp-sync-way'));
      const summary = await sync(way, src, dst, extra);
      expect({ extra, failed: summary.errors.map((e) => [e.code, e.message.replace(/.*\//, '')]) }).toEqual({
        extra,
        failed: [['FCP_ERR_IS_DIRECTORY', `x is a directory that is not empty: an entry of another type does not replace it ${extra.delete ? 'with --backup' : 'without --delete'}`]],
      });
      expect(fs.readFileSync(path.join(dst, 'x', 'precious'), 'utf8')).toBe('kept\n');
      if (!extra.dryRun) expect(fs.readFileSync(path.join(dst, 'e'), 'utf8')).toBe('another\n');
    }
    const { src, dst } = inTheWay(temp.make('fcp-sync-way'));
    const summary = await sync(way, src, dst);
    expect(summary.errors).toEqual([]);
    expect(fs.readFileSync(path.join(dst, 'x'), 'utf8')).toBe('a file\n');
  });

  // It deleted everything below the depth: the directories there come without their contents.
  test.each(WAYS)('--delete --max-depth 1 deletes only where the listing went: below the depth nothing (%s)', async (way) => {
    const work = temp.make('fcp-sync-depth');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a'), 'a\n');
    fs.writeFileSync(path.join(src, 'sub', 's'), 's\n');
    fs.writeFileSync(path.join(src, 'sub', 'deep', 'd'), 'd\n');
    await sync(way, src, dst);
    fs.writeFileSync(path.join(dst, 'extra'), 'extra\n');
    fs.writeFileSync(path.join(dst, 'sub', 'only-here'), 'only here\n');
    const summary = await sync(way, src, dst, { filter: new PathFilter([], 1) });
    expect({ errors: summary.errors, deleted: summary.filesDeleted }).toEqual({ errors: [], deleted: 1 });
    expect(regularFiles(dst)).toEqual({ a: 'a\n', 'sub/s': 's\n', 'sub/deep/d': 'd\n', 'sub/only-here': 'only here\n' });
  });

  test.each(WAYS)('--delete --backup renames what it deletes to its backup name, keeps the directories that hold backups, and deletes no backup later (%s)', async (way) => {
    const work = temp.make('fcp-sync-backup');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a'), 'a\n');
    fs.mkdirSync(path.join(dst, 'old', 'deeper'), { recursive: true });
    fs.mkdirSync(path.join(dst, 'empty'));
    fs.writeFileSync(path.join(dst, 'gone'), 'gone\n');
    fs.writeFileSync(path.join(dst, 'old', 'in'), 'in\n');
    fs.writeFileSync(path.join(dst, 'old', 'deeper', 'z'), 'z\n');
    for (let run = 0; run < 2; run++) {
      const summary = await sync(way, src, dst, { backup: true, itemizeChanges: true });
      expect(summary.errors).toEqual([]);
      expect(regularFiles(dst)).toEqual({ a: 'a\n', 'gone~': 'gone\n', 'old/in~': 'in\n', 'old/deeper/z~': 'z\n' });
      expect(fs.existsSync(path.join(dst, 'empty'))).toBe(false);
    }
  });
});

describe('--dry-run changes nothing on either side', () => {
  test.each(WAYS)('%s', async (way) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    write(src, { kind: 'dir', children: { a: { kind: 'file', size: 70_000, mode: 0o644, seed: 1 }, d: { kind: 'dir', children: { b: { kind: 'file', size: 10, mode: 0o600, seed: 2 } } }, l: { kind: 'link', target: 'a' } } });
    await sync(way, src, dst);
    mutate(src, { op: 'modify', pick: 0, node: { kind: 'link', target: 'x' } });
    fs.writeFileSync(path.join(src, 'new'), 'new');
    fs.rmSync(path.join(src, 'l'));
    fs.writeFileSync(path.join(dst, 'extra'), 'extra');
    const before = { src: snapshot(src), dst: snapshot(dst) };
    const items: string[] = [];
    const summary = await sync(way, src, dst, { dryRun: true, onEvent: (e) => e.type === 'item' && items.push(`${e.item} ${e.name}`) });
    expect({ src: snapshotDiff(before.src, snapshot(src)), dst: snapshotDiff(before.dst, snapshot(dst)) }).toEqual({ src: [], dst: [] });
    expect(summary.bytesSent).toBe(0);
    // The root's own time depends on when the test wrote into it: left out.
    expect(items.filter((item) => !item.endsWith(' ./')).sort()).toEqual(['*deleting   extra', '*deleting   l', '>f+++++++++ new', '>f..t...... a'].sort());
  });
});

describe('the trailing slash (rsync, not scp)', () => {
  testBothLocalPaths('src/ copies the contents into dst, a sync of src makes dst/src; run twice, neither nests', async (runFcp) => {
    const work = temp.make('fcp-sync');
    write(path.join(work, 'src'), { kind: 'dir', children: { a: { kind: 'file', size: 3, mode: 0o644, seed: 3 } } });
    for (let run = 0; run < 2; run++) {
      for (const args of [['src/', 'contents'], ['--delete', 'src', 'itself']]) {
        const result = await runFcp(['-r', ...args], { cwd: work });
        expect({ code: result.code, what: describeRun(result) }).toEqual({ code: 0, what: describeRun(result) });
      }
    }
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'contents'))).toEqual([]);
    expect(fs.readdirSync(path.join(work, 'itself'))).toEqual(['src']);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'itself', 'src'))).toEqual([]);
  });
});

// ─── itemized changes against rsync ──────────────────────────────────────────────────────────

/** Each case builds the source and the destination (already a copy of an older source), then changes them. */
const ITEMIZE_CASES: [string, (src: string, dst: string) => void][] = [
  ['new file, dir and symlink', (src) => {
    fs.writeFileSync(path.join(src, 'new'), 'new');
    fs.mkdirSync(path.join(src, 'newd'));
    fs.symlinkSync('nowhere', path.join(src, 'newl'));
  }],
  ['content and size', (src) => {
    fs.writeFileSync(path.join(src, 'f'), 'longer content');
    fs.utimesSync(path.join(src, 'f'), 1_700_000_000, 1_700_000_000);
  }],
  ['time only', (src) => fs.utimesSync(path.join(src, 'f'), 1_600_000_000, 1_600_000_000)],
  ['mode only', (src) => fs.chmodSync(path.join(src, 'f'), 0o600)],
  ['symlink target', (src) => {
    fs.rmSync(path.join(src, 'l'));
    fs.symlinkSync('g', path.join(src, 'l'));
    fs.lutimesSync(path.join(src, 'l'), 1_650_000_000, 1_650_000_000);
  }],
  ['types replaced', (src) => {
    fs.rmSync(path.join(src, 'f'));
    fs.mkdirSync(path.join(src, 'f'));
    fs.rmSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'd'), 'd');
    fs.rmSync(path.join(src, 'l'));
    fs.writeFileSync(path.join(src, 'l'), 'l');
  }],
  ['deletions', (_src, dst) => {
    fs.writeFileSync(path.join(dst, 'extra'), 'x');
    fs.mkdirSync(path.join(dst, 'xd', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(dst, 'xd', 'deeper', 'y'), 'y');
  }],
];

/** The tree every case starts from, with fixed times so that only what a case changes differs. */
function baseTree(root: string): void {
  fs.mkdirSync(path.join(root, 'd'), { recursive: true });
  fs.writeFileSync(path.join(root, 'f'), 'content');
  fs.writeFileSync(path.join(root, 'd', 'inner'), 'inner');
  fs.symlinkSync('f', path.join(root, 'l'));
  for (const p of ['f', 'd/inner', 'l', 'd', '.']) fs.lutimesSync(path.join(root, p), 1_500_000_000, 1_500_000_000);
}

(rsyncPresent ? describe : describe.skip)('--itemize-changes prints what rsync -a --itemize-changes prints', () => {
  test.each(ITEMIZE_CASES)('%s (with --delete, dry run)', async (_name, change) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    baseTree(src);
    baseTree(dst);
    change(src, dst);
    // The roots' own times are the same on both sides: only the entries' changes show.
    fs.utimesSync(src, 1_500_000_000, 1_500_000_000);
    fs.utimesSync(dst, 1_500_000_000, 1_500_000_000);
    const rsync = spawnSync('rsync', ['-a', '--dry-run', '--itemize-changes', '--delete', `${src}/`, `${dst}/`], { encoding: 'utf8' });
    expect(rsync.status).toBe(0);
    const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
    const deletions = (text: string): string[] => lines(text).filter((line) => line.startsWith('*deleting'));
    // In this process (the receiver itemizes) and through fcpd (a push: fcpd itemizes, ITEM lines come back).
    for (const option of [[], ['--via-fcpd']]) {
      const fcp = await runFcp([...option, '-r', '--dry-run', '--itemize-changes', '--delete', `${src}/`, dst]);
      expect({ code: fcp.code, stderr: fcp.stderr }).toEqual({ code: 0, stderr: '' });
      expect(lines(fcp.stdout).sort()).toEqual(lines(rsync.stdout).sort());
      // Deletions in rsync's order too (fcp lists them after the rest: README, Sync).
      expect(deletions(fcp.stdout)).toEqual(deletions(rsync.stdout));
    }
  });
});

describe('--checksum', () => {
  test.each(WAYS)('a file of the same data is not sent whatever its mtime, one of other data and the same size and mtime is (%s)', async (way) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    write(src, { kind: 'dir', children: { same: { kind: 'file', size: 70_000, mode: 0o644, seed: 4 }, other: { kind: 'file', size: 30_000, mode: 0o644, seed: 5 } } });
    await sync(way, src, dst);
    fs.utimesSync(path.join(dst, 'same'), 1_000_000_000, 1_000_000_000);
    const otherTime = fs.statSync(path.join(dst, 'other')).mtime;
    fs.writeFileSync(path.join(dst, 'other'), fill(30_000, 6));
    fs.utimesSync(path.join(dst, 'other'), otherTime, otherTime);
    const quick = await sync(way, src, dst, { dryRun: true });
    expect(quick.bytesSent).toBe(0);
    const items: string[] = [];
    const summary = await sync(way, src, dst, { checksum: true, onEvent: (e) => e.type === 'item' && items.push(`${e.item} ${e.name}`) });
    expect(items.sort()).toEqual(['.f..t...... same', '>fc........ other']);
    expect(summary.bytesSent).toBe(30_000);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});

describe('--existing creates nothing and updates what is there, --ignore-existing the other way round, hard links too, as rsync -aH', () => {
  test.each([
    [['--existing'], '--existing'],
    [['--ignore-non-existing', '--via-fcpd'], '--existing'],
    [['--ignore-existing'], '--ignore-existing'],
    [['--ignore-existing', '--via-fcpd'], '--ignore-existing'],
  ])('%j', async (options, rsyncOption) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const [ours, theirs] = [path.join(work, 'fcp'), path.join(work, 'rsync')];
    baseTree(src);
    // New at the source: a file, a directory with a file, a symlink, and two more names of a file.
    fs.writeFileSync(path.join(src, 'new'), 'new');
    fs.mkdirSync(path.join(src, 'newdir'));
    fs.writeFileSync(path.join(src, 'newdir', 'inside'), 'inside');
    fs.symlinkSync('f', path.join(src, 'newlink'));
    fs.linkSync(path.join(src, 'f'), path.join(src, 'f-again'));
    fs.linkSync(path.join(src, 'f'), path.join(src, 'f-third'));
    for (const dst of [ours, theirs]) {
      baseTree(dst);
      // What is there changes: other data and mtime, another mode.
      fs.writeFileSync(path.join(dst, 'f'), 'old');
      fs.chmodSync(path.join(dst, 'd', 'inner'), 0o600);
      // A name of the linked file that is there, as a file of its own.
      fs.writeFileSync(path.join(dst, 'f-again'), 'other');
      for (const p of ['f', 'f-again', 'd/inner', '.']) fs.utimesSync(path.join(dst, p), 1_400_000_000, 1_400_000_000);
    }
    for (const p of ['new', 'newdir/inside', 'newdir', 'newlink', 'f', '.']) fs.lutimesSync(path.join(src, p), 1_550_000_000, 1_550_000_000);
    const rsync = spawnSync('rsync', ['-aH', rsyncOption, '--itemize-changes', `${src}/`, `${theirs}/`], { encoding: 'utf8' });
    expect(rsync.status).toBe(0);
    const fcp = await runFcp([...options, '-r', '-H', '--itemize-changes', `${src}/`, ours]);
    if (rsyncOption === '--existing') {
      expect({ code: fcp.code, stderr: fcp.stderr }).toEqual({ code: 0, stderr: '' });
      expect(snapshot(ours)).toEqual(snapshot(theirs));
      expect(fs.readdirSync(ours).sort()).toEqual(['d', 'f', 'f-again', 'l']);
      expect(fs.readFileSync(path.join(ours, 'f'), 'utf8')).toBe('content');
    } else {
      // f was left with its old data: f-third, new here, cannot be linked to it. rsync sends its
      // data; fcp has only a link to make, and refuses it (exit 8) rather than link it to old data.
      expect(fcp.code).toBe(8);
      expect(fcp.stderr).toMatch(/f-third is not linked: src\/f, the file it names, was left as it is .*FCP_ERR_CONFLICT/);
      // f-again is there: --ignore-existing leaves that name as it is, without a word.
      expect(fcp.stderr).not.toMatch(/f-again/);
      const withoutThird = (dir: string): Map<string, string> => new Map([...snapshot(dir)].filter(([name]) => name !== '"f-third"' && name !== '.'));
      expect(withoutThird(ours)).toEqual(withoutThird(theirs));
      expect(fs.readdirSync(ours).sort()).toEqual(['d', 'f', 'f-again', 'l', 'new', 'newdir', 'newlink']);
      expect(fs.readFileSync(path.join(ours, 'f'), 'utf8')).toBe('old');
    }
    // Hard links too (`hf.st...... f-again => f`); not f-third, which fcp refused.
    const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.endsWith(' f-third')).sort();
    expect(lines(fcp.stdout)).toEqual(lines(rsync.stdout));
  });
});

describe('-H: hard links are itemized as rsync -aH --itemize-changes lists them', () => {
  test.each([[[] as string[]], [['--via-fcpd']]])('%j', async (options) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const [ours, theirs] = [path.join(work, 'fcp'), path.join(work, 'rsync')];
    baseTree(src);
    fs.linkSync(path.join(src, 'f'), path.join(src, 'f-again'));
    fs.linkSync(path.join(src, 'd', 'inner'), path.join(src, 'inner-again'));
    fs.mkdirSync(ours);
    fs.mkdirSync(theirs);
    // rsync sends the last name of a group and links the others to it, fcp the first: a new group's
    // lines (`>f+++++++++ a`, `hf+++++++++ b => a`) are compared as the group made.
    const groups = [['f', 'f-again'], ['d/inner', 'inner-again']];
    const made = (line: string): string => {
      const name = /^(?:>f|hf)\+{9} (.*?)(?: => .*)?$/.exec(line)?.[1];
      const group = groups.find((names) => names.includes(name ?? ''));
      return group ? `a new file, named ${group.join(' and ')}` : line;
    };
    const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '').map(made).sort();
    // Into nothing, then again (every link is there: no line), as rsync.
    for (const round of ['first', 'again']) {
      const rsync = spawnSync('rsync', ['-aH', '--itemize-changes', `${src}/`, `${theirs}/`], { encoding: 'utf8' });
      expect(rsync.status).toBe(0);
      const fcp = await runFcp([...options, '-r', '-H', '--itemize-changes', `${src}/`, ours]);
      expect({ round, code: fcp.code, stderr: fcp.stderr }).toEqual({ round, code: 0, stderr: '' });
      expect({ round, lines: lines(fcp.stdout) }).toEqual({ round, lines: lines(rsync.stdout) });
      if (round === 'first') expect(fcp.stdout.split('\n')).toEqual(expect.arrayContaining(['hf+++++++++ f-again => f', 'hf+++++++++ inner-again => d/inner']));
    }
    expect(fs.statSync(path.join(ours, 'f-again')).ino).toBe(fs.statSync(path.join(ours, 'f')).ino);
  });
});

describe('--min-size and --max-size leave files outside them, and --delete keeps them, as rsync -a', () => {
  test.each([[[] as string[]], [['--via-fcpd']]])('%j', async (options) => {
    const work = temp.make('fcp-sync');
    const src = path.join(work, 'src');
    const [ours, theirs] = [path.join(work, 'fcp'), path.join(work, 'rsync')];
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const sizes: Record<string, number> = { empty: 0, tiny: 10, 'sub/mid': 2048, exact: 4096, big: 5000, 'sub/huge': 70_000 };
    for (const [name, size] of Object.entries(sizes)) fs.writeFileSync(path.join(src, name), fill(size, size % 251));
    // Other names of a file the limits leave (left too) and of one they let through (linked), for -H.
    fs.linkSync(path.join(src, 'big'), path.join(src, 'big-again'));
    fs.linkSync(path.join(src, 'exact'), path.join(src, 'exact-again'));
    for (const dst of [ours, theirs]) {
      fs.mkdirSync(path.join(dst, 'sub'), { recursive: true });
      // At the destination, other versions of a file each limit leaves: --delete must keep them.
      fs.writeFileSync(path.join(dst, 'tiny'), 'old tiny');
      fs.writeFileSync(path.join(dst, 'sub', 'huge'), 'old huge');
      for (const p of ['.', 'sub', 'tiny', 'sub/huge']) fs.utimesSync(path.join(dst, p), 1_400_000_000, 1_400_000_000);
    }
    for (const p of [...Object.keys(sizes), 'sub', '.']) fs.utimesSync(path.join(src, p), 1_550_000_000, 1_550_000_000);
    const limits = ['--min-size', '2k', '--max-size', '4k'];
    const rsync = spawnSync('rsync', ['-aH', '--delete', '--itemize-changes', ...limits, `${src}/`, `${theirs}/`], { encoding: 'utf8' });
    expect(rsync.status).toBe(0);
    const fcp = await runFcp([...options, '-r', '-H', '--delete', '--itemize-changes', ...limits, `${src}/`, ours]);
    expect({ code: fcp.code, stderr: fcp.stderr }).toEqual({ code: 0, stderr: '' });
    expect(snapshot(ours)).toEqual(snapshot(theirs));
    expect(fs.readdirSync(ours).sort()).toEqual(['exact', 'exact-again', 'sub', 'tiny']);
    expect(fs.statSync(path.join(ours, 'exact-again')).ino).toBe(fs.statSync(path.join(ours, 'exact')).ino);
    expect(fs.readFileSync(path.join(ours, 'sub', 'huge'), 'utf8')).toBe('old huge');
    // rsync sends the last name of a group, fcp the first: the group's two lines as the group made.
    const made = (line: string): string => (/^(?:>f|hf)\+{9} exact(-again)?( => .*)?$/.test(line) ? 'a new file, named exact and exact-again' : line);
    const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '').map(made).sort();
    expect(lines(fcp.stdout)).toEqual(lines(rsync.stdout));
  });

  test('a size that is not one is a usage error', async () => {
    const work = temp.make('fcp-sync');
    const run = await runFcp(['-r', '--max-size', '1.5', work, path.join(work, 'dst')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--max-size.*rsync/);
  });
});
