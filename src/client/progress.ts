/**
 * Progress of a transfer: bytes and files done against the totals, a rate over the last few
 * seconds (so it follows changes of speed) and the ETA that rate gives.
 */
const WINDOW_MS = 3000;

export interface ProgressSnapshot {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at that rate; undefined until a rate is known. */
  etaSeconds: number | undefined;
  currentFile: string | undefined;
  elapsedSeconds: number;
}

export class Progress {
  bytesDone = 0;
  bytesTotal = 0;
  filesDone = 0;
  filesTotal = 0;
  /**
   * The last file done (its event): its path, as on disk, read and decoded only when a snapshot is
   * taken, not once per file (a sender's event joins it when read: transfer/link.ts).
   */
  lastFile: { readonly path: Buffer } | undefined;
  private readonly started = Date.now();
  /** [time, bytesDone] samples inside the rate window. */
  private readonly samples: [number, number][] = [[Date.now(), 0]];

  snapshot(now = Date.now()): ProgressSnapshot {
    this.samples.push([now, this.bytesDone]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > WINDOW_MS) this.samples.shift();
    const [since, bytesThen] = this.samples[0]!;
    const seconds = (now - since) / 1000;
    const rate = seconds > 0 ? (this.bytesDone - bytesThen) / seconds : 0;
    return {
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      rate,
      etaSeconds: rate > 0 ? Math.max(0, (this.bytesTotal - this.bytesDone) / rate) : undefined,
      currentFile: this.lastFile?.path.toString('utf8'),
      elapsedSeconds: (now - this.started) / 1000,
    };
  }
}
