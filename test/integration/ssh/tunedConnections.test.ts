/**
 * Data connections tuned at run time (feature GROW) over a real OpenSSH server on 127.0.0.1 through
 * fcpd, both ways: an upload adds connections to a receiving fcpd, a download has fcpd's sender
 * start a pump on each connection that joins late. FCP_TEST_TUNER forces an addition at every
 * 50 ms window; --bwlimit makes the copy last several windows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TEST_TUNER_ENV } from '../../../src/client/connectionGrowth';
import { TUNE_MAX } from '../../../src/session/connectionTuner';
import { content, expectExit, runFcp, sha256, useSshdWorkspace } from './harness';
import { fcpdCommand } from './sshd';

jest.setTimeout(90_000);

const space = useSshdWorkspace('ssh-tuned', { [TEST_TUNER_ENV]: '50:-1' });
const MiB = 1024 * 1024;

beforeAll(() => fs.writeFileSync(path.join(space.work, 'f'), content(12 * MiB, 'tuned')));

const viaAlias = (): string[] => ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--bwlimit', '8M', '--json'];
const at = (p: string): string => `${space.sshd.alias}:${p}`;
const connectionsUsed = (stdout: string): number | undefined =>
  (stdout.split('\n').filter((line) => line.includes('"summary"')).map((line) => JSON.parse(line) as { connections: number })[0])?.connections;

test('an upload and a download grow to the maximum and arrive identical', async () => {
  const up = path.join(space.work, 'up');
  const upload = await runFcp([...viaAlias(), path.join(space.work, 'f'), at(up)], { env: space.env });
  expectExit(upload, 0);
  expect(sha256(up)).toBe(sha256(path.join(space.work, 'f')));
  expect(connectionsUsed(upload.stdout)).toBe(TUNE_MAX);
  const down = path.join(space.work, 'down');
  const download = await runFcp([...viaAlias(), at(up), down], { env: space.env });
  expectExit(download, 0);
  expect(sha256(down)).toBe(sha256(path.join(space.work, 'f')));
  expect(connectionsUsed(download.stdout)).toBe(TUNE_MAX);
});
