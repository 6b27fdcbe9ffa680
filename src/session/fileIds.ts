/**
 * Per-file state by file_id, for files in flight. file_ids are given in announcement order (0, 1,
 * 2, ... PROTOCOL.md §7.1) and files end in about that order, so the state is a ring of slots from
 * the oldest file held to the newest (its size the span of ids in flight, not their number). A Map with a window of thousands of files
 * coming and going rebuilt its table (hundreds of KB, allocated in the old generation) every few
 * thousand files: a million-file copy's senders and receivers allocated 30 MB of it per 200,000
 * files, freed only by a full collection. The ring is reallocated only when the span of ids in
 * flight outgrows it, which a window of files bounds.
 */
export class FileIdMap<T> {
  /** Slot of file_id `id` is slots[id & mask]; slots outside [first, end) are undefined. */
  private slots: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  /** The oldest file_id held (when `count` > 0), and one past the newest. */
  private first = 0;
  private end = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    return id >= this.first && id < this.end ? this.slots[id & this.mask] : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /**
   * Holds `value` for `id`. Ids come mostly in announcement order; one older than the oldest held
   * (a file that waited for a descriptor) widens the span as a newer one does.
   */
  set(id: number, value: T): this {
    if (this.count === 0) this.first = this.end = id;
    const first = Math.min(this.first, id);
    const end = Math.max(this.end, id + 1);
    if (end - first > this.slots.length) this.grow(end - first);
    this.first = first;
    this.end = end;
    if (this.slots[id & this.mask] === undefined) this.count++;
    this.slots[id & this.mask] = value;
    return this;
  }

  delete(id: number): boolean {
    if (!this.has(id)) return false;
    this.slots[id & this.mask] = undefined;
    this.count--;
    if (this.count === 0) this.first = this.end;
    else while (this.slots[this.first & this.mask] === undefined) this.first++;
    return true;
  }

  *values(): IterableIterator<T> {
    for (let id = this.first; id < this.end; id++) {
      const value = this.slots[id & this.mask];
      if (value !== undefined) yield value;
    }
  }

  *keys(): IterableIterator<number> {
    for (let id = this.first; id < this.end; id++) if (this.slots[id & this.mask] !== undefined) yield id;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.first = this.end = this.count = 0;
  }

  /** Room for a span of `span` ids: the next power of two, the held ones moved to their new slots. */
  private grow(span: number): void {
    let size = this.slots.length;
    while (size < span) size *= 2;
    const slots = new Array<T | undefined>(size).fill(undefined);
    const mask = size - 1;
    for (let id = this.first; id < this.end; id++) slots[id & mask] = this.slots[id & this.mask];
    this.slots = slots;
    this.mask = mask;
  }
}

/** Slots a map starts with: most copies have fewer files than this in flight. */
const INITIAL_SLOTS = 64;
