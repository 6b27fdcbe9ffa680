/**
 * Sync over the test sshd (issue 16), pushed and pulled: --dry-run changes nothing on either side
 * and lists what a sync would do; --delete removes what the source lacks, listed in rsync's order
 * (a directory's contents before it, directories last-first, then files last-first); an itemized
 * symlink says where it points (`cL+++++++++ link -> target`); the quick check keeps a file of
 * the same size and mtime, and --checksum then finds and sends it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { content, expectExit, expectSameTree, runFcp, snapshot, unique, useSshdWorkspace, writeFile } from './harness';
import { aliasLogin, atAlias } from './sshd';

jest.setTimeout(90_000);

const space = useSshdWorkspace('sync');

const viaAlias = (): string[] => aliasLogin(space.sshd);
const remote = (p: string): string => atAlias(space.sshd, p);

/** A source tree, and a destination holding an older copy of it plus entries the source lacks. */
function setUp(): { src: string; dst: string } {
  const root = path.join(space.work, unique('sync'));
  const [src, dst] = [path.join(root, 'src'), path.join(root, 'dst')];
  writeFile(path.join(src, 'same-size'), content(5000, 'new'), 0o644, 1);
  writeFile(path.join(src, 'plain'), content(300, 'plain'), 0o644, 2);
  writeFile(path.join(src, 'sub', 'inner'), content(70_000, 'inner'), 0o600, 3);
  fs.symlinkSync('plain', path.join(src, 'link'));
  // The same size and mtime, other bytes: the quick check keeps it, --checksum does not.
  writeFile(path.join(dst, 'same-size'), content(5000, 'old'), 0o644, 1);
  writeFile(path.join(dst, 'plain'), content(300, 'plain'), 0o644, 2);
  for (const extra of ['B', 'b', 'd', 'sub/gone', 'C/x', 'a/y', 'c/z']) writeFile(path.join(dst, extra), content(10, extra), 0o644, 4);
  return { src, dst };
}

const DELETIONS = ['c/z', 'c/', 'a/y', 'a/', 'C/x', 'C/', 'd', 'b', 'B', 'sub/gone'].map((name) => `*deleting   ${name}`);

describe.each(['push', 'pull'] as const)('%s', (direction) => {
  const sync = (options: string[], src: string, dst: string) =>
    runFcp([...viaAlias(), '-r', ...options, direction === 'push' ? `${src}/` : remote(`${src}/`), direction === 'push' ? remote(dst) : dst], { env: space.env });

  test('--dry-run --delete --itemize-changes lists the changes and makes none, on either side', async () => {
    const { src, dst } = setUp();
    const before = { src: snapshot(src), dst: snapshot(dst) };
    const run = await sync(['--dry-run', '--delete', '--itemize-changes'], src, dst);
    expectExit(run, 0);
    expect({ src: snapshot(src), dst: snapshot(dst) }).toEqual(before);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining(['cL+++++++++ link -> plain', '.d..t...... sub/', '>f+++++++++ sub/inner']));
    expect(lines.filter((line) => line.startsWith('*deleting'))).toEqual(DELETIONS);
    // Neither the file the quick check keeps nor the unchanged one is listed.
    expect(lines.filter((line) => /^\S+ (same-size|plain)$/.test(line))).toEqual([]);
  });

  test('--delete, then --checksum: the destination becomes the source; a second sync changes nothing', async () => {
    const { src, dst } = setUp();
    const first = await sync(['--delete', '--itemize-changes', '--json'], src, dst);
    expectExit(first, 0);
    const summary = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { filesDeleted: number; filesSkipped: number };
    expect(summary).toMatchObject({ filesDeleted: DELETIONS.length, filesSkipped: 2 });
    // The quick check kept same-size: its old bytes are still there.
    expect(fs.readFileSync(path.join(dst, 'same-size')).equals(content(5000, 'old'))).toBe(true);
    const checksum = await sync(['--checksum', '--itemize-changes'], src, dst);
    expectExit(checksum, 0);
    expect(checksum.stdout.trim().split('\n')).toEqual(['>fc........ same-size']);
    expectSameTree(dst, src, checksum);
    const again = await sync(['--checksum', '--delete', '--itemize-changes'], src, dst);
    expectExit(again, 0);
    expect(again.stdout).toBe('');
  });
});
