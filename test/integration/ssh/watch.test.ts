/**
 * fcp --watch to a host over SSH: one login and one fcpd (fcpd --serve --reuse) serve the initial
 * sync and every round of changes after it; the destination ends equal to the source, and SIGTERM
 * ends fcp with exit 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filesWithContent as files, ownFcpd, useSshdWorkspace, waitFor } from './harness';
import { spawnFcp } from '../helpers/run';

jest.setTimeout(120_000);

const space = useSshdWorkspace('watch');

test('one SSH login serves the initial sync and every round; SIGTERM ends it with exit 0, and its fcpd with it', async () => {
  const src = path.join(space.work, 'src');
  const dst = path.join(space.work, 'dst');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.mkdirSync(dst);
  fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'b\n');
  // sshd says "Accepted key" while it checks a key, "Accepted publickey" once per login.
  const logins = (): number => space.sshd.log().split('\n').filter((line) => line.includes('Accepted publickey')).length;
  const before = logins();
  const fcpd = ownFcpd(space.sshd, space.work);
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpd.command, '--watch', '--json', '--delete', `${src}/`, `${space.sshd.alias}:${dst}/`];
  const fcp = spawnFcp(args, { env: space.env, cwd: space.work });
  const rounds = (): number => fcp.records().filter((record) => record.event === 'round').length;
  try {
    await waitFor('the initial round', () => rounds() >= 1);
    expect(fcpd.running()).toHaveLength(1);
    fs.writeFileSync(path.join(src, 'c.txt'), 'c\n');
    await waitFor('c.txt at the destination', () => fs.existsSync(path.join(dst, 'c.txt')));
    fs.renameSync(path.join(src, 'sub'), path.join(src, 'moved'));
    fs.rmSync(path.join(src, 'a.txt'));
    await waitFor('the move and the deletion at the destination', () => files(dst).join() === files(src).join());
  } finally {
    expect(await fcp.stop()).toEqual({ code: 0, stderr: '' });
  }
  expect(files(dst)).toEqual(['c.txt: c\n', 'moved/b.txt: b\n']);
  expect(rounds()).toBeGreaterThanOrEqual(3);
  expect(logins() - before).toBe(1);
  // fcpd --serve --reuse would have waited a minute for another round: it was ended with the watch.
  await fcpd.ended();
});
