/**
 * Copies between two remote hosts (PROTOCOL.md §9.1): two Host aliases of one real OpenSSH server
 * on 127.0.0.1 are the two hosts, and that server allows no TCP forwarding at all (as scp -3, the
 * relay runs over exec channels). Direct (host1's fcpd connects to host2's, no file byte through
 * fcp), -3 (relayed through fcp), the automatic relay when host1 cannot reach the address host2's
 * fcpd gives (its listen line rewritten to an address nobody reaches), and errors with their codes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childEnv, expectExit, expectFailure, expectSameTree, killAll, makeTree, Run, runFcp, show, tempDir, unique, writeSshConfig } from './harness';
import { fcpdCommand, Sshd, sshdHost, startSshd } from './sshd';

jest.setTimeout(90_000);

const RELAY_NOTICE = /cannot reach host2 \(.*\): relaying the copy through this machine/;
/** TEST-NET-1 (RFC 5737): an address no host here reaches; a dial to it waits out its connect timeout. */
const UNREACHABLE = '192.0.2.1';
/** A loopback address fcpd is kept off (--bind 127.0.0.1): a dial to it is refused at once. */
const REFUSING = '127.0.0.2';

let sshd: Sshd;
let work: string;
let tree: string;
let treeBytes: number;
let config: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd({ tcpForwarding: false });
  work = tempDir('r2r-work');
  tree = path.join(work, 'tree');
  makeTree(tree, 'r2r');
  treeBytes = 0;
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) visit(path.join(dir, entry.name));
      else if (entry.isFile()) treeBytes += fs.statSync(path.join(dir, entry.name)).size;
    }
  };
  visit(tree);
  config = writeSshConfig(
    path.join(work, 'ssh_config'),
    ['host1', 'host2'].map((alias) => sshdHost(alias, sshd)),
  );
  env = childEnv(tempDir('r2r-home'));
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function records(run: Run): Array<Record<string, unknown>> {
  return run.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function summaryOf(run: Run): Record<string, unknown> {
  const summary = records(run).find((r) => r.event === 'summary');
  if (!summary) throw new Error(`no summary record\n${show(run)}`);
  return summary;
}

async function copyTree(extra: string[], fcpdPath = fcpdCommand(sshd.stateDir)): Promise<{ run: Run; dest: string }> {
  // rsync's placement: the missing destination is made a directory, and the tree goes into it.
  const into = path.join(work, unique('dest'));
  const run = await runFcp(['-F', config, '--fcpd-path', fcpdPath, '--json', '-r', ...extra, `host1:${tree}`, `host2:${into}`], { env });
  return { run, dest: path.join(into, path.basename(tree)) };
}

test('direct: the tree arrives whole (content, modes, mtimes, links), with every file reported, and no byte through fcp', async () => {
  const { run, dest } = await copyTree([]);
  expectExit(run, 0);
  expectSameTree(dest, tree, run);
  expect(run.stderr).not.toMatch(RELAY_NOTICE);
  const events = records(run);
  expect(events.filter((r) => r.event === 'start')).toEqual([expect.objectContaining({ files: 6, bytes: treeBytes })]);
  const files = events.filter((r) => r.event === 'file');
  expect(files.map((r) => r.path).sort()).toEqual(['big.bin', 'empty', 'run.sh', 'secret', 'sub dir/deeper/leaf', 'sub dir/nested.dat'].map((p) => `tree/${p}`));
  expect(files.every((r) => typeof r.digest === 'string' && r.error === undefined)).toBe(true);
  const summary = summaryOf(run);
  expect(summary).toMatchObject({ files: 6, filesFailed: 0, bytes: treeBytes, encrypted: true, between: { route: 'direct', bytesRelayed: 0 } });
});

test('-3: the same tree, relayed through fcp (sealed end to end), and the relay carried at least every file byte', async () => {
  const { run, dest } = await copyTree(['-3']);
  expectExit(run, 0);
  expectSameTree(dest, tree, run);
  // Forced, it is not news: no notice.
  expect(run.stderr).not.toMatch(RELAY_NOTICE);
  const { between } = summaryOf(run) as { between: { route: string; bytesRelayed: number } };
  expect(between.route).toBe('relayed');
  expect(between.bytesRelayed).toBeGreaterThan(treeBytes);
});

test("filters: host1's fcpd walks with the rules and the depth fcp handed it in its order", async () => {
  const { run, dest } = await copyTree(['--exclude', '*.dat', '--exclude', '/tree/secret', '--max-depth', '2']);
  expectExit(run, 0);
  const files = records(run).filter((r) => r.event === 'file').map((r) => r.path);
  expect(files.sort()).toEqual(['big.bin', 'empty', 'run.sh'].map((p) => `tree/${p}`));
  expect(fs.readdirSync(dest).sort()).toEqual(['big.bin', 'empty', 'empty dir', 'link', 'run.sh', 'sub dir']);
  // Two levels below the source: sub dir/deeper is sent, but not read.
  expect(fs.readdirSync(path.join(dest, 'sub dir'))).toEqual(['deeper']);
  expect(fs.readdirSync(path.join(dest, 'sub dir', 'deeper'))).toEqual([]);
});

/**
 * An fcpd whose listen line names an address host1 cannot reach (fcp itself still reaches it at
 * 127.0.0.1, where its SSH connection went), with its TMPDIR in `tmp`. `silent`: UNREACHABLE, so
 * host1's fcpd waits out its connect timeout (4 s a copy), as behind a firewall that drops;
 * `refusing`: fcpd listens on 127.0.0.1 only and the line names REFUSING, so the dial fails at
 * once, for the tests about what the relay carries rather than how host1 fails to connect.
 */
function unreachableFcpd(tmp = os.tmpdir(), how: 'silent' | 'refusing' = 'silent'): string {
  const wrapper = path.join(work, unique('fcpd-unreachable.sh'));
  const [named, bind] = how === 'silent' ? [UNREACHABLE, ''] : [REFUSING, ' --bind 127.0.0.1'];
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\nTMPDIR=${tmp} ${fcpdCommand(sshd.stateDir)} "$@"${bind} | sed -u 's/^\\(FCPD-LISTEN [0-9]*\\) .* nonce=/\\1 ${named} nonce=/'\n`,
    { mode: 0o755 },
  );
  return wrapper;
}

test('-3 -n 12: more relayed connections than one SSH connection serves (OpenSSH MaxSessions 10) go on a second login', async () => {
  const { run, dest } = await copyTree(['-3', '-n', '12']);
  expectExit(run, 0);
  expectSameTree(dest, tree, run);
  expect(summaryOf(run)).toMatchObject({ connections: 12, between: { route: 'relayed' } });
});

test('host1 cannot reach the address host2 gives: relayed through fcp automatically, said in one line', async () => {
  const wrapper = unreachableFcpd();
  const { run, dest } = await copyTree(['-q'], wrapper);
  expectExit(run, 0);
  expectSameTree(dest, tree, run);
  const { between } = summaryOf(run) as { between: { route: string; bytesRelayed: number } };
  expect(between.route).toBe('relayed');
  expect(between.bytesRelayed).toBeGreaterThan(treeBytes);
  // -q --json: notices go to -v only; without -q they are one line on stderr.
  const loud = await runFcp(['-F', config, '--fcpd-path', wrapper, `host1:${path.join(tree, 'secret')}`, `host2:${path.join(work, unique('one'))}`], { env });
  expectExit(loud, 0);
  expect(loud.stderr.split('\n').filter((line) => RELAY_NOTICE.test(line))).toHaveLength(1);
  expect(loud.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1);
  expect(loud.stderr).toContain(UNREACHABLE);
});

test('the relay carries a tree both ways without TCP forwarding, and leaves no socket behind on the source host', async () => {
  const relayTmp = tempDir('r2r-relay-tmp');
  const wrapper = unreachableFcpd(relayTmp, 'refusing');
  const there = path.join(work, unique('there'));
  const out = await runFcp(['-F', config, '--fcpd-path', wrapper, '-r', `host1:${tree}/`, `host2:${there}`], { env });
  expectExit(out, 0);
  expectSameTree(there, tree, out);
  expect(out.stderr.split('\n').filter((line) => line !== '')).toEqual([expect.stringMatching(RELAY_NOTICE)]);
  // And back: host2 is now the source whose fcpd pipes its connections to fcp.
  const back = path.join(work, unique('back'));
  const run = await runFcp(['-F', config, '--fcpd-path', wrapper, '-r', `host2:${there}/`, `host1:${back}`], { env });
  expectExit(run, 0);
  expectSameTree(back, tree, run);
  expect(run.stderr.split('\n').filter((line) => line !== '')).toEqual([expect.stringMatching(/cannot reach host1 \(.*\): relaying the copy through this machine/)]);
  expect(fs.readdirSync(relayTmp)).toEqual([]);
});

test('errors keep their codes: a missing source is exit 4 FCP_ERR_NOT_FOUND and nothing is made', async () => {
  const dest = path.join(work, unique('none'));
  const run = await runFcp(['-F', config, '--fcpd-path', fcpdCommand(sshd.stateDir), `host1:${path.join(work, 'no-such-file')}`, `host2:${dest}`], { env });
  expectFailure(run, 4, 'FCP_ERR_NOT_FOUND', /no-such-file/);
  expect(fs.existsSync(dest)).toBe(false);
});

test('a single file into an existing directory keeps its mode and mtime; -e is refused with exit 2', async () => {
  const into = path.join(work, unique('into'));
  fs.mkdirSync(into);
  const run = await runFcp(['-F', config, '--fcpd-path', fcpdCommand(sshd.stateDir), `host1:${path.join(tree, 'run.sh')}`, `host2:${into}/`], { env });
  expectExit(run, 0);
  expectSameTree(path.join(into, 'run.sh'), path.join(tree, 'run.sh'), run);
  const refused = await runFcp(['-e', 'ssh', '-F', config, `host1:${path.join(tree, 'run.sh')}`, `host2:${into}/`], { env });
  expectFailure(refused, 2, 'FCP_ERR_USAGE', /built-in SSH client/);
});
