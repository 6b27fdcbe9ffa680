/** Whether a process still runs, for pid files and lock files whose holder may have died (kill -9, a reboot). */
import * as fs from 'node:fs';

/**
 * A zombie: dead, but not yet reaped by its parent (a detached process's new parent may reap it
 * late), so signals still "reach" it. Linux only; elsewhere no process counts as one.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The state follows the command name, which is in parentheses and may hold anything.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Whether process `pid` is running on this host (EPERM: it is, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}
