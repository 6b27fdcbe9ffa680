/**
 * Which rescan passes of fcp --watch are whole, pure: a pass is `slices` slices, and every
 * `wholeEvery`-th pass is whole from its first slice; so are the `slices` slices after the watcher
 * said events were lost (every directory looked at whole once, wherever the pass stood), and every
 * slice when there are no events at all (only a whole pass sees a file changed in place).
 */
import type { PassKind } from './snapshot';

export class PassSchedule {
  /** Slices scheduled so far. */
  private done = 0;
  /** Slices still to run whole. */
  private wholeDue = 0;

  constructor(
    private readonly slices: number,
    private readonly wholeEvery: number,
  ) {}

  /** Events may have been lost: the next `slices` slices are whole. */
  lost(): void {
    this.wholeDue = this.slices;
  }

  /** The kind of the next slice; `events`: whether file-system events come. */
  next(events: boolean): PassKind {
    if (this.done++ % (this.slices * this.wholeEvery) === this.slices * (this.wholeEvery - 1)) this.wholeDue = this.slices;
    if (this.wholeDue === 0) return events ? 'light' : 'whole';
    this.wholeDue--;
    return 'whole';
  }
}
