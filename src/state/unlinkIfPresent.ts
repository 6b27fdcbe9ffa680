/**
 * Removes the file at `path` when it is there. fs.rmSync with force, in Node 20, lstats the path
 * twice (its option check, then its rimraf) before the unlink: three calls where one does, for
 * each journal, lock and temporary a receiver removes.
 */
import * as fs from 'node:fs';

export function unlinkIfPresent(path: Buffer | string): void {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
