/**
 * A file whose reads fail with EIO, without a hook in fcp: it lives on an ext2 file system on a
 * loop device whose backing image is then cut short under the mounted file system, so that reading
 * the blocks past the cut fails in the block layer ("attempt to access beyond end of device"), as
 * a disk with bad sectors does. Needs root (mount, losetup); device-mapper's `error` target would
 * be the textbook way, but this container's kernel has no device-mapper.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TempDirs } from './tmp';

const IMAGE_SIZE = 16 * 1024 * 1024;
/** Where the image is cut: a file larger than this cannot lie wholly before it. */
const READABLE = 8 * 1024 * 1024;
/** The failing file: larger than what is left readable, so part of it lies past the cut. */
export const FAILING_SIZE = 12 * 1024 * 1024;

function run(program: string, args: string[]): string {
  const result = spawnSync(program, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')}: ${result.stderr}${result.error?.message ?? ''}`);
  return result.stdout.trim();
}

/**
 * Mounts a fresh file system holding `name` (FAILING_SIZE bytes of `content`) and returns the
 * file's path: its first bytes read back, a read past the cut fails with EIO. Unmounted (and its
 * loop device released: mount -o loop sets autoclear) by `temp`'s cleanup.
 */
export function fileWithReadError(temp: TempDirs, name: string, content: Buffer): string {
  if (content.length !== FAILING_SIZE) throw new Error(`the failing file must be ${FAILING_SIZE} bytes`);
  const dir = temp.make('fcp-eio');
  const image = path.join(dir, 'image');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, IMAGE_SIZE);
  run('mkfs.ext2', ['-q', '-F', '-b', '4096', image]);
  run('mount', ['-o', 'loop', image, mnt]);
  temp.mounted(mnt);
  const file = path.join(mnt, name);
  fs.writeFileSync(file, content);
  // Mounted again so that nothing of the file is left in the page cache: every read goes to the device.
  run('umount', [mnt]);
  run('mount', ['-o', 'loop', image, mnt]);
  const device = run('findmnt', ['-n', '-o', 'SOURCE', mnt]);
  fs.truncateSync(image, READABLE);
  run('losetup', ['--set-capacity', device]);
  return file;
}

/** Whether reading `file` whole fails with EIO (what the test relies on; false: the setup did not work here). */
export function readFailsWithEio(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  try {
    for (let position = 0; fs.readSync(fd, buffer, 0, buffer.length, position) > 0; position += buffer.length);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EIO';
  } finally {
    fs.closeSync(fd);
  }
}
