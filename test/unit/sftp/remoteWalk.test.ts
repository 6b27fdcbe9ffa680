/**
 * A hostile SFTP server lists names no honest one would ('..', names with slashes, a NUL, names
 * for a second top-level entry): the pull's remote walk refuses each (FCP_ERR_BAD_PATH, reported
 * as skipped) and never hands one to the mover. The server is a fake RemoteFs: the walk reads
 * the server only through it.
 */
import type { Stats } from 'ssh2';
import { ModeFlag } from '../../../src/protocol/constants';
import { requestScope } from '../../../src/session/entryScope';
import type { RemoteFs } from '../../../src/sftp/remoteFs';
import { walkRemote } from '../../../src/sftp/remoteWalk';

type Node = { dir: string[] } | { file: number } | { link: string };

function stats(node: Node): Stats {
  const kind = 'dir' in node ? 'dir' : 'file' in node ? 'file' : 'link';
  return {
    mode: 0o644,
    size: 'file' in node ? node.file : 0,
    mtime: 1_600_000_000,
    atime: 1_600_000_000,
    uid: 0,
    gid: 0,
    isDirectory: () => kind === 'dir',
    isFile: () => kind === 'file',
    isSymbolicLink: () => kind === 'link',
    isBlockDevice: () => false,
    isCharacterDevice: () => false,
    isFIFO: () => false,
    isSocket: () => false,
  };
}

/** A server whose every lstat answers from `tree` (and a file for any path it does not know). */
function hostileServer(tree: Record<string, Node>): RemoteFs {
  const node = (path: string): Node => tree[path] ?? { file: 5 };
  return {
    host: 'evil@host',
    lstat: async (path: string) => stats(node(path)),
    stat: async (path: string) => stats(node(path)),
    readdir: async (path: string) => (node(path) as { dir: string[] }).dir,
    readlink: async (path: string) => (node(path) as { link: string }).link,
    realpath: async (path: string) => path,
  } as unknown as RemoteFs;
}

test('names a server may not send are refused and reported, the honest ones walked', async () => {
  const server = hostileServer({
    wanted: { dir: ['.', '..', 'ok.txt', '../../.ssh/authorized_keys', 'a/b', 'nul\0name', ''] },
  });
  const scope = requestScope(ModeFlag.RECURSIVE, true, [Buffer.from('wanted')]);
  const walk = await walkRemote(server, ['wanted'], { recursive: true, followSymlinks: false }, scope);
  expect(walk.entries.map((e) => `${e.kind} ${e.path.toString()}`)).toEqual(['dir wanted', 'file wanted/ok.txt']);
  expect(walk.skipped.map((s) => [s.path.toString(), s.error.code])).toEqual([
    ['wanted/', 'FCP_ERR_BAD_PATH'],
    ['wanted/../../.ssh/authorized_keys', 'FCP_ERR_BAD_PATH'],
    ['wanted/a/b', 'FCP_ERR_BAD_PATH'],
    ['wanted/nul\0name', 'FCP_ERR_BAD_PATH'],
  ]);
});

test("a source '.' is named by the server's realpath: a real path ending in '..' is refused", async () => {
  const server = hostileServer({ '.': { file: 3 } });
  (server as unknown as { realpath: (p: string) => Promise<string> }).realpath = async () => '/home/..';
  const scope = requestScope(0, true, [Buffer.from('.')]);
  const walk = await walkRemote(server, ['.'], { recursive: false, followSymlinks: false }, scope);
  expect(walk.entries).toEqual([]);
  expect(walk.skipped.map((s) => [s.path.toString(), s.error.code])).toEqual([['..', 'FCP_ERR_BAD_PATH']]);
});

test('a symlink loop under -L is cut, not followed forever', async () => {
  const server = hostileServer({ top: { dir: ['again'] }, 'top/again': { dir: ['again'] } });
  // realpath of every level is "top": the server says they are all one directory.
  (server as unknown as { realpath: (p: string) => Promise<string> }).realpath = async () => '/top';
  const scope = requestScope(ModeFlag.RECURSIVE | ModeFlag.FOLLOW_SYMLINKS, true, [Buffer.from('top')]);
  const walk = await walkRemote(server, ['top'], { recursive: true, followSymlinks: true }, scope);
  expect(walk.entries.map((e) => e.path.toString())).toEqual(['top']);
  expect(walk.skipped.map((s) => [s.path.toString(), s.error.code])).toEqual([['top/again', 'FCP_ERR_BAD_PATH']]);
});
