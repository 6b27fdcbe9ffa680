/**
 * A set of file_ids held as sorted runs of consecutive ids. file_ids are given in announcement
 * order and mostly settle in it, so the ids of a kind (every file the quick check answered FILE_SAME
 * in a rerun, say) form a few long runs: the set costs what the runs do, not what the files do.
 */
export class IdRanges {
  /** Runs as [first, last] pairs, both inclusive, sorted and never touching: starts[i] <= ends[i] < starts[i + 1] - 1. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** How many runs hold the ids: what the set costs. */
  get runs(): number {
    return this.starts.length;
  }

  has(id: number): boolean {
    const at = this.runBefore(id);
    return at >= 0 && id <= this.ends[at]!;
  }

  add(id: number): void {
    const at = this.runBefore(id);
    if (at >= 0 && id <= this.ends[at]! + 1) {
      if (id <= this.ends[at]!) return;
      this.ends[at] = id;
      this.joinNext(at);
      return;
    }
    const next = at + 1;
    if (next < this.starts.length && this.starts[next] === id + 1) {
      this.starts[next] = id;
      return;
    }
    this.starts.splice(next, 0, id);
    this.ends.splice(next, 0, id);
  }

  /** The index of the last run starting at or before `id`, or -1. */
  private runBefore(id: number): number {
    let low = 0;
    let high = this.starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.starts[middle]! <= id) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  /** Run `at` grew to touch the next one: they become one. */
  private joinNext(at: number): void {
    if (at + 1 < this.starts.length && this.starts[at + 1] === this.ends[at]! + 1) {
      this.ends[at] = this.ends[at + 1]!;
      this.starts.splice(at + 1, 1);
      this.ends.splice(at + 1, 1);
    }
  }
}
