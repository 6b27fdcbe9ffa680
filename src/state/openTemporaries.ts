/**
 * The private temporaries (`.NAME.fcp-PID-N`, fileWriter.ts) this process holds open across calls:
 * files of one chunk, and one written beside a part file another process holds. No run can resume
 * them, so an interrupted process removes them on its way out, as a session that ends does
 * (FileWriter.keepAll). Apart from fileWriter.ts, so that fcp's start-up does not load the writer.
 */
import { unlinkIfPresent } from './unlinkIfPresent';

const open = new Set<Buffer>();

/** `temp` is being written; until forgetTemporary, an interrupted process removes it. */
export function holdTemporary(temp: Buffer): void {
  open.add(temp);
}

/** `temp` was renamed into place or removed. */
export function forgetTemporary(temp: Buffer): void {
  open.delete(temp);
}

/**
 * Ctrl-C or SIGTERM, as the process exits at once (leaveForNextRun, interrupted.ts): the names of the
 * private temporaries being written go. Their descriptors are left to the exit, since a write may
 * be in flight on one; what cannot be removed now is swept by the next run into that directory.
 */
export function removeOpenTemporaries(): void {
  for (const temp of open) {
    try {
      unlinkIfPresent(temp);
    } catch {
      // On the way out: the next run's sweep removes it (its pid no longer runs).
    }
  }
  open.clear();
}
