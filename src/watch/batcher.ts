/**
 * fcp --watch's batches, pure: changed paths (relative to the watched source, `/`-separated) come
 * in one by one from file-system events and rescans; a batch is due once no change came for the
 * debounce time (or the longer quiet a change asked for), or the max delay after its first change, and is taken as the fewest paths that
 * cover it (a directory stands for everything below it). Times are given, never read.
 */

const SLASH = 0x2f;

/** `paths` without any path that another of them contains, sorted by bytes. */
export function collapse(paths: Iterable<Buffer>): Buffer[] {
  const all = new Set([...paths].map((path) => path.toString('latin1')));
  const covered = (path: string): boolean => {
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      if (all.has(path.slice(0, slash))) return true;
    }
    return false;
  };
  return [...all].filter((path) => !covered(path)).map((path) => Buffer.from(path, 'latin1')).sort(Buffer.compare);
}

/** Whether `path` is below directory `dir` (`dir/...`). */
export function isBelow(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length && path[dir.length] === SLASH && path.subarray(0, dir.length).equals(dir);
}

export class ChangeBatcher {
  /** Pending paths by their latin1 spelling (lossless for any bytes). */
  private readonly pending = new Set<string>();
  private firstAt: number | undefined;
  /** The batch waits at least until then: the latest change's time and the quiet it asked for. */
  private quietUntil: number | undefined;

  constructor(
    private readonly debounceMs: number,
    private readonly maxDelayMs: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A change at `now`; `quietMs`: how long no further change must come for the batch to be due (the debounce unless said). */
  add(path: Buffer, now: number, quietMs = this.debounceMs): void {
    this.pending.add(path.toString('latin1'));
    this.firstAt ??= now;
    this.quietUntil = Math.max(this.quietUntil ?? 0, now + quietMs);
  }

  /** When the batch is due (the time `now` is compared with), or undefined when nothing is pending. */
  dueAt(): number | undefined {
    if (this.firstAt === undefined || this.quietUntil === undefined) return undefined;
    return Math.min(this.quietUntil, this.firstAt + this.maxDelayMs);
  }

  /** The pending paths, collapsed; the batcher is empty after. */
  take(): Buffer[] {
    const paths = collapse([...this.pending].map((path) => Buffer.from(path, 'latin1')));
    this.pending.clear();
    this.firstAt = this.quietUntil = undefined;
    return paths;
  }
}
