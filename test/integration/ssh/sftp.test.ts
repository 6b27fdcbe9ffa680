/**
 * SFTP mode against a real OpenSSH server whose sessions have no Node.js on their PATH (SetEnv
 * PATH in its sshd_config): fcp finds no fcpd, finds no Node, says so in one line and copies over
 * SFTP; --sftp does it by choice. Trees go both ways identical (content, modes, links, empty
 * directories; mtimes to the second, all SFTP v3 carries), sizes and cksum's CRC are verified
 * (sizes alone with --no-verify), an
 * earlier run's temporary is continued, and errors are those of fcpd mode: -r missing, permission
 * denied (as nobody, whose sessions are internal-sftp only) and a full disk (a tmpfs), each named
 * with its file, the rest copied, exit 8.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { leftoverTemporaries } from '../helpers/compare';
import { unprivilegedUser } from '../helpers/run';
import { chownTree, isRoot, mount, useTempDirs } from '../helpers/tmp';
import { childEnv, content, Entry, expectExit, expectFailure, killAll, makeTree, runFcp, snapshot, tempDir, unique, writeFile } from './harness';
import { keygen, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

const NOTICE = /^fcp: no Node\.js 20\+ on 127\.0\.0\.1: copying over SFTP \(3 sessions\)$/m;
/** A file with this in its name is given a wrong CRC by the server's cksum (see beforeAll). */
const CORRUPT = 'corrupt-me';

let sshd: Sshd;
let home: string;
let work: string;
let tree: string;
let env: NodeJS.ProcessEnv;
const nobody = unprivilegedUser();
const temp = useTempDirs();

beforeAll(async () => {
  work = tempDir('sftp-work');
  // A PATH with the hash tools but no node (node lives in /usr/bin here).
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  // A shell and the basic tools every host has, and no Node.js.
  for (const tool of ['sh', 'cut', 'dd', 'sha256sum', 'md5sum']) fs.symlinkSync(path.join('/usr/bin', tool), path.join(bin, tool));
  // cksum, except that a file named with CORRUPT in its name gets another CRC: as if its bytes
  // had changed between the two ends (only -z names files; the probe and streams read stdin).
  fs.writeFileSync(path.join(bin, 'cksum'), `#!/bin/sh\n/usr/bin/cksum "$@" | /usr/bin/sed -z 's/^[0-9]*\\( [0-9]* .*${CORRUPT}[^/]*\\)$/1\\1/'\n`, { mode: 0o755 });
  // sshd reads authorized keys as the user: nobody's copy must be where nobody can read it.
  const key = path.join(work, 'id_ed25519');
  const userKey = { file: key, pub: keygen(key) };
  const nobodyKeys = path.join(work, 'nobody_keys');
  fs.writeFileSync(nobodyKeys, `${userKey.pub}\n`, { mode: 0o644 });
  sshd = await startSshd({
    userKey,
    extraConfig: [`SetEnv PATH=${bin}`, `Match User ${nobody.name}`, `  AuthorizedKeysFile ${nobodyKeys}`, '  ForceCommand internal-sftp'].join('\n'),
  });
  home = tempDir('sftp-home');
  tree = path.join(work, 'tree');
  makeTree(tree, 'sftp-test');
  env = childEnv(home);
  // nobody reaches what its tests own under work.
  fs.chmodSync(work, 0o755);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** -P, -i, known_hosts: everything on the command line, as `user` (default: this user). */
const login = (): string[] => ['-P', String(sshd.port), '-i', sshd.identity, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-n', '3'];
const at = (p: string, user = sshd.user): string => `${user}@127.0.0.1:${p}`;
const fresh = (label: string): string => path.join(work, unique(label));

/** A snapshot with mtimes in whole seconds: SFTP v3 carries no fraction. */
function toSeconds(entries: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(entries).map(([rel, e]) => [rel, e.mtimeUs === '-' ? e : { ...e, mtimeUs: e.mtimeUs.slice(0, -6) }]));
}

function expectSameTreeToTheSecond(copy: string, original: string): void {
  expect(toSeconds(snapshot(copy))).toEqual(toSeconds(snapshot(original)));
}

/** What cksum prints first for `bytes`: the digest SFTP mode compares. */
const cksum = (bytes: Buffer): string => execFileSync('cksum', { input: bytes }).toString().split(' ')[0]!;

function jsonRecords(stdout: string): { event: string; [key: string]: unknown }[] {
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string });
}

describe('a remote host without Node.js', () => {
  test('upload of a tree: one notice, then SFTP; the tree arrives identical, no temporaries left', async () => {
    const dest = fresh('up');
    fs.mkdirSync(dest);
    const run = await runFcp([...login(), '-r', tree, at(dest)], { env });
    expectExit(run, 0);
    expect(run.stderr).toMatch(NOTICE);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expectSameTreeToTheSecond(path.join(dest, 'tree'), tree);
    expect(leftoverTemporaries(dest)).toEqual([]);
  });

  test('download of a tree with --json: same events as fcpd mode, summary says sftp and size+crc', async () => {
    const dest = fresh('down');
    const run = await runFcp([...login(), '--json', '-r', at(tree), dest], { env });
    expectExit(run, 0);
    // rsync's placement, as fcpd's: a missing destination is made a directory and the tree goes into it.
    expectSameTreeToTheSecond(path.join(dest, 'tree'), tree);
    const records = jsonRecords(run.stdout);
    expect(records[0]).toMatchObject({ event: 'start', files: 6, connections: 3, encrypted: true });
    const files = records.filter((r) => r.event === 'file');
    expect(files.map((r) => r.path).sort()).toEqual(['tree/big.bin', 'tree/empty', 'tree/run.sh', 'tree/secret', 'tree/sub dir/deeper/leaf', 'tree/sub dir/nested.dat']);
    const big = files.find((r) => r.path === 'tree/big.bin')!;
    expect(big.digest).toBe(cksum(fs.readFileSync(path.join(tree, 'big.bin'))));
    expect(records[records.length - 1]).toMatchObject({ event: 'summary', files: 6, filesFailed: 0, mode: 'sftp', verification: 'size+crc', connections: 3 });
  });

  test('--sftp --no-verify: sizes alone, no digests, the tree identical', async () => {
    const dest = fresh('noverify');
    fs.mkdirSync(dest);
    const run = await runFcp([...login(), '--sftp', '--no-verify', '--json', '-r', tree, at(dest)], { env });
    expectExit(run, 0);
    expectSameTreeToTheSecond(path.join(dest, 'tree'), tree);
    const records = jsonRecords(run.stdout);
    expect(records.filter((r) => r.event === 'file' && r.digest !== undefined)).toEqual([]);
    expect(records[records.length - 1]).toMatchObject({ event: 'summary', files: 6, filesFailed: 0, mode: 'sftp', verification: 'size' });
  });

  test('--no-verify without --sftp, to a host: a usage error naming both ways it applies', async () => {
    const run = await runFcp([...login(), '--no-verify', '-r', tree, at(fresh('noverify-refused'))], { env });
    expectFailure(run, 2, 'FCP_ERR_USAGE', /--no-verify applies only to local copies made in this process and to copies over SFTP \(--sftp\)/);
  });

  test('without -r a directory is refused as in fcpd mode: FCP_ERR_IS_DIRECTORY, exit 4, nothing written', async () => {
    const dest = fresh('nor');
    const run = await runFcp([...login(), at(tree), dest], { env });
    expectFailure(run, 4, 'FCP_ERR_IS_DIRECTORY', /is a directory/, /use -r/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});

describe('--sftp', () => {
  test('a single file: copied over SFTP with --sftp named as the reason', async () => {
    const dest = fresh('one');
    const run = await runFcp([...login(), '--sftp', path.join(tree, 'big.bin'), at(dest)], { env });
    expectExit(run, 0);
    expect(run.stderr).toMatch(/^fcp: --sftp: copying over SFTP \(3 sessions\)$/m);
    expect(fs.readFileSync(dest).equals(fs.readFileSync(path.join(tree, 'big.bin')))).toBe(true);
  });

  test('--mkpath: the missing directories are made over SFTP (a file renamed into a/b/c, a tree into a/b/c/); a .. among them is refused', async () => {
    const base = fresh('mkpath');
    const file = await runFcp([...login(), '--sftp', '--mkpath', path.join(tree, 'big.bin'), at(path.join(base, 'a/b/c'))], { env });
    expectExit(file, 0);
    expect(fs.readFileSync(path.join(base, 'a/b/c')).equals(fs.readFileSync(path.join(tree, 'big.bin')))).toBe(true);
    const dir = await runFcp([...login(), '--sftp', '--mkpath', '-r', tree, at(path.join(base, 'x/y/z/'))], { env });
    expectExit(dir, 0);
    expectSameTreeToTheSecond(path.join(base, 'x/y/z/tree'), tree);
    const up = await runFcp([...login(), '--sftp', '--mkpath', path.join(tree, 'big.bin'), at(`${base}/new/../out/f`)], { env });
    expectFailure(up, 2, 'FCP_ERR_USAGE', /--mkpath: .* has \. or \.\. among the directories it would make/);
    expect(fs.readdirSync(base).sort()).toEqual(['a', 'x']);
  });

  test('a pull with -x: a usage error (SFTP gives no device numbers), nothing written', async () => {
    const dest = fresh('one-fs');
    const run = await runFcp([...login(), '--sftp', '-r', '-x', at(tree), dest], { env });
    expectFailure(run, 2, 'FCP_ERR_USAGE', /a pull with -x needs fcpd on the remote host/);
    expect(fs.existsSync(dest)).toBe(false);
  });

  test('a pull walks the remote tree with --exclude, reading no excluded directory', async () => {
    const dest = fresh('filtered');
    const run = await runFcp([...login(), '--sftp', '-r', '--exclude', 'sub dir/', '--exclude', '*.sh', at(tree), dest], { env });
    expectExit(run, 0);
    expect(fs.readdirSync(path.join(dest, 'tree')).sort()).toEqual(['big.bin', 'empty', 'empty dir', 'link', 'secret']);
  });

  test('a large file is hashed on the remote side while it is written (push) or read (pull), and arrives whole both ways', async () => {
    // 64 MiB and a partial chunk: a streamed digest, fed chunk by chunk, ends in a short read.
    const data = content(64 * 1024 * 1024 + 4321, 'sftp-test/streamed');
    const source = fresh('streamed-src');
    writeFile(source, data, 0o640, 1_700_000_000);
    const remote = fresh('streamed-remote');
    const back = fresh('streamed-back');
    const push = await runFcp([...login(), '--sftp', '-v', '--json', source, at(remote)], { env });
    const pull = push.code === 0 ? await runFcp([...login(), '--sftp', '-v', at(remote), back], { env }) : push;
    for (const run of [push, pull]) {
      expectExit(run, 0);
      expect(run.stderr).not.toMatch(/hashing it again/);
    }
    const file = jsonRecords(push.stdout).find((record) => record.event === 'file');
    expect(file?.digest).toBe(cksum(data));
    expect(fs.readFileSync(remote).equals(data)).toBe(true);
    expect(fs.readFileSync(back).equals(data)).toBe(true);
    expect(fs.statSync(back).mode & 0o777).toBe(0o640);
  });

  test("an earlier run's temporary is continued from its length less the margin, and the file comes out whole", async () => {
    const size = 20 * 1024 * 1024 + 777;
    const data = content(size, 'sftp-test/resume');
    const source = path.join(fresh('resume-src'));
    writeFile(source, data, 0o644, 0);
    const destDir = fresh('resume-dst');
    fs.mkdirSync(destDir);
    const mtime = Math.floor(fs.statSync(source).mtimeMs / 1000);
    // As if a run had stopped at 18 MiB + 5 bytes.
    const temp = path.join(destDir, `.out.fcp-sftp-${size}-${mtime}`);
    fs.writeFileSync(temp, data.subarray(0, 18 * 1024 * 1024 + 5));
    const run = await runFcp([...login(), '--sftp', '-v', source, at(path.join(destDir, 'out'))], { env });
    expectExit(run, 0);
    // 18 MiB + 5 less the 16 MiB margin, down to a chunk boundary: 2 MiB.
    expect(run.stderr).toContain(`${path.basename(source)}: resuming from ${2 * 1024 * 1024} bytes of an earlier run`);
    expect(fs.readFileSync(path.join(destDir, 'out')).equals(data)).toBe(true);
    expect(leftoverTemporaries(destDir)).toEqual([]);
  });
});

describe('verification and the session count', () => {
  test('a file whose bytes differ at the other end fails with FCP_ERR_VERIFY, both ways, among files that arrive', async () => {
    const source = fresh('corrupt-src');
    fs.mkdirSync(source);
    // Many small files around it: they are hashed in the same batches.
    for (let i = 0; i < 300; i++) writeFile(path.join(source, `f${i}`), content(100 + i, `sftp-test/batch/${i}`), 0o644, 1_600_000_000);
    writeFile(path.join(source, `${CORRUPT}.dat`), content(5000, 'sftp-test/corrupt'), 0o644, 1_600_000_000);
    const remote = fresh('corrupt-remote');
    fs.mkdirSync(remote);
    const push = await runFcp([...login(), '--sftp', '--json', '-r', source, at(remote)], { env });
    // The pull's source is a tree on the server whose cksum lies about one file.
    const back = fresh('corrupt-back');
    const pull = await runFcp([...login(), '--sftp', '--json', '-r', at(source), back], { env });
    for (const [run, dest] of [[push, remote], [pull, back]] as const) {
      expectExit(run, 8);
      const records = jsonRecords(run.stdout);
      const failed = records.filter((r) => r.event === 'file' && r.error);
      expect(failed.map((r) => [r.path, (r.error as { code: string }).code])).toEqual([[`${path.basename(source)}/${CORRUPT}.dat`, 'FCP_ERR_VERIFY']]);
      expect((failed[0]!.error as { message: string }).message).toMatch(/crc after the copy differs from the source's/);
      expect(records[records.length - 1]).toMatchObject({ event: 'summary', files: 300, filesFailed: 1, verification: 'size+crc' });
      const copied = path.join(dest, path.basename(source));
      expect(fs.existsSync(path.join(copied, `${CORRUPT}.dat`))).toBe(false);
      for (const i of [0, 150, 299]) expect(fs.readFileSync(path.join(copied, `f${i}`)).equals(fs.readFileSync(path.join(source, `f${i}`)))).toBe(true);
      expect(leftoverTemporaries(dest)).toEqual([]);
    }
  });

  test('without -n the session count is tuned: one session first, more while the copy runs (FCP_TEST_TUNER), the tree identical', async () => {
    const source = fresh('tuned-src');
    fs.mkdirSync(source);
    for (let i = 0; i < 8; i++) writeFile(path.join(source, `part${i}`), content(2 * 1024 * 1024 + i, `sftp-test/tuned/${i}`), 0o600, 1_600_000_000);
    const dest = fresh('tuned-dst');
    fs.mkdirSync(dest);
    const noPin = login().slice(0, -2);
    // Every 50 ms window that moved a byte adds sessions, whatever the goodput.
    const run = await runFcp([...noPin, '--sftp', '-v', '--json', '-r', source, at(dest)], { env: { ...env, FCP_TEST_TUNER: '50:-1' } });
    expectExit(run, 0);
    expect(run.stderr).toMatch(/^fcp: --sftp: copying over SFTP \(sessions tuned from 1\)$/m);
    expect(run.stderr).toMatch(/sftp: \d+ MB\/s over 1 sessions, CPUs \d+ % idle: opening 1 more/);
    const records = jsonRecords(run.stdout);
    expect(records[0]).toMatchObject({ event: 'start', files: 8, connections: 1 });
    expect(records[records.length - 1]).toMatchObject({ event: 'summary', files: 8, filesFailed: 0, verification: 'size+crc' });
    expect(toSeconds(snapshot(path.join(dest, path.basename(source))))).toEqual(toSeconds(snapshot(source)));
    // Each added session is a login: slow on a loaded machine.
  }, 150_000);
});

describe(`errors, as ${nobody.name} (internal-sftp only: sizes are all it can verify)`, () => {
  test('download with one unreadable file: FCP_ERR_PERMISSION names it, the rest is copied, exit 8', async () => {
    const source = fresh('perm-src');
    makeTree(source, 'sftp-perm');
    chownTree(source, nobody.uid, nobody.gid);
    fs.chownSync(path.join(source, 'secret'), 0, 0);
    fs.chmodSync(path.join(source, 'secret'), 0o600);
    const dest = fresh('perm-dst');
    const run = await runFcp([...login(), '--sftp', '--json', '-r', at(source, nobody.name), dest], { env });
    expectExit(run, 8);
    const records = jsonRecords(run.stdout);
    const failed = records.filter((r) => r.event === 'file' && r.error);
    expect(failed.map((r) => [r.path, (r.error as { code: string }).code])).toEqual([[`${path.basename(source)}/secret`, 'FCP_ERR_PERMISSION']]);
    expect(records[records.length - 1]).toMatchObject({ event: 'summary', files: 5, filesFailed: 1, mode: 'sftp', verification: 'size' });
    const copied = path.join(dest, path.basename(source));
    expect(fs.existsSync(path.join(copied, 'secret'))).toBe(false);
    expect(fs.readFileSync(path.join(copied, 'big.bin')).equals(fs.readFileSync(path.join(source, 'big.bin')))).toBe(true);
    expect(leftoverTemporaries(dest)).toEqual([]);
  });

  test('upload into a directory it may not write: FCP_ERR_PERMISSION on stderr, exit 8, the rest copied', async () => {
    const dest = fresh('perm-up');
    fs.mkdirSync(path.join(dest, 'tree', 'sub dir'), { recursive: true });
    chownTree(dest, nobody.uid, nobody.gid);
    fs.chownSync(path.join(dest, 'tree', 'sub dir'), 0, 0);
    fs.chmodSync(path.join(dest, 'tree', 'sub dir'), 0o755);
    const run = await runFcp([...login(), '--sftp', '-r', tree, at(dest, nobody.name)], { env });
    expectFailure(run, 8, 'FCP_ERR_PERMISSION', /nested\.dat/);
    // No shell for this account, so no hash: said without -v.
    expect(run.stdout + run.stderr).toContain('only sizes were checked');
    expect(fs.readFileSync(path.join(dest, 'tree', 'big.bin')).equals(fs.readFileSync(path.join(tree, 'big.bin')))).toBe(true);
    expect(fs.existsSync(path.join(dest, 'tree', 'sub dir', 'nested.dat'))).toBe(false);
  });
});

(isRoot ? test : test.skip)('upload onto a full disk (a 1 MiB tmpfs): what does not fit is FCP_ERR_NO_SPACE with its name, what arrives is whole, exit 8', async () => {
  const mnt = path.join(temp.make('fcp-sftp-full'), 'mnt');
  fs.mkdirSync(mnt);
  const problem = mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  if (problem) throw new Error(`running as root but cannot mount a tmpfs: ${problem}`);
  temp.mounted(mnt);
  const run = await runFcp([...login(), '--sftp', '--json', '-r', tree, at(mnt)], { env });
  expectExit(run, 8);
  // OpenSSH's sftp-server says only "Failure": fcp names the cause. Files copied alongside
  // big.bin may find the disk full too; each failure is NO_SPACE, each copied file whole.
  const files = jsonRecords(run.stdout).filter((r) => r.event === 'file');
  const failed = files.filter((r) => r.error).map((r) => [r.path, (r.error as { code: string; message: string }).code]);
  expect(failed).toContainEqual(['tree/big.bin', 'FCP_ERR_NO_SPACE']);
  expect(failed.filter(([, code]) => code !== 'FCP_ERR_NO_SPACE')).toEqual([]);
  expect(files.find((r) => r.path === 'tree/big.bin')!.error).toMatchObject({ message: expect.stringMatching(/big\.bin.*no space left/) });
  expect(fs.existsSync(path.join(mnt, 'tree', 'big.bin'))).toBe(false);
  for (const ok of files.filter((r) => !r.error)) {
    expect(fs.readFileSync(path.join(mnt, ok.path as string)).equals(fs.readFileSync(path.join(tree, '..', ok.path as string)))).toBe(true);
  }
  expect(leftoverTemporaries(mnt)).toEqual([]);
});
