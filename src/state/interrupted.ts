/**
 * What a process stopped by a signal (Ctrl-C, SIGTERM: fcp, its jobs' workers, fcp --watch, fcpd
 * --serve) leaves for the next run, on its way out: its part files, flushed with their journals,
 * to be resumed; none of its private temporaries, which no run can resume.
 */
import { removeOpenTemporaries } from './openTemporaries';
import { keepAllPartials } from './partialFile';

export function leaveForNextRun(): void {
  keepAllPartials();
  removeOpenTemporaries();
}
