/**
 * A remote command that starts but never says it listens (issue 12: every wait has a timeout,
 * launch included): `--fcpd-path` names a script on the test sshd's host that hangs, reading
 * nothing and printing nothing, with a child of its own. fcp must end with FCP_ERR_TIMEOUT (exit 7)
 * naming the host after the launch's bound (--timeout, never less than MIN_LAUNCH_TIMEOUT_MS), not hang, and leave nothing running on the remote side: a
 * command without a terminal gets no SIGHUP when its channel closes, so fcp ends its process group
 * through a second command (src/launch/remoteReap.ts). The same after Ctrl-C during the launch, and
 * through `-e ssh`. A never-speaking SSH server is connect.test.ts's.
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { alive, childEnv, expectFailure, FCP, killAll, processesWithArgument, runFcp, tempDir, unique, waitFor } from './harness';
import { Sshd, startSshd } from './sshd';
import { MIN_LAUNCH_TIMEOUT_MS } from '../../../src/timeouts';

jest.setTimeout(120_000);

let sshd: Sshd;
let work: string;
let env: NodeJS.ProcessEnv;
/** The hanging scripts made, to end what they left running. */
const scripts: string[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  work = tempDir('launch-timeout');
  env = childEnv(work);
});

afterAll(async () => {
  // The test sshd refuses signal requests (no privilege separation), so they outlive fcp.
  for (const pid of scripts.flatMap((script) => processesWithArgument(script))) process.kill(pid, 'SIGKILL');
  killAll();
  await sshd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A hanging fcpd: the script, and the file where it writes its pid and its child's. */
interface Hanging {
  script: string;
  pids: string;
}

/**
 * A script that starts a child (a node that waits forever), writes both pids, then ignores its
 * input and never prints the listen line: it becomes a node that waits forever too.
 */
function hangingFcpd(): Hanging {
  const script = path.join(work, unique('hanging-fcpd'));
  const pids = `${script}.pids`;
  scripts.push(script);
  const wait = `${process.execPath} -e 'setInterval(() => {}, 1000)' "$0"`;
  const lines = ['#!/bin/sh', `${wait} child &`, `echo $! $$ > ${pids}.tmp && mv ${pids}.tmp ${pids}`, `exec ${wait} "$@"`];
  fs.writeFileSync(script, `${lines.join('\n')}\n`, { mode: 0o755 });
  return { script, pids };
}

/** The hanging script's pids, once it wrote them. */
function pidsOf(hanging: Hanging): number[] {
  return fs.readFileSync(hanging.pids, 'utf8').trim().split(' ').map(Number);
}

/** Both of the script's processes end (sshd reaps them) once fcp has gone. */
async function expectEnded(hanging: Hanging): Promise<void> {
  const pids = pidsOf(hanging);
  expect(pids).toHaveLength(2);
  await waitFor(`the remote launch command's processes ${pids.join(' ')} to end`, () => !pids.some(alive), 10_000);
}

const directions: [string, string[], (file: string) => string[]][] = [
  ['an upload', [], (file) => [file, `${sshd.alias}:/tmp/`]],
  ['a download', [], (file) => [`${sshd.alias}:${file}`, work]],
  ['an upload through -e ssh', ['-e', 'ssh'], (file) => [file, `${sshd.alias}:/tmp/`]],
];

/** fcp's arguments with a hanging remote fcpd and --timeout 3. */
function hangingArgs(hanging: Hanging, extra: string[], args: (file: string) => string[]): string[] {
  const file = path.join(work, unique('file'));
  fs.writeFileSync(file, 'payload');
  return [...extra, '-F', sshd.sshConfig, '--timeout', '3', '--fcpd-path', hanging.script, ...args(file)];
}

test.each(directions)('%s whose remote fcpd never starts listening: FCP_ERR_TIMEOUT (exit 7) naming the host after the launch bound (--timeout 3: its floor), no hang, the remote command ended', async (_what, extra, args) => {
  const hanging = hangingFcpd();
  const run = await runFcp(hangingArgs(hanging, extra, args), { env, timeoutMs: MIN_LAUNCH_TIMEOUT_MS + 40_000 });
  const host = extra.length > 0 ? sshd.alias : `\\S+@127\\.0\\.0\\.1:${sshd.port}`;
  expectFailure(run, 7, 'FCP_ERR_TIMEOUT', new RegExp(`no listen line from fcpd on ${host} within ${MIN_LAUNCH_TIMEOUT_MS / 1000} s`));
  await expectEnded(hanging);
});

test('Ctrl-C while the remote fcpd is starting: exit 130, the remote command ended', async () => {
  const hanging = hangingFcpd();
  const child = spawn(process.execPath, [FCP, ...hangingArgs(hanging, [], directions[0]![2])], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await waitFor('the remote launch command to start', () => fs.existsSync(hanging.pids), 30_000);
  child.kill('SIGINT');
  const code = await exited;
  if (code !== 130) throw new Error(`expected exit 130, got ${code}\n${stderr}`);
  await expectEnded(hanging);
});
