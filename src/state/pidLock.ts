/**
 * A lock file that holds its holder's pid, taken with O_EXCL: a part file's (partialFile.ts), and
 * the start of a background process (controlSocket.ts). A lock whose pid no longer runs (kill -9,
 * a reboot) is stale and taken over.
 */
import * as fs from 'node:fs';
import { isRunning } from './running';

/** Takes the lock at `lock`: false when a running process holds it. */
export function takePidLock(lock: Buffer | string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(lock, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readSmall(lock), 10);
      // A lock being written (no pid yet) or held by a live process is not ours to take.
      if (!Number.isInteger(holder) || holder <= 0 || isRunning(holder)) return false;
      fs.rmSync(lock, { force: true });
      continue;
    }
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  }
  return false;
}

function readSmall(path: Buffer | string): string {
  try {
    return fs.readFileSync(path, 'latin1').slice(0, 32);
  } catch {
    return '';
  }
}
