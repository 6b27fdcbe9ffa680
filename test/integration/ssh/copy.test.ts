/**
 * fcp against a real OpenSSH server on 127.0.0.1: uploads and downloads of files and trees
 * through an ssh_config Host alias and through explicit -P/-i/-o options, relative and `host:`
 * remote paths, the fallback to SSH-carried data connections when direct TCP is refused,
 * --tunnel, the external ssh client (-e ssh), fcpd missing on the remote host, fcpd's errors
 * reaching the user, -v, and frames sealed and opened in threads (FCP_CRYPTO_THREADS). Two remote sides:
 * remoteToRemote.test.ts.
 *
 * The "remote" host is this machine, so remote paths are local temporary directories, and the
 * remote fcpd is this checkout's bin/fcpd (--fcpd-path).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  childEnv,
  content,
  expectExit,
  expectFailure,
  expectSameTree,
  killAll,
  makeTree,
  runFcp,
  setMtimeUs,
  show,
  snapshot,
  tempDir,
  unique,
  writeFile,
} from './harness';
import { explicitLogin, fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

const FALLBACK_NOTICE = 'carrying the connections through SSH';

let sshd: Sshd;
let home: string;
let work: string;
/** The "remote" side's directory (absolute, on this machine). */
let remote: string;
/** A local tree and a local file to copy. */
let tree: string;
let file: string;
/** The same file on the "remote" side, so that each download test stands on its own. */
let remoteFile: string;
let env: NodeJS.ProcessEnv;
/** Directories made under the remote user's home, removed at the end. */
const inRemoteHome: string[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('ssh-home');
  work = tempDir('ssh-work');
  remote = path.join(work, 'remote');
  fs.mkdirSync(remote);
  tree = path.join(work, 'local', 'tree');
  makeTree(tree, 'copy-test');
  file = path.join(work, 'local', 'file.bin');
  writeFile(file, content(1024 * 1024 + 4321, 'copy-test/file'), 0o640, 2);
  remoteFile = path.join(remote, 'source.bin');
  writeFile(remoteFile, content(1024 * 1024 + 4321, 'copy-test/file'), 0o640, 2);
  env = childEnv(home);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work, ...inRemoteHome]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const fcpd = (extra = ''): string => fcpdCommand(sshd.stateDir, extra);
/** -F ssh_config (Host alias) and this checkout's fcpd. */
const viaAlias = (extra = ''): string[] => ['-F', sshd.sshConfig, '--fcpd-path', fcpd(extra)];
/** No config file: everything on the command line, user@127.0.0.1. */
const explicit = (): string[] => explicitLogin(sshd);
const at = (p: string): string => `${sshd.alias}:${p}`;
const fresh = (label: string): string => path.join(work, unique(label));

/** A direct-TCP copy that worked says nothing on stderr (no fallback notice, no warning). */
function expectQuietSuccess(run: Awaited<ReturnType<typeof runFcp>>): void {
  expectExit(run, 0);
  if (run.stderr !== '') throw new Error(`expected no output on stderr\n${show(run)}`);
}

describe('through an ssh_config Host alias (-F)', () => {
  test('upload and download a file: content, mode, mtime', async () => {
    const up = await runFcp([...viaAlias(), file, at(`${remote}/`)], { env });
    expectQuietSuccess(up);
    expectSameTree(path.join(remote, 'file.bin'), file, up);

    const down = fresh('down-file');
    const run = await runFcp([...viaAlias(), at(path.join(remote, 'file.bin')), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, file, run);
  });

  test('upload and download a tree (-r): contents, modes, mtimes, empty dir, symlink', async () => {
    const target = path.join(remote, unique('tree-up'));
    const up = await runFcp([...viaAlias(), '-r', `${tree}/`, at(target)], { env });
    expectQuietSuccess(up);
    expectSameTree(target, tree, up);

    const down = fresh('tree-down');
    const run = await runFcp([...viaAlias(), '-r', at(`${target}/`), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, tree, run);
  });

  test('frames sealed and opened in threads on both sides (FCP_CRYPTO_THREADS=2): a file over 4 connections up and down, a tree; -v says so', async () => {
    const threaded = { ...env, FCP_CRYPTO_THREADS: '2' };
    const options = ['-F', sshd.sshConfig, '--fcpd-path', `env FCP_CRYPTO_THREADS=2 ${fcpd('-v')}`, '-v', '-n', '4', '--chunk-size', '64K'];
    /** The data connections fcp (or fcpd, its lines relayed) authenticated, each as it says it seals and opens frames. */
    const dataConnections = (stderr: string, side: 'fcp' | 'fcpd'): string[] =>
      stderr.split('\n').filter((line) => /: authenticated \(data\)/.test(line) && line.startsWith('fcp: fcpd: ') === (side === 'fcpd'));
    // A connection still in its handshake when the last chunk went is closed unused: not always all four.
    const openedInThreads = (lines: string[]): void => {
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/: authenticated \(data\), its frames sealed and opened in threads$/);
    };
    const target = path.join(remote, unique('threads-up.bin'));
    const up = await runFcp([...options, file, at(target)], { env: threaded });
    expectExit(up, 0);
    expectSameTree(target, file, up);
    openedInThreads(dataConnections(up.stderr, 'fcpd'));

    const down = fresh('threads-down.bin');
    const run = await runFcp([...options, at(target), down], { env: threaded });
    expectExit(run, 0);
    expectSameTree(down, file, run);
    openedInThreads(dataConnections(run.stderr, 'fcp'));

    const treeDown = fresh('threads-tree');
    const trees = await runFcp([...options, '-r', `${tree}/`, at(treeDown)], { env: threaded });
    expectExit(trees, 0);
    expectSameTree(treeDown, tree, trees);
  });
});

/** Records, at exit, which of Node's modules the process loaded, in FCP_TEST_BUILTINS_OUT. */
const BUILTINS_PRELOAD = `
process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  require('node:fs').writeFileSync(process.env.FCP_TEST_BUILTINS_OUT, JSON.stringify(names));
});
`;

test('an upload by fcp\'s own SSH client loads no node:child_process (ssh2, ssh-config and commander require it when they run a program)', async () => {
  const dir = fresh('builtins');
  fs.mkdirSync(dir);
  const preload = path.join(dir, 'preload.js');
  const out = path.join(dir, 'builtins.json');
  fs.writeFileSync(preload, BUILTINS_PRELOAD);
  fs.writeFileSync(path.join(dir, 'one'), 'x');
  const target = path.join(remote, unique('one-up'));
  const run = await runFcp([...viaAlias(), path.join(dir, 'one'), at(target)], { env: { ...env, NODE_OPTIONS: `--require ${preload}`, FCP_TEST_BUILTINS_OUT: out } });
  expectQuietSuccess(run);
  expect(fs.readFileSync(target, 'utf8')).toBe('x');
  const loaded = JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
  // The check sees what loads: the SSH client's crypto and the socket did.
  expect(loaded).toEqual(expect.arrayContaining(['crypto', 'net']));
  expect(loaded.filter((name) => ['child_process', 'dgram'].includes(name))).toEqual([]);
});

describe('mtimes to the microsecond (README: "mtime (to the microsecond)")', () => {
  test('assorted microsecond mtimes survive an upload and a download', async () => {
    const dir = fresh('usec');
    const mtimes = [1_500_000_123_250_000n, 1_333_333_333_250_000n, 1_700_000_000_123_456n, 1_699_999_999_999_999n, 1_000_000_000_000_001n, 1_234_567_890_654_321n, 1_777_777_777_777_777n, 1_111_111_111_111_111n];
    fs.mkdirSync(dir);
    mtimes.forEach((us, i) => {
      const f = path.join(dir, `f${i}`);
      fs.writeFileSync(f, `file ${i}\n`);
      setMtimeUs(f, us);
    });
    setMtimeUs(dir, 1_444_444_444_444_444n);
    const target = path.join(remote, unique('usec-up'));
    const up = await runFcp([...viaAlias(), '-r', `${dir}/`, at(target)], { env });
    expectQuietSuccess(up);
    expectSameTree(target, dir, up);

    const down = fresh('usec-down');
    const run = await runFcp([...viaAlias(), '-r', at(`${target}/`), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, dir, run);
  });
});

describe('with -P, -i and -o on the command line (no config, user@127.0.0.1)', () => {
  test('upload a tree and download a file', async () => {
    const target = path.join(remote, unique('explicit-tree'));
    const up = await runFcp([...explicit(), '-r', `${tree}/`, `${sshd.user}@127.0.0.1:${target}`], { env });
    expectQuietSuccess(up);
    expectSameTree(target, tree, up);

    const down = fresh('explicit-file');
    const run = await runFcp([...explicit(), `${sshd.user}@127.0.0.1:${path.join(target, 'big.bin')}`, down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, path.join(tree, 'big.bin'), run);
  });
});

describe('remote paths relative to the remote home', () => {
  // sshd starts the session in the user's home from the password database, not in our HOME.
  const remoteHome = os.userInfo().homedir;

  test('host:relative/path, upload then download', async () => {
    const name = unique('fcp-ssh-rel');
    fs.mkdirSync(path.join(remoteHome, name));
    inRemoteHome.push(path.join(remoteHome, name));
    const up = await runFcp([...viaAlias(), '-r', `${tree}/`, at(`${name}/tree`)], { env });
    expectQuietSuccess(up);
    expectSameTree(path.join(remoteHome, name, 'tree'), tree, up);

    const down = fresh('rel-down');
    const run = await runFcp([...viaAlias(), at(`${name}/tree/secret`), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, path.join(tree, 'secret'), run);
  });

  test('host: (the remote home itself) as destination, then host:name as source', async () => {
    const name = `${unique('fcp-ssh-home')}.bin`;
    const local = path.join(work, name);
    writeFile(local, content(300_000, name), 0o604, 3);
    inRemoteHome.push(path.join(remoteHome, name));
    const up = await runFcp([...viaAlias(), local, at('')], { env });
    expectQuietSuccess(up);
    expectSameTree(path.join(remoteHome, name), local, up);

    const down = fresh('home-down');
    const run = await runFcp([...viaAlias(), at(name), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, local, run);
  });
});

describe('data connections through SSH', () => {
  test('direct TCP refused (fcpd listens on 127.0.0.2 only): one notice, then the copy goes through SSH', async () => {
    const target = path.join(remote, unique('fallback'));
    const run = await runFcp([...viaAlias('--bind 127.0.0.2'), '-r', `${tree}/`, at(target)], { env });
    expectExit(run, 0);
    const notices = run.stderr.split('\n').filter((line) => line.includes(FALLBACK_NOTICE));
    if (notices.length !== 1) throw new Error(`expected exactly one fallback notice\n${show(run)}`);
    expect(notices[0]).toMatch(/^fcp: direct TCP to fcpd at 127\.0\.0\.1:\d+ failed/);
    expectSameTree(target, tree, run);
  });

  test('--tunnel carries them through SSH from the start, without a notice', async () => {
    // Direct TCP could not work here: only a tunnel can reach fcpd on 127.0.0.2.
    const down = fresh('tunnel-down');
    const target = path.join(remote, unique('tunnel-up'));
    const [up, run] = await Promise.all([
      runFcp([...viaAlias('--bind 127.0.0.2'), '--tunnel', '-r', `${tree}/`, at(target)], { env }),
      runFcp([...viaAlias('--bind 127.0.0.2'), '--tunnel', at(remoteFile), down], { env }),
    ]);
    expectQuietSuccess(up);
    expectSameTree(target, tree, up);
    expectQuietSuccess(run);
    expectSameTree(down, file, run);
  });
});

describe('-e ssh: the external OpenSSH client', () => {
  const viaSsh = (extra = ''): string[] => ['-e', 'ssh', ...viaAlias(extra)];

  test('upload a file and download a tree', async () => {
    const target = path.join(remote, unique('ext-file'));
    const up = await runFcp([...viaSsh(), file, at(target)], { env });
    expectQuietSuccess(up);
    expectSameTree(target, file, up);

    // The same tree again (makeTree is deterministic), on the remote side.
    const source = path.join(remote, unique('ext-tree'));
    makeTree(source, 'copy-test');
    expectSameTree(source, tree);
    const down = fresh('ext-down');
    const run = await runFcp([...viaSsh(), '-r', at(`${source}/`), down], { env });
    expectQuietSuccess(run);
    expectSameTree(down, tree, run);
  });

  test('--tunnel (ssh -W) carries the data connections; without it, refused direct TCP falls back to ssh -W', async () => {
    // fcpd on 127.0.0.2 only: direct TCP to 127.0.0.1 is refused, only ssh -W reaches it.
    const target = path.join(remote, unique('ext-tunnel'));
    const down = fresh('ext-fallback');
    const [run, fallback] = await Promise.all([
      runFcp([...viaSsh('--bind 127.0.0.2'), '--tunnel', '-r', `${tree}/`, at(target)], { env }),
      runFcp([...viaSsh('--bind 127.0.0.2'), at(remoteFile), down], { env }),
    ]);
    expectQuietSuccess(run);
    expectSameTree(target, tree, run);
    expectExit(fallback, 0);
    if (fallback.stderr.split('\n').filter((line) => line.includes(FALLBACK_NOTICE)).length !== 1) {
      throw new Error(`expected exactly one fallback notice\n${show(fallback)}`);
    }
    expectSameTree(down, file, fallback);
  });
});

describe('errors', () => {
  test('fcpd not found on the remote host: exit 6, says how to install it', async () => {
    const target = path.join(remote, unique('never'));
    const args = ['-F', sshd.sshConfig, '--fcpd-path', '/nonexistent/fcpd', file, at(target)];
    const [builtIn, external] = await Promise.all([runFcp(args, { env }), runFcp(['-e', 'ssh', ...args], { env })]);
    for (const run of [builtIn, external]) {
      expectFailure(run, 6, 'FCP_ERR_CONNECT', /fcpd was not found/, /npm install -g fastcopy/, /--fcpd-path/);
    }
    expect(fs.existsSync(target)).toBe(false);
  });

  test("fcpd's error reaches the user: several sources into a remote file is exit 4 FCP_ERR_NOT_DIRECTORY", async () => {
    const notDir = path.join(remote, unique('not-a-dir'));
    writeFile(notDir, Buffer.from('keep me\n'), 0o644, 1);
    const before = snapshot(notDir);
    const [quiet, verbose] = await Promise.all([
      runFcp([...viaAlias(), file, path.join(tree, 'secret'), at(notDir)], { env }),
      runFcp([...viaAlias('-v'), '-v', file, path.join(tree, 'secret'), at(notDir)], { env }),
    ]);
    expectFailure(quiet, 4, 'FCP_ERR_NOT_DIRECTORY', new RegExp(path.basename(notDir)), /not a directory/i);
    expectFailure(verbose, 4, 'FCP_ERR_NOT_DIRECTORY', /not a directory/i);
    expect(snapshot(notDir)).toEqual(before);
  });

  test('-v shows the SSH steps and what fcpd says on its stderr', async () => {
    const target = path.join(remote, unique('verbose'));
    const run = await runFcp([...viaAlias('-v'), '-v', file, at(target)], { env });
    expectExit(run, 0);
    expectSameTree(target, file, run);
    const lines = run.stderr.split('\n');
    const expectLine = (pattern: RegExp): void => {
      if (!lines.some((line) => pattern.test(line))) throw new Error(`no stderr line matches ${pattern}\n${show(run)}`);
    };
    expectLine(new RegExp(`^fcp: ssh: connecting to ${sshd.user}@127\\.0\\.0\\.1:${sshd.port}`));
    expectLine(/^fcp: ssh: running .*bin\/fcpd -v --serve on /);
    // fcpd -v logs the session on its stderr; fcp relays those lines prefixed "fcpd: ".
    expectLine(/^fcp: fcpd: session [0-9a-f]+: push/);
  });
});
