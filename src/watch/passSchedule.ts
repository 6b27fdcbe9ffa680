/**
 * Which slices of fcp --watch's rescan passes are whole, pure: a pass is `slices` slices, and
 * each slice is whole in every `wholeEvery`-th pass, the slices taking turns (slice i in the
 * passes p where p + i is one short of a multiple of wholeEvery), so that every pass costs about
 * the same: with as many slices as wholeEvery or more, each pass has its share of whole slices,
 * never a whole pass at once. The `slices` slices after the watcher said events were lost are
 * whole (every directory looked at whole once, wherever the pass stood), and every slice when
 * there are no events at all (only a whole look sees a file changed in place).
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
    const pass = Math.floor(this.done / this.slices);
    const slice = this.done++ % this.slices;
    const turn = (pass + slice) % this.wholeEvery === this.wholeEvery - 1;
    if (this.wholeDue > 0) {
      this.wholeDue--;
      return 'whole';
    }
    return turn || !events ? 'whole' : 'light';
  }
}
