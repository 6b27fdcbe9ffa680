/** Whether a process still runs, for pid files and lock files whose holder may have died (kill -9, a reboot). */

/** Whether process `pid` is running on this host (EPERM: it is, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
