/**
 * fcp --watch --two-way with a host over SSH: one login and one fcpd serve every round; a file
 * made on either side reaches the other, a deletion there reaches here, both edits of one file
 * are kept, and SIGTERM ends fcp with exit 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filesWithContent as files, ownFcpd, useSshdWorkspace, waitFor } from './harness';
import { treeOf } from '../helpers/kindTree';
import { spawnFcp } from '../helpers/run';
import { fcpdCommand } from './sshd';

jest.setTimeout(120_000);

const space = useSshdWorkspace('two-way');

test('one SSH login: files both ways, a deletion there, both edits kept; SIGTERM ends it with exit 0, and its fcpd with it', async () => {
  const here = path.join(space.work, 'here');
  const there = path.join(space.work, 'there');
  fs.mkdirSync(here);
  fs.mkdirSync(path.join(there, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(here, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(there, 'sub', 'b.txt'), 'b\n');
  fs.writeFileSync(path.join(there, 'c.txt'), 'c\n');
  const logins = (): number => space.sshd.log().split('\n').filter((line) => line.includes('Accepted publickey')).length;
  const before = logins();
  const fcpd = ownFcpd(space.sshd, space.work);
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpd.command, '--watch', '--two-way', '--interval', '1', '--json', here, `${space.sshd.alias}:${there}`];
  const fcp = spawnFcp(args, { env: space.env, cwd: space.work });
  const same = (): boolean => files(here).join() === files(there).join();
  try {
    await waitFor('the first round', () => same() && files(here).length === 3);
    expect(fcpd.running()).toHaveLength(1);
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
  // fcpd --serve --reuse would have waited a minute for another round: it was ended with the watch.
  await fcpd.ended();
});

test('a change on the host is synced without waiting for --interval (fcpd reports it); a lost record here deletes nothing', async () => {
  const here = path.join(space.work, 'here-2');
  const there = path.join(space.work, 'there-2');
  fs.mkdirSync(here);
  fs.mkdirSync(there);
  fs.writeFileSync(path.join(here, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(here, 'b.txt'), 'b\n');
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--watch', '--two-way', '--interval', '600', '--json', here, `${space.sshd.alias}:${there}`];
  const same = (): boolean => files(here).join() === files(there).join();
  const first = spawnFcp(args, { env: space.env, cwd: space.work });
  try {
    await waitFor('the first round', () => same() && files(here).length === 2);
    fs.writeFileSync(path.join(there, 'a.txt'), 'a edited on the host\n');
    await waitFor('the edit there, here', () => same() && files(here).includes('a.txt: a edited on the host\n'));
  } finally {
    expect(await first.stop()).toEqual({ code: 0, stderr: '' });
  }
  const rounds = first.records().filter((record) => record.event === 'round');
  expect(rounds.map((round) => round.kind)).not.toContain('rescan');
  expect(rounds.at(-1)).toMatchObject({ kind: 'changes', pulled: 1 });
  // The record here is lost; meanwhile a file goes on each side: nothing is deleted, both come back.
  fs.rmSync(path.join(space.env.HOME!, '.local', 'state', 'fcp', 'two-way'), { recursive: true });
  fs.rmSync(path.join(here, 'a.txt'));
  fs.rmSync(path.join(there, 'b.txt'));
  const second = spawnFcp(args, { env: space.env, cwd: space.work });
  try {
    await waitFor('the first round after the loss', () => second.records().some((record) => record.event === 'round'));
  } finally {
    expect(await second.stop()).toEqual({ code: 0, stderr: '' });
  }
  expect(files(here)).toEqual(['a.txt: a edited on the host\n', 'b.txt: b\n']);
  expect(files(there)).toEqual(files(here));
  expect(second.records().find((record) => record.event === 'round')).toMatchObject({ kind: 'initial', pushed: 1, pulled: 1, deletedHere: 0, deletedThere: 0 });
});

test('a big file renamed on the host arrives as a rename: nothing brought here, the file here keeps its inode', async () => {
  const here = path.join(space.work, 'here-3');
  const there = path.join(space.work, 'there-3');
  fs.mkdirSync(here);
  fs.mkdirSync(there);
  const big = Buffer.alloc(16 << 20, 'sixteen MiB\n');
  fs.writeFileSync(path.join(here, 'big.bin'), big);
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--watch', '--two-way', '--interval', '1', '--json', here, `${space.sshd.alias}:${there}`];
  const fcp = spawnFcp(args, { env: space.env, cwd: space.work });
  const rounds = (): Record<string, unknown>[] => fcp.records().filter((record) => record.event === 'round');
  let counted = 0;
  const inode = fs.statSync(path.join(here, 'big.bin')).ino;
  try {
    await waitFor('the first round', () => fs.existsSync(path.join(there, 'big.bin')) && rounds().length > 0);
    // A round after the copy: both records hold the file (with its inode on the host).
    const settled = rounds().length;
    await waitFor('a round after the first', () => rounds().length > settled + 1);
    counted = rounds().length;
    fs.mkdirSync(path.join(there, 'archive'));
    fs.renameSync(path.join(there, 'big.bin'), path.join(there, 'archive', 'big.bin'));
    await waitFor('the rename here', () => fs.existsSync(path.join(here, 'archive', 'big.bin')) && !fs.existsSync(path.join(here, 'big.bin')));
  } finally {
    expect(await fcp.stop()).toEqual({ code: 0, stderr: '' });
  }
  expect(fs.statSync(path.join(here, 'archive', 'big.bin')).ino).toBe(inode);
  expect(fs.readFileSync(path.join(here, 'archive', 'big.bin')).equals(big)).toBe(true);
  const after = rounds().slice(counted);
  const sum = (key: string): number => after.reduce((total, round) => total + (round[key] as number), 0);
  expect({ renamedHere: sum('renamedHere'), pulled: sum('pulled'), pushed: sum('pushed'), deletedHere: sum('deletedHere') }).toEqual({ renamedHere: 1, pulled: 0, pushed: 0, deletedHere: 0 });
});

test('directories and symlinks over SSH: made both ways, a directory renamed on the host arrives as one rename, links as links, a deleted directory keeps a file edited inside', async () => {
  const here = path.join(space.work, 'here-4');
  const there = path.join(space.work, 'there-4');
  fs.mkdirSync(path.join(here, 'tree', 'inner'), { recursive: true });
  fs.writeFileSync(path.join(here, 'tree', 'inner', 'f.txt'), 'f\n');
  fs.mkdirSync(path.join(here, 'gone'));
  fs.writeFileSync(path.join(here, 'gone', 'edited.txt'), 'v1\n');
  fs.mkdirSync(path.join(there, 'empty-there', 'deeper'), { recursive: true });
  fs.symlinkSync('tree/inner/f.txt', path.join(here, 'link-here'));
  fs.symlinkSync('/outside/the/tree', path.join(there, 'link-there'));
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--watch', '--two-way', '--interval', '1', '--json', here, `${space.sshd.alias}:${there}`];
  const fcp = spawnFcp(args, { env: space.env, cwd: space.work });
  const same = (): boolean => JSON.stringify(treeOf(here)) === JSON.stringify(treeOf(there));
  const rounds = (): Record<string, unknown>[] => fcp.records().filter((record) => record.event === 'round');
  let counted = 0;
  let inode = 0;
  try {
    await waitFor('the first round', () => same() && treeOf(here)['empty-there/deeper'] === 'dir' && rounds().length > 0);
    const settled = rounds().length;
    await waitFor('a round after the first', () => rounds().length > settled + 1);
    counted = rounds().length;
    inode = fs.statSync(path.join(here, 'tree')).ino;
    fs.renameSync(path.join(there, 'tree'), path.join(there, 'moved'));
    fs.rmSync(path.join(there, 'gone'), { recursive: true });
    fs.writeFileSync(path.join(here, 'gone', 'edited.txt'), 'v2 edited here\n');
    fs.unlinkSync(path.join(there, 'link-here'));
    fs.symlinkSync('moved/inner/f.txt', path.join(there, 'link-here'));
    fs.rmSync(path.join(here, 'empty-there'), { recursive: true });
    await waitFor('the changes on both sides', () => same() && treeOf(here)['moved'] === 'dir' && treeOf(here)['link-here'] === 'link:moved/inner/f.txt' && treeOf(there)['empty-there'] === undefined && treeOf(there)['gone/edited.txt'] !== undefined);
  } finally {
    expect(await fcp.stop()).toEqual({ code: 0, stderr: '' });
  }
  expect(treeOf(here)).toEqual({
    gone: 'dir',
    'gone/edited.txt': 'file:v2 edited here\n',
    'link-here': 'link:moved/inner/f.txt',
    'link-there': 'link:/outside/the/tree',
    moved: 'dir',
    'moved/inner': 'dir',
    'moved/inner/f.txt': 'file:f\n',
  });
  expect(treeOf(there)).toEqual(treeOf(here));
  // The directory here was renamed, not made anew and filled.
  expect(fs.statSync(path.join(here, 'moved')).ino).toBe(inode);
  const after = rounds().slice(counted);
  expect(after.reduce((total, round) => total + (round.renamedHere as number), 0)).toBe(1);
});
