/**
 * What rsync users expect (issue 13 item 12), against the test sshd (push, pull, and host to host
 * both directly and relayed through fcp with -3, the options carried in the connect order) and as
 * local copies, each next to rsync run on the same input: -H keeps hard links within the copy; --backup
 * and --suffix keep what a copy replaces; --remove-source-files removes what arrived; as root,
 * owners and groups are kept (by name, or with --numeric-ids by number).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, content, expectExit, expectFailure, expectSameTree, killAll, Run, runFcp, sha256, snapshot, tempDir, unique, writeFile, writeSshConfig } from './harness';
import { aliasLogin, atAlias, fcpdCommand, Sshd, sshdHost, startSshd } from './sshd';

// A test is at most two fcp runs and a few local rsyncs: each run bounded by COPY_MS.
jest.setTimeout(300_000);
/** One fcp run's bound: a copy here takes seconds, but minutes on a machine loaded by other work. */
const COPY_MS = 120_000;
/**
 * fcp's own --timeout for the copies over SSH, within COPY_MS: its default (30 s for the launch and
 * for a relayed connection to arrive) ran out on a machine loaded twenty times over, and how fast
 * is not what these tests check.
 */
const LOADED_TIMEOUT = ['--timeout', '100'];

let sshd: Sshd;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
/** host1 and host2: two aliases of the test sshd, for copies between two remote hosts. */
let twoHosts: string;

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('rsync-options-home');
  work = tempDir('rsync-options-work');
  env = childEnv(home);
  twoHosts = writeSshConfig(path.join(work, 'ssh_config'), ['host1', 'host2'].map((alias) => sshdHost(alias, sshd)));
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const viaAlias = (): string[] => aliasLogin(sshd);
const remote = (p: string): string => atAlias(sshd, p);

/** host to host: `direct` (host1's fcpd connects to host2's), `relayed` (-3, through fcp). */
type Direction = 'push' | 'pull' | 'local' | 'direct' | 'relayed';
const DIRECTIONS: Direction[] = ['push', 'pull', 'local', 'direct', 'relayed'];

/** fcp's arguments for `src dest` in one direction (every remote side is this machine, through sshd). */
function copyArgs(direction: Direction, src: string, dest: string): { ssh: string[]; from: string; to: string } {
  const fcpd = ['--fcpd-path', fcpdCommand(sshd.stateDir)];
  switch (direction) {
    case 'push':
      return { ssh: [...viaAlias(), ...LOADED_TIMEOUT], from: src, to: remote(dest) };
    case 'pull':
      return { ssh: [...viaAlias(), ...LOADED_TIMEOUT], from: remote(src), to: dest };
    case 'local':
      return { ssh: [], from: src, to: dest };
    case 'direct':
    case 'relayed':
      return { ssh: ['-F', twoHosts, ...fcpd, ...LOADED_TIMEOUT, ...(direction === 'relayed' ? ['-3'] : [])], from: `host1:${src}`, to: `host2:${dest}` };
  }
}

/** `fcp [options] src dest` in one direction; expects `exit`. */
async function fcpCopy(direction: Direction, options: string[], src: string, dest: string, exit = 0): Promise<Run> {
  const { ssh, from, to } = copyArgs(direction, src, dest);
  const run = await runFcp([...ssh, ...options, from, to], { env, timeoutMs: COPY_MS });
  expectExit(run, exit);
  return run;
}

function freshDir(label: string): string {
  const dir = path.join(work, unique(label));
  fs.mkdirSync(dir);
  return dir;
}

/** Calls `each` for every entry under root, in sorted pre-order, with its path relative to root. */
function eachEntry(root: string, each: (relative: string, stat: fs.Stats, full: string) => void): void {
  const visit = (dir: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const stat = fs.lstatSync(full);
      each(path.relative(root, full), stat, full);
      if (stat.isDirectory()) visit(full);
    }
  };
  visit(root);
}

/** Every regular file under root, relative, grouped by inode: the groups of names that are one file, sorted. */
function linkGroups(root: string): string[][] {
  const byInode = new Map<number, string[]>();
  eachEntry(root, (relative, stat) => {
    if (stat.isFile()) byInode.set(stat.ino, [...(byInode.get(stat.ino) ?? []), relative]);
  });
  return [...byInode.values()].map((names) => names.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The SHA-256 of every regular file under root, by relative path. */
function contents(root: string): Record<string, string> {
  const found: Record<string, string> = {};
  eachEntry(root, (relative, stat, full) => {
    if (stat.isFile()) found[relative] = sha256(full);
  });
  return found;
}

/**
 * tree/: `big` (chunked) also as `big-again` and `sub/big`, `small` (inline) also as `sub/small`,
 * `solo`, and `shared`, whose other name is outside the tree (so it arrives as a file of its own).
 */
function linkedTree(): string {
  const parent = freshDir('links');
  const tree = path.join(parent, 'tree');
  fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'big'), content(3 * 1024 * 1024 + 7, 'big'));
  fs.linkSync(path.join(tree, 'big'), path.join(tree, 'big-again'));
  fs.linkSync(path.join(tree, 'big'), path.join(tree, 'sub', 'big'));
  fs.writeFileSync(path.join(tree, 'small'), 'small file\n');
  fs.linkSync(path.join(tree, 'small'), path.join(tree, 'sub', 'small'));
  fs.writeFileSync(path.join(tree, 'solo'), 'alone\n');
  fs.writeFileSync(path.join(parent, 'outside'), 'linked from outside\n');
  fs.linkSync(path.join(parent, 'outside'), path.join(tree, 'shared'));
  return tree;
}

describe('-H keeps hard links within the copy, as rsync -aH does', () => {
  // rsync's answer for the tree every direction copies: the same each time, so made once.
  let rsyncGroups: string[][];
  beforeAll(() => {
    const rsynced = freshDir('links-rsync');
    execFileSync('rsync', ['-aH', linkedTree(), rsynced]);
    rsyncGroups = linkGroups(path.join(rsynced, 'tree'));
  });

  test.each(DIRECTIONS)('%s', async (direction) => {
    const tree = linkedTree();
    const dest = freshDir('links-dest');
    await fcpCopy(direction, ['-r', '-H'], tree, dest);
    const copied = path.join(dest, 'tree');
    expect(linkGroups(copied)).toEqual([['big', 'big-again', 'sub/big'], ['shared'], ['small', 'sub/small'], ['solo']]);
    expect(linkGroups(copied)).toEqual(rsyncGroups);
    expect(contents(copied)).toEqual(contents(tree));
    expect(fs.statSync(path.join(copied, 'big')).nlink).toBe(3);
  });

  test('without -H each name is a file of its own; a rerun with -H links them', async () => {
    const tree = linkedTree();
    const dest = freshDir('links-dest');
    await fcpCopy('push', ['-r'], tree, dest);
    const copied = path.join(dest, 'tree');
    expect(linkGroups(copied).every((group) => group.length === 1)).toBe(true);
    expect(contents(copied)).toEqual(contents(tree));
    await fcpCopy('push', ['-r', '-H'], tree, dest);
    expect(linkGroups(copied)).toEqual([['big', 'big-again', 'sub/big'], ['shared'], ['small', 'sub/small'], ['solo']]);
    expect(contents(copied)).toEqual(contents(tree));
  });
});

/** Every entry under root: a file as its content, a symlink as `-> target`, anything else as `special`. */
function listing(root: string): Record<string, string> {
  const found: Record<string, string> = {};
  eachEntry(root, (relative, stat, full) => {
    if (stat.isSymbolicLink()) found[relative] = `-> ${fs.readlinkSync(full)}`;
    else if (!stat.isDirectory()) found[relative] = stat.isFile() ? fs.readFileSync(full, 'utf8') : 'special';
  });
  return found;
}

/**
 * tree/ as a source, and two destinations (one for fcp, one for rsync) that hold an older copy:
 * `changed` and `link` differ (both are replaced), `same` has the source's size and mtime (the
 * quick check keeps it), `new` is not there yet.
 */
function backupCase(): { tree: string; fcpDest: string; rsyncDest: string } {
  const tree = path.join(freshDir('backup'), 'tree');
  writeFile(path.join(tree, 'changed'), Buffer.from('new content\n'), 0o644, 0);
  writeFile(path.join(tree, 'same'), Buffer.from('same\n'), 0o644, 1);
  writeFile(path.join(tree, 'new'), Buffer.from('brand new\n'), 0o644, 2);
  fs.symlinkSync('changed', path.join(tree, 'link'));
  const dests = [freshDir('backup-fcp'), freshDir('backup-rsync')].map((dest) => {
    const old = path.join(dest, 'tree');
    writeFile(path.join(old, 'changed'), Buffer.from('old content, longer\n'), 0o644, 3);
    writeFile(path.join(old, 'same'), Buffer.from('same\n'), 0o644, 1);
    fs.symlinkSync('old-target', path.join(old, 'link'));
    return dest;
  });
  return { tree, fcpDest: dests[0]!, rsyncDest: dests[1]! };
}

describe('--backup renames what a copy replaces to NAME~ first, as rsync -b does', () => {
  // rsync's answer for the case every direction copies: the same each time, so made once.
  let rsyncListing: Record<string, string>;
  beforeAll(() => {
    const { tree, rsyncDest } = backupCase();
    execFileSync('rsync', ['-a', '--backup', tree, rsyncDest]);
    rsyncListing = listing(path.join(rsyncDest, 'tree'));
  });

  test.each(DIRECTIONS)('%s', async (direction) => {
    const { tree, fcpDest } = backupCase();
    await fcpCopy(direction, ['-r', '--backup'], tree, fcpDest);
    expect(listing(path.join(fcpDest, 'tree'))).toEqual({
      changed: 'new content\n',
      'changed~': 'old content, longer\n',
      link: '-> changed',
      'link~': '-> old-target',
      new: 'brand new\n',
      same: 'same\n',
    });
    expect(listing(path.join(fcpDest, 'tree'))).toEqual(rsyncListing);
  });

  test('--suffix .bak names the backups; a rerun replaces nothing and backs nothing up', async () => {
    const { tree, fcpDest, rsyncDest } = backupCase();
    await fcpCopy('push', ['-r', '-b', '--suffix', '.bak'], tree, fcpDest);
    execFileSync('rsync', ['-a', '-b', '--suffix=.bak', tree, rsyncDest]);
    const copied = listing(path.join(fcpDest, 'tree'));
    expect(Object.keys(copied).sort()).toEqual(['changed', 'changed.bak', 'link', 'link.bak', 'new', 'same']);
    expect(copied).toEqual(listing(path.join(rsyncDest, 'tree')));
    await fcpCopy('push', ['-r', '-b', '--suffix', '.bak'], tree, fcpDest);
    expect(listing(path.join(fcpDest, 'tree'))).toEqual(copied);
  });

  test('without --backup nothing is kept; a suffix with a / is a usage error', async () => {
    const { tree, fcpDest } = backupCase();
    await fcpCopy('push', ['-r'], tree, fcpDest);
    expect(Object.keys(listing(path.join(fcpDest, 'tree'))).sort()).toEqual(['changed', 'link', 'new', 'same']);
    expectFailure(await fcpCopy('local', ['-r', '-b', '--suffix', 'old/x'], tree, fcpDest, 2), 2, 'FCP_ERR_USAGE', /without \/ or NUL/);
  });
});

/** Every path under root, relative, directories with a trailing /; sorted. */
function paths(root: string): string[] {
  const found: string[] = [];
  eachEntry(root, (relative, stat) => found.push(relative + (stat.isDirectory() ? '/' : '')));
  return found;
}

/** tree/: a chunked file, small files, a symlink, a hard link, an empty directory, a FIFO (never sent). */
function removalTree(): string {
  const tree = path.join(freshDir('remove'), 'tree');
  fs.mkdirSync(path.join(tree, 'sub', 'empty'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'big'), content(2 * 1024 * 1024 + 3, 'remove'));
  fs.writeFileSync(path.join(tree, 'sub', 'small'), 'small\n');
  fs.linkSync(path.join(tree, 'sub', 'small'), path.join(tree, 'sub', 'small-link'));
  fs.symlinkSync('big', path.join(tree, 'link'));
  execFileSync('mkfifo', [path.join(tree, 'sub', 'fifo')]);
  return tree;
}

/** A copy of `tree` beside it, made with rsync -a (it keeps hard links with -H). */
function twin(tree: string): string {
  const copy = path.join(freshDir('remove-twin'), 'tree');
  execFileSync('rsync', ['-aH', `${tree}/`, `${copy}/`]);
  return copy;
}

describe('--remove-source-files removes each source file, symlink and link once it is in place, as rsync does', () => {
  // What rsync -a (which sends the FIFO, -D) leaves of the tree every direction copies: the
  // same each time, so made once.
  let rsyncLeft: string[];
  beforeAll(() => {
    const rsyncTree = twin(removalTree());
    execFileSync('rsync', ['-aH', '--no-D', '--remove-source-files', rsyncTree, freshDir('remove-rsync')]);
    rsyncLeft = paths(rsyncTree);
  });

  test.each(DIRECTIONS)('%s', async (direction) => {
    const tree = removalTree();
    const before = listing(tree);
    const dest = freshDir('remove-dest');
    // The FIFO is skipped (exit 8, partial) and so stays; everything else that was sent goes.
    await fcpCopy(direction, ['-r', '-H', '--remove-source-files'], tree, dest, 8);
    expect(paths(tree)).toEqual(['sub/', 'sub/empty/', 'sub/fifo']);
    delete before['sub/fifo'];
    expect(listing(path.join(dest, 'tree'))).toEqual(before);
    // rsync leaves the same directories behind.
    expect(rsyncLeft).toEqual(paths(tree));
  });

  // fcp's exit says the sources are gone: where fcpd removes them (a pull, a copy between hosts), it
  // waits for fcpd to say so. 5,000 symlinks take fcpd long enough (its last removals follow the
  // receiver's DONE) that an fcp which did not wait left most of them behind.
  test.each(DIRECTIONS)('%s: the sources are gone when fcp exits (5,000 symlinks)', async (direction) => {
    const tree = path.join(freshDir('remove-many'), 'tree');
    fs.mkdirSync(tree);
    fs.writeFileSync(path.join(tree, 'target'), 'target\n');
    for (let i = 0; i < 5000; i++) fs.symlinkSync('target', path.join(tree, `link-${i}`));
    const dest = freshDir('remove-many-dest');
    await fcpCopy(direction, ['-r', '--remove-source-files'], tree, dest);
    expect(paths(tree)).toEqual([]);
    expect(fs.readdirSync(path.join(dest, 'tree')).length).toBe(5001);
    expect(fs.readlinkSync(path.join(dest, 'tree', 'link-4999'))).toBe('target');
  });

  // As rsync -n: a dry run removes nothing (it removed every source, FILE_SAME standing for each file).
  test.each(['push', 'pull', 'local'] as const)('%s: with --dry-run no source is removed and nothing is copied', async (direction) => {
    const tree = removalTree();
    fs.rmSync(path.join(tree, 'sub', 'fifo'));
    const before = listing(tree);
    const dest = freshDir('remove-dry');
    await fcpCopy(direction, ['-r', '-H', '--remove-source-files', '--dry-run'], tree, dest);
    expect(listing(tree)).toEqual(before);
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  // As rsync: what -u and --ignore-existing leave keeps its source (it was removed, the destination
  // keeping its other version: the source's content was then nowhere).
  test.each(['push', 'pull', 'local'] as const)('%s: with -u, --ignore-existing, --max-size or --existing, what they leave keeps its source; what is sent loses it', async (direction) => {
    const tree = path.join(freshDir('remove-skip'), 'tree');
    const dest = freshDir('remove-skip-dest');
    const at = (root: string, name: string): string => path.join(root, name);
    fs.mkdirSync(path.join(dest, 'tree'));
    fs.mkdirSync(tree);
    fs.writeFileSync(at(tree, 'older'), 'the source, older\n');
    fs.utimesSync(at(tree, 'older'), 1_500_000_000, 1_500_000_000);
    fs.writeFileSync(at(dest, 'tree/older'), 'the destination, newer\n');
    fs.writeFileSync(at(tree, 'newer'), 'the source, newer\n');
    fs.writeFileSync(at(dest, 'tree/newer'), 'the destination, older\n');
    fs.utimesSync(at(dest, 'tree/newer'), 1_500_000_000, 1_500_000_000);
    fs.writeFileSync(at(tree, 'new'), 'not at the destination\n');
    await fcpCopy(direction, ['-r', '-u', '--remove-source-files'], tree, dest);
    expect(fs.readdirSync(tree)).toEqual(['older']);
    expect(fs.readFileSync(at(dest, 'tree/older'), 'utf8')).toBe('the destination, newer\n');
    expect(fs.readFileSync(at(dest, 'tree/newer'), 'utf8')).toBe('the source, newer\n');
    fs.writeFileSync(at(tree, 'fresh'), 'not at the destination either\n');
    fs.writeFileSync(at(tree, 'new'), 'another version of new\n');
    fs.symlinkSync('older', at(tree, 'link'));
    fs.symlinkSync('elsewhere', at(dest, 'tree/link'));
    await fcpCopy(direction, ['-r', '--ignore-existing', '--remove-source-files'], tree, dest);
    expect(fs.readdirSync(tree).sort()).toEqual(['link', 'new', 'older']);
    expect(fs.readFileSync(at(dest, 'tree/fresh'), 'utf8')).toBe('not at the destination either\n');
    expect(fs.readFileSync(at(dest, 'tree/new'), 'utf8')).toBe('not at the destination\n');
    expect(fs.readFileSync(at(tree, 'new'), 'utf8')).toBe('another version of new\n');
    expect(fs.readlinkSync(at(dest, 'tree/link'))).toBe('elsewhere');
    expect(fs.readFileSync(at(tree, 'older'), 'utf8')).toBe('the source, older\n');
    // --max-size leaves a larger file, which is nowhere else: on a pull the sender is fcpd, which
    // must hear the limit (SIZE_LIMITS) to keep it.
    fs.rmSync(at(tree, 'link'));
    fs.writeFileSync(at(tree, 'large'), 'more than the limit of twenty bytes\n');
    fs.writeFileSync(at(tree, 'small'), 'under it\n');
    await fcpCopy(direction, ['-r', '--max-size', '20', '--remove-source-files'], tree, dest);
    // `new` (23 bytes) is over the limit too; `older` (18) is sent now.
    expect(fs.readdirSync(tree).sort()).toEqual(['large', 'new']);
    expect(fs.existsSync(at(dest, 'tree/large'))).toBe(false);
    expect(fs.readFileSync(at(dest, 'tree/older'), 'utf8')).toBe('the source, older\n');
    expect(fs.readFileSync(at(dest, 'tree/small'), 'utf8')).toBe('under it\n');
    // --existing leaves what the destination lacks: over SSH its answer names no file there (SAME_INODE).
    fs.writeFileSync(at(tree, 'new'), 'yet another version\n');
    await fcpCopy(direction, ['-r', '--existing', '--remove-source-files'], tree, dest);
    expect(fs.readdirSync(tree).sort()).toEqual(['large']);
    expect(fs.existsSync(at(dest, 'tree/large'))).toBe(false);
    expect(fs.readFileSync(at(dest, 'tree/new'), 'utf8')).toBe('yet another version\n');
  });

  // Each of these removed the only copy: the "copy" found the file already there (FILE_SAME) and the sender removed it.
  test.each([[[] as string[]], [['--via-fcpd']]])('a source that would land on itself is refused, nothing removed (%j)', async (extra) => {
    const root = freshDir('remove-self');
    const src = path.join(root, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'the one copy\n');
    fs.symlinkSync('src', path.join(root, 'alias'));
    for (const args of [['src/f', 'src/f'], ['src/f', 'src/'], ['-r', 'src/', 'src'], ['src/f', 'alias/f'], ['-r', 'src', '.']]) {
      const run = await runFcp([...extra, '--remove-source-files', ...args], { env, cwd: root });
      expect({ args, code: run.code, stderr: run.stderr }).toMatchObject({ args, code: 2, stderr: expect.stringContaining('would be copied onto itself') });
      expect(fs.readFileSync(path.join(src, 'f'), 'utf8')).toBe('the one copy\n');
    }
  });

  // Over SSH to this very host the destination is the source itself: found the same (FILE_SAME) or
  // sent and renamed over it (-I), every file, symlink and link was removed, and the tree was gone.
  // The receiver's inode tags (more feature SAME_INODE) and the walk's inodes keep them now.
  test.each(['push', 'pull', 'direct', 'relayed'] as const)('%s: a tree copied onto itself on this host keeps every source', async (direction) => {
    // Sync options need fcpd on one side and this machine on the other.
    const syncing = direction === 'push' || direction === 'pull' ? [['-a', '--checksum', '--delete']] : [];
    for (const options of [[], ['-I'], ['-H'], ['-H', '-I'], ...syncing]) {
      const tree = removalTree();
      fs.rmSync(path.join(tree, 'sub', 'fifo'));
      // Small files the walk reads as it finds them (it lets go of their stat once read, but for a removal).
      fs.mkdirSync(path.join(tree, 'sub', 'deeper'));
      for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(tree, 'sub', 'deeper', `f${i}`), `small ${i}\n`);
      const before = listing(tree);
      // Files found the same are left as they are; a symlink is made again (its inode tells the sender).
      const fileInodes = (): Record<string, number> => Object.fromEntries(['big', 'sub/small', 'sub/small-link'].map((name) => [name, fs.lstatSync(path.join(tree, name)).ino]));
      const inodes = fileInodes();
      // Each source kept is an error of the run (exit 8, as rsync exits 23), named wherever the sender is.
      const run = await fcpCopy(direction, ['-r', '--remove-source-files', ...options], tree, path.dirname(tree), 8);
      expect({ options, listing: listing(tree) }).toEqual({ options, listing: before });
      // Found the same (kept as it is) or sent again (a new file under the name): told by the sender,
      // here or (host to host) in fcpd's events, and on a pull by fcpd (SOURCE_KEPT): a file's source
      // is kept as files go, the symlink's (made again) among the last, before fcpd's DONE.
      if (direction !== 'pull') expect(run.stderr).toMatch(/tree\/big: \S*big was not removed \(--remove-source-files\): it is (the destination itself|not what was read).*\(FCP_ERR_(CONFLICT|SOURCE_CHANGED)\)/);
      if (direction === 'pull') {
        expect(run.stderr).toMatch(/tree\/big: fcpd on \S+ did not remove its source \(--remove-source-files\): it is (the destination itself|not what was read)/);
        expect(run.stderr).toMatch(/tree\/link: fcpd on \S+ did not remove its source \(--remove-source-files\): it is not what was read/);
      }
      if (options.length === 0) expect(fileInodes()).toEqual(inodes);
    }
  });

  test('a file that failed at the destination stays; a file the destination already held is removed', async () => {
    const tree = removalTree();
    fs.rmSync(path.join(tree, 'sub', 'fifo'));
    const dest = freshDir('remove-dest');
    // The destination holds a directory where `big` goes (the file fails: exit 8), and `sub/small` already.
    fs.mkdirSync(path.join(dest, 'tree', 'big', 'in-the-way'), { recursive: true });
    execFileSync('rsync', ['-a', `${tree}/sub/`, path.join(dest, 'tree', 'sub')]);
    const run = await fcpCopy('push', ['-r', '-H', '--remove-source-files'], tree, dest, 8);
    expect(run.stderr).toContain('big');
    expect(paths(tree)).toEqual(['big', 'sub/', 'sub/empty/']);
    expect(fs.readFileSync(path.join(dest, 'tree', 'sub', 'small-link'), 'utf8')).toBe('small\n');
  });
});

/** A snapshot with mtimes cut to whole seconds. */
function toSeconds(entries: ReturnType<typeof snapshot>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, { ...entry, mtimeUs: String(BigInt(entry.mtimeUs) / 1_000_000n) }]));
}

/** tree/: files and a directory of several modes and mtimes, all fixed. */
function preserveTree(): string {
  const tree = path.join(freshDir('preserve'), 'tree');
  writeFile(path.join(tree, 'run.sh'), Buffer.from('#!/bin/sh\n'), 0o750, 0);
  writeFile(path.join(tree, 'sub', 'private'), content(1024 * 1024 + 5, 'preserve'), 0o600, 1);
  fs.chmodSync(path.join(tree, 'sub'), 0o711);
  // Fixed directory mtimes too: every tree made by this is the same to the microsecond.
  fs.utimesSync(path.join(tree, 'sub'), 1_333_333_333.5, 1_333_333_333.5);
  fs.utimesSync(tree, 1_444_444_444.5, 1_444_444_444.5);
  return tree;
}

describe('-p (scp) is accepted: modes and mtimes are kept with or without it, as scp -p keeps them', () => {
  // scp -p's copy of the tree every direction copies (an SSH login each time): made once.
  let scpCopy: Record<string, unknown>;
  beforeAll(() => {
    const scpDest = freshDir('preserve-scp');
    execFileSync('scp', ['-F', sshd.sshConfig, '-r', '-p', preserveTree(), remote(scpDest)]);
    scpCopy = toSeconds(snapshot(path.join(scpDest, 'tree')));
  });

  test.each(DIRECTIONS)('%s', async (direction) => {
    const tree = preserveTree();
    const dest = freshDir('preserve-dest');
    await fcpCopy(direction, ['-r', '-p'], tree, dest);
    expectSameTree(path.join(dest, 'tree'), tree);
    // scp -p keeps the same modes, and mtimes to the second (all its protocol carries).
    expect(toSeconds(snapshot(path.join(dest, 'tree')))).toEqual(scpCopy);
  });
});

/** uid:gid of every entry under root, by relative path. */
function owners(root: string): Record<string, string> {
  const found: Record<string, string> = {};
  eachEntry(root, (relative, stat) => (found[relative] = `${stat.uid}:${stat.gid}`));
  return found;
}

/** tree/ with entries owned by nobody, by ids no name has, and by root; a setuid file keeps its bit. */
function ownedTree(): string {
  const tree = path.join(freshDir('owners'), 'tree');
  fs.mkdirSync(path.join(tree, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'nobody-file'), 'nobody\n');
  fs.writeFileSync(path.join(tree, 'dir', 'numeric'), content(2 * 1024 * 1024, 'owners'));
  fs.writeFileSync(path.join(tree, 'setuid'), '#!/bin/sh\n');
  fs.symlinkSync('nobody-file', path.join(tree, 'link'));
  execFileSync('chown', ['nobody:nogroup', path.join(tree, 'nobody-file')]);
  execFileSync('chown', ['1234:2345', path.join(tree, 'dir', 'numeric'), path.join(tree, 'dir'), path.join(tree, 'setuid')]);
  execFileSync('chown', ['-h', '4321:5432', path.join(tree, 'link')]);
  // After its chown, which clears setuid.
  fs.chmodSync(path.join(tree, 'setuid'), 0o4755);
  return tree;
}

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;
asRoot('as root, owners and groups are kept, as rsync -a keeps them', () => {
  // rsync's answer for the tree every direction copies: the same each time, so made once.
  let rsyncOwners: Record<string, string>;
  beforeAll(() => {
    const rsynced = freshDir('owners-rsync');
    execFileSync('rsync', ['-a', ownedTree(), rsynced]);
    rsyncOwners = owners(path.join(rsynced, 'tree'));
  });

  test.each(DIRECTIONS)('%s', async (direction) => {
    const tree = ownedTree();
    const dest = freshDir('owners-dest');
    await fcpCopy(direction, ['-r'], tree, dest);
    const copied = path.join(dest, 'tree');
    const nobody = execFileSync('id', ['-u', 'nobody']).toString().trim();
    expect(owners(copied)).toMatchObject({ 'nobody-file': `${nobody}:${fs.statSync(path.join(tree, 'nobody-file')).gid}`, dir: '1234:2345', 'dir/numeric': '1234:2345', link: '4321:5432' });
    expect(owners(copied)).toEqual(rsyncOwners);
    expect(owners(copied)['.']).toBeUndefined();
    // A chown clears setuid: the mode is applied after it.
    expect(fs.statSync(path.join(copied, 'setuid')).mode & 0o7777).toBe(0o4755);
    expect(listing(copied)).toEqual(listing(tree));
  });

  test('--numeric-ids keeps the numbers; a rerun fixes the owner of a file the quick check keeps', async () => {
    const tree = ownedTree();
    const dest = freshDir('owners-dest');
    await fcpCopy('push', ['-r', '--numeric-ids'], tree, dest);
    const copied = path.join(dest, 'tree');
    expect(owners(copied)).toEqual(owners(tree));
    fs.chownSync(path.join(copied, 'dir', 'numeric'), 0, 0);
    await fcpCopy('pull', ['-r', '--numeric-ids'], tree, dest);
    expect(owners(copied)).toEqual(owners(tree));
    expect(fs.statSync(path.join(copied, 'setuid')).mode & 0o7777).toBe(0o4755);
  });
});
