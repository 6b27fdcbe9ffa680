/**
 * A remote command that starts but never says it listens (issue 12: every wait has a timeout,
 * launch included): `--fcpd-path` names a script on the test sshd's host that hangs, reading
 * nothing and printing nothing. fcp must end with FCP_ERR_TIMEOUT (exit 7) naming the host after
 * --timeout, not hang, and leave nothing running on the remote side (the script's process must be
 * gone once fcp has closed the SSH session). A never-speaking SSH server is connect.test.ts's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, expectFailure, killAll, processesWithArgument, runFcp, tempDir, unique } from './harness';
import { Sshd, startSshd } from './sshd';

jest.setTimeout(60_000);

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

/** A script that starts, ignores its input and never prints the listen line: a node that waits forever. */
function hangingFcpd(): string {
  const script = path.join(work, unique('hanging-fcpd'));
  scripts.push(script);
  fs.writeFileSync(script, `#!/bin/sh\nexec ${process.execPath} -e 'setInterval(() => {}, 1000)' "$0" "$@"\n`, { mode: 0o755 });
  return script;
}

const directions: [string, (file: string) => string[]][] = [
  ['an upload', (file) => [file, `${sshd.alias}:/tmp/`]],
  ['a download', (file) => [`${sshd.alias}:${file}`, work]],
];

/** fcp with a hanging remote fcpd and --timeout 3: how it ended, and the hanging script. */
async function launchHanging(args: (file: string) => string[]): Promise<{ run: Awaited<ReturnType<typeof runFcp>>; script: string }> {
  const file = path.join(work, unique('file'));
  fs.writeFileSync(file, 'payload');
  const script = hangingFcpd();
  const run = await runFcp(['-F', sshd.sshConfig, '--timeout', '3', '--fcpd-path', script, ...args(file)], { env, timeoutMs: 40_000 });
  return { run, script };
}

test.each(directions)('%s whose remote fcpd never starts listening: FCP_ERR_TIMEOUT (exit 7) naming the host after --timeout, no hang', async (_what, args) => {
  const { run } = await launchHanging(args);
  expectFailure(run, 7, 'FCP_ERR_TIMEOUT', new RegExp(`no listen line from fcpd on \\S+@127\\.0\\.0\\.1:${sshd.port} within 3 s`));
});
