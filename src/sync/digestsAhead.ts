/**
 * --checksum on the sending side: the whole-file digests of the files to announce, worked out a
 * few at a time ahead of the announcements, so that the receiver digests its copies of the first
 * files while this side digests the next ones.
 */
import type { XXHashAPI } from '../protocol/xxhash';
import type { Entry } from '../transfer/walk';
import { digestOfFile, DIGESTS_AT_ONCE, JobLimiter } from './fileDigest';

type FileEntry = Extract<Entry, { kind: 'file' }>;

export class DigestsAhead {
  private readonly limiter = new JobLimiter(DIGESTS_AT_ONCE);
  /** undefined: not digested (unreadable: the receiver then compares nothing, and the read fails the file as usual). */
  private readonly digests = new Map<FileEntry, Buffer | undefined>();

  /** `ready` is called each time a digest is in. */
  constructor(
    private readonly entries: readonly Entry[],
    private readonly xxh: XXHashAPI,
    private readonly ready: () => void,
  ) {}

  /** Queues every file, in announcement order, for digests in chunks of `chunkSize` (the session's). */
  start(chunkSize: number): void {
    for (const entry of this.entries) {
      if (entry.kind !== 'file') continue;
      void this.limiter
        .run(() => digestOfFile(this.xxh, entry.source, entry.size, chunkSize))
        .catch(() => undefined)
        .then((digest) => {
          this.digests.set(entry, digest);
          this.ready();
        });
    }
  }

  /** The file's digest; undefined when it has none; null while it is being worked out. */
  of(entry: FileEntry): Buffer | undefined | null {
    return this.digests.has(entry) ? this.digests.get(entry) : null;
  }
}
