/**
 * Temporary directories for integration tests: one fresh directory per test under os.tmpdir(),
 * removed after it (after unmounting anything a test mounted inside it, and after restoring
 * owner permissions that a test took away, so that removal works for non-root users too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Makes every directory below root owner-rwx again (chmod 000 in tests would block rm -rf). */
function restoreOwnerAccess(root: string): void {
  const visit = (dir: Buffer): void => {
    try {
      fs.chmodSync(dir, 0o700);
    } catch {
      return;
    }
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir, { encoding: 'buffer' });
    } catch {
      return;
    }
    for (const name of names) {
      const child = Buffer.concat([dir, Buffer.from('/'), name]);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(child);
      } catch {
        continue;
      }
      if (stat.isDirectory()) visit(child);
    }
  };
  visit(Buffer.from(root));
}

export class TempDirs {
  private readonly dirs: string[] = [];
  private readonly mounts: string[] = [];

  /** A new empty directory, removed by cleanup(). */
  make(label = 'fcp-it'): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label.replace(/[^a-zA-Z0-9-]/g, '-')}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Registers a mount point to unmount before the directories are removed. */
  mounted(dir: string): void {
    this.mounts.push(dir);
  }

  cleanup(): void {
    for (const dir of this.mounts.splice(0).reverse()) {
      const result = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (result.status !== 0) spawnSync('umount', ['-l', dir]);
    }
    for (const dir of this.dirs.splice(0)) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        restoreOwnerAccess(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

/** A TempDirs cleaned after every test of the calling file (and once more after all of them). */
export function useTempDirs(): TempDirs {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());
  afterAll(() => temp.cleanup());
  return temp;
}

/**
 * $XDG_STATE_HOME set to a fresh directory for each test of the calling file (fcpd processes it
 * starts inherit it), so that state such as the signature cache stays out of the user's own; the
 * getter gives the current one. Restored after each test.
 */
export function useTempStateHome(): () => string {
  const temp = new TempDirs();
  const saved = process.env.XDG_STATE_HOME;
  let current = '';
  beforeEach(() => {
    current = temp.make('fcp-state-home');
    process.env.XDG_STATE_HOME = current;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
    temp.cleanup();
  });
  return () => current;
}

/** Runs mount(8); returns its error output, or undefined when it worked. */
export function mount(args: string[]): string | undefined {
  const result = spawnSync('mount', args, { encoding: 'utf8' });
  return result.status === 0 ? undefined : `${result.stderr}${result.error?.message ?? ''}`.trim() || `mount exited ${result.status}`;
}

/** Recursively chown (tests that run fcp as an unprivileged user). */
export function chownTree(root: string, uid: number, gid: number): void {
  const visit = (p: Buffer): void => {
    fs.lchownSync(p, uid, gid);
    if (fs.lstatSync(p).isDirectory()) {
      for (const name of fs.readdirSync(p, { encoding: 'buffer' })) visit(Buffer.concat([p, Buffer.from('/'), name]));
    }
  };
  visit(Buffer.from(root));
}
