/**
 * fcpd under small open-file limits, reached through sshd by an fcp with a large one: pushes and
 * pulls of thousands of small files to and from an `fcpd --serve` under `ulimit -n 256` (the
 * macOS default), and a standing daemon (fcpd -d) under `ulimit -n 1024` serving two pushes at
 * once, which share its one budget of descriptors. Before, the first lost 1,269 of 1,500 files
 * to EMFILE and the daemon died of it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { softLimitFrom } from '../../../src/transfer/openFileBudget';
import { buildManyFiles, mixedSmallSize } from '../helpers/tree';
import { alive, childEnv, expectExit, expectSameTree, FCPD, killAll, runFcp, runFcpd, runNode, show, tempDir } from './harness';
import { fcpdCommand, freePort, Sshd, startSshd } from './sshd';

jest.setTimeout(120_000);

const LIMITED = path.join(__dirname, '..', 'helpers', 'limited.js');

let sshd: Sshd;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
/** 3,000 files, half of them sent inline. */
let mixed: string;

/** fcp's arguments to reach sshd and start fcpd with `command`. */
const through = (command: string): string[] => ['-F', sshd.sshConfig, '--fcpd-path', command];

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('openfiles-home');
  work = tempDir('openfiles-work');
  env = childEnv(home);
  mixed = buildManyFiles(work, 'mixed', 6, 500, mixedSmallSize);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('fcpd --serve under ulimit -n 256', () => {
  /** An fcpd of its own (an empty state directory: no daemon to hand over to) under the limit. */
  const limitedFcpd = (): string => `env FCP_TEST_OPEN_FILES=256 XDG_STATE_HOME=${tempDir('openfiles-state')} ${process.execPath} ${LIMITED} ${FCPD}`;

  test('a push of 3,000 files arrives complete', async () => {
    const dst = path.join(work, 'pushed');
    const run = await runFcp([...through(limitedFcpd()), '-r', `${mixed}/`, `${sshd.alias}:${dst}`], { env, timeoutMs: 90_000 });
    expectExit(run, 0);
    expectSameTree(dst, mixed, run);
  });

  test('a pull of 3,000 files arrives complete', async () => {
    const dst = path.join(work, 'pulled');
    const run = await runFcp([...through(limitedFcpd()), '-r', `${sshd.alias}:${mixed}/`, dst], { env, timeoutMs: 90_000 });
    expectExit(run, 0);
    expectSameTree(dst, mixed, run);
  });
});

describe('fcpd -d under ulimit -n 1024', () => {
  let state: string;
  let fcpdEnv: NodeJS.ProcessEnv;
  let pid = 0;

  beforeAll(() => {
    state = tempDir('openfiles-daemon');
    // The daemon runs as the remote user would run it: from its home (the one sshd gives sessions).
    fcpdEnv = childEnv(os.userInfo().homedir, { XDG_STATE_HOME: state });
  });

  afterAll(async () => {
    await runFcpd(['--stop'], { env: fcpdEnv });
    if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(state, { recursive: true, force: true });
  });

  test('two concurrent pushes of 1,500 files of 20 KB both arrive complete; the daemon lives on', async () => {
    const start = await runNode(LIMITED, [FCPD, '-d', '--port', String(await freePort())], { env: { ...fcpdEnv, FCP_TEST_OPEN_FILES: '1024' } });
    expectExit(start, 0);
    pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
    expect(softLimitFrom(fs.readFileSync(`/proc/${pid}/limits`, 'latin1'))).toBe(1024);

    const sources = ['one', 'two'].map((name) => buildManyFiles(work, name, 3, 500, () => 20_000));
    const runs = await Promise.all(
      sources.map((source) => runFcp([...through(fcpdCommand(state)), '-r', `${source}/`, `${sshd.alias}:${source}-copy`], { env, timeoutMs: 90_000 })),
    );
    runs.forEach((run, i) => {
      expectExit(run, 0);
      expectSameTree(`${sources[i]}-copy`, sources[i]!, run);
    });

    // Both sessions were the daemon's, and it is still there.
    const log = fs.readFileSync(path.join(state, 'fcp', 'fcpd.log'), 'utf8');
    expect(log.split('\n').filter((line) => /session [0-9a-f]+: done/.test(line))).toHaveLength(2);
    const status = await runFcpd(['--status'], { env: fcpdEnv });
    expectExit(status, 0);
    expect(status.stdout).toContain(`pid ${pid}`);
    if (!alive(pid)) throw new Error(`the daemon is gone:\n${log}\n${runs.map(show).join('\n')}`);
  });
});
