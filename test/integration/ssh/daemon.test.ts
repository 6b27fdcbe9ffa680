/**
 * The standing daemon (fcpd -d) on the "remote" host (this machine) with its own state directory:
 * status, starting twice, serving the sessions that fcp launches through sshd (fcpd --serve hands
 * them over), stopping, a stale pid file, and a port that is taken. The tests of this file run in
 * order and share the daemon; afterAll stops whatever is left.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  alive,
  childEnv,
  content,
  expectExit,
  expectFailure,
  expectSameTree,
  killAll,
  makeTree,
  runFcp,
  runFcpd,
  show,
  tempDir,
  unique,
  writeFile,
} from './harness';
import { fcpdCommand, freePort, Sshd, startSshd } from './sshd';
import { isRunning } from '../../../src/state/running';

jest.setTimeout(90_000);

let sshd: Sshd;
let home: string;
let work: string;
/** The daemon's XDG_STATE_HOME; its files are in S/fcp. */
let state: string;
let fcpdEnv: NodeJS.ProcessEnv;
let env: NodeJS.ProcessEnv;
/** Every daemon pid a test saw start: afterAll makes sure each is gone. */
const daemonPids = new Set<number>();
const inRemoteHome: string[] = [];
// The daemon runs as the remote user would run it: from its home (the one sshd gives sessions).
const remoteHome = os.userInfo().homedir;

const stateFile = (name: string): string => path.join(state, 'fcp', name);
const fcpd = (args: string[]) => runFcpd(args, { env: fcpdEnv, timeoutMs: 30_000 });

function notePids(text: string): void {
  for (const match of text.matchAll(/pid (\d+)/g)) daemonPids.add(Number(match[1]));
}

/** Lines of the daemon's log that end a session successfully. */
function sessionsDone(): string[] {
  const log = fs.existsSync(stateFile('fcpd.log')) ? fs.readFileSync(stateFile('fcpd.log'), 'utf8') : '';
  return log.split('\n').filter((line) => /session [0-9a-f]+: done/.test(line));
}

async function waitFor(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) if (check()) return true;
  return check();
}

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('daemon-home');
  work = tempDir('daemon-work');
  state = tempDir('daemon-state');
  env = childEnv(home);
  fcpdEnv = childEnv(remoteHome, { XDG_STATE_HOME: state });
});

afterAll(async () => {
  killAll();
  if (state) {
    await fcpd(['--stop']);
    for (const pid of daemonPids) {
      if (pid > 1 && pid !== process.pid && alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
  await sshd?.stop();
  for (const dir of [home, work, state, ...inRemoteHome]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('fcpd -d', () => {
  let port: number;

  test('starts; --status exits 0 and shows the port; a second -d says it is already running', async () => {
    port = await freePort();
    const start = await fcpd(['-d', '--port', String(port)]);
    notePids(start.stdout);
    expectExit(start, 0);
    expect(start.stdout).toMatch(new RegExp(`^fcpd daemon started: pid \\d+, port ${port}, log ${stateFile('fcpd.log')}$`, 'm'));
    expect(fs.existsSync(stateFile('fcpd.pid'))).toBe(true);
    expect(fs.statSync(stateFile('fcpd.sock')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(state, 'fcp')).mode & 0o777).toBe(0o700);

    const status = await fcpd(['--status']);
    expectExit(status, 0);
    expect(status.stdout).toMatch(new RegExp(`^fcpd daemon running: pid \\d+, port ${port}, 0 active sessions`, 'm'));

    const again = await fcpd(['-d', '--port', String(port)]);
    expectExit(again, 0);
    expect(again.stdout).toMatch(new RegExp(`already running: pid \\d+, port ${port}`));
    expect(again.stdout.match(/pid (\d+)/)?.[1]).toBe(start.stdout.match(/pid (\d+)/)?.[1]);
  });

  test('serves the sessions fcp launches through sshd (fcpd --serve hands them over)', async () => {
    expect(sessionsDone()).toEqual([]);
    const args = ['-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(state)];
    // An upload to a path relative to the remote home, and a download of a tree.
    const name = unique('fcp-daemon-rel');
    inRemoteHome.push(path.join(remoteHome, name));
    const local = path.join(work, 'up.bin');
    writeFile(local, content(700_000, 'daemon/up'), 0o600, 2);
    const up = await runFcp([...args, local, `${sshd.alias}:${name}`], { env });
    expectExit(up, 0);
    expectSameTree(path.join(remoteHome, name), local, up);

    const tree = path.join(work, 'tree');
    makeTree(tree, 'daemon');
    const down = path.join(work, 'down');
    const run = await runFcp([...args, '-r', `${sshd.alias}:${tree}`, down], { env });
    expectExit(run, 0);
    // rsync's placement: the directory goes under the destination.
    expectSameTree(path.join(down, 'tree'), tree, run);

    // Both sessions were the daemon's (an fcpd --serve of its own would not write this log).
    if (!(await waitFor(() => sessionsDone().length === 2))) {
      throw new Error(`expected two "session ... done" lines in the daemon's log:\n${fs.readFileSync(stateFile('fcpd.log'), 'utf8')}\n${show(up)}\n${show(run)}`);
    }
    const status = await fcpd(['--status']);
    expectExit(status, 0);
    expect(status.stdout).toMatch(new RegExp(`port ${port}, 0 active sessions`));
  });

  test('--stop stops it; --status then exits 6', async () => {
    const pid = Number(fs.readFileSync(stateFile('fcpd.pid'), 'utf8').trim());
    const stop = await fcpd(['--stop']);
    expectExit(stop, 0);
    expect(stop.stdout).toMatch(new RegExp(`fcpd daemon stopped \\(pid ${pid}\\)`));
    // Stopped means exited: a zombie waiting to be reaped (by whatever adopted the detached daemon) is not running.
    expect(isRunning(pid)).toBe(false);
    expect(fs.existsSync(stateFile('fcpd.pid'))).toBe(false);
    expect(fs.existsSync(stateFile('fcpd.sock'))).toBe(false);

    const status = await fcpd(['--status']);
    expectExit(status, 6);
    expect(status.stdout).toMatch(/fcpd daemon is not running/);
  });

  test('a stale pid file (dead pid, no socket) is removed and the daemon starts', async () => {
    let dead = 999_999;
    while (alive(dead)) dead--;
    fs.writeFileSync(stateFile('fcpd.pid'), `${dead}\n`);
    expect(fs.existsSync(stateFile('fcpd.sock'))).toBe(false);
    const port2 = await freePort();
    const start = await fcpd(['-d', '--port', String(port2)]);
    notePids(start.stdout);
    daemonPids.delete(dead);
    expectExit(start, 0);
    expect(start.stdout).toContain(`removed a stale pid file (pid ${dead} is not running)`);
    expect(start.stdout).toMatch(new RegExp(`fcpd daemon started: pid \\d+, port ${port2}`));
    const pid = Number(fs.readFileSync(stateFile('fcpd.pid'), 'utf8').trim());
    expect(pid).not.toBe(dead);
    expect(alive(pid)).toBe(true);

    const stop = await fcpd(['--stop']);
    expectExit(stop, 0);
    expect(stop.stdout).toMatch(/fcpd daemon stopped/);
  });

  test('a port that is taken: non-zero exit, says the port is taken, no daemon left', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once('error', reject);
      blocker.listen(0, () => resolve());
    });
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const start = await fcpd(['-d', '--port', String(taken)]);
      notePids(start.stdout);
      expectFailure(start, 6, 'FCP_ERR_CONNECT', /did not start/, new RegExp(`port ${taken} is taken`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    const status = await fcpd(['--status']);
    expectExit(status, 6);
  });
});
