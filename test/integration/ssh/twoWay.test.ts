/**
 * fcp --watch --two-way with a host over SSH: one login and one fcpd serve every round; a file
 * made on either side reaches the other, a deletion there reaches here, both edits of one file
 * are kept, and SIGTERM ends fcp with exit 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filesWithContent as files, useSshdWorkspace, waitFor } from './harness';
import { spawnFcp } from '../helpers/run';
import { fcpdCommand } from './sshd';

jest.setTimeout(120_000);

const space = useSshdWorkspace('two-way');

test('one SSH login: files both ways, a deletion there, both edits kept; SIGTERM ends it with exit 0', async () => {
  const here = path.join(space.work, 'here');
  const there = path.join(space.work, 'there');
  fs.mkdirSync(here);
  fs.mkdirSync(path.join(there, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(here, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(there, 'sub', 'b.txt'), 'b\n');
  fs.writeFileSync(path.join(there, 'c.txt'), 'c\n');
  const logins = (): number => space.sshd.log().split('\n').filter((line) => line.includes('Accepted publickey')).length;
  const before = logins();
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--watch', '--two-way', '--interval', '1', '--json', here, `${space.sshd.alias}:${there}`];
  const fcp = spawnFcp(args, { env: space.env, cwd: space.work });
  const same = (): boolean => files(here).join() === files(there).join();
  try {
    await waitFor('the first round', () => same() && files(here).length === 3);
    fs.writeFileSync(path.join(there, 'new-there.txt'), 'made there\n');
    fs.rmSync(path.join(there, 'c.txt'));
    fs.writeFileSync(path.join(here, 'new-here.txt'), 'made here\n');
    await waitFor('the changes on both sides', () => same() && fs.existsSync(path.join(here, 'new-there.txt')) && !fs.existsSync(path.join(here, 'c.txt')));
    // Both sides edit a.txt: whichever round sees one edit first, the file here is not overwritten (it changed since the listing).
    fs.writeFileSync(path.join(here, 'a.txt'), 'a edited here\n');
    fs.writeFileSync(path.join(there, 'a.txt'), 'a edited there, longer\n');
    await waitFor('both edits on both sides', () => same() && files(here).some((line) => line.startsWith('a.txt.conflict-')));
  } finally {
    expect(await fcp.stop()).toEqual({ code: 0, stderr: '' });
  }
  expect(files(here)).toEqual(files(there));
  expect(files(here)).toEqual(expect.arrayContaining(['new-here.txt: made here\n', 'new-there.txt: made there\n', 'sub/b.txt: b\n']));
  expect(files(here).some((line) => line.startsWith('c.txt'))).toBe(false);
  // Both edits are kept: here's under the name, there's under a conflict name with the host's name.
  expect(files(here)).toContain('a.txt: a edited here\n');
  expect(files(here).filter((line) => line.startsWith('a.txt.conflict-'))).toEqual([expect.stringMatching(new RegExp(`^a\\.txt\\.conflict-${space.sshd.alias}-\\d{8}T\\d{6}Z: a edited there, longer\n$`))]);
  expect(fcp.records()).toContainEqual(expect.objectContaining({ event: 'conflict', path: 'a.txt', conflict: 'bothEdited' }));
  expect(logins() - before).toBe(1);
});
