/**
 * The sender's side of --follow (PROTOCOL.md §7.10): once a file is OK at the receiver it is
 * stat'ed every FOLLOW_POLL_MS; what it grew by goes as APPEND, a file that was truncated,
 * rewritten or replaced is sent again (a notice, then a new FILE_INFO: the receiver's copy is its
 * old version, so with DELTA only what differs travels), and the sources are walked again every
 * few polls for new entries (and for sources that did not exist yet). growth.ts decides; this
 * module stats, reads and hashes.
 */
import * as fs from 'node:fs';
import { FollowEvent, MAX_APPEND_BYTES } from '../protocol/constants';
import { showName } from '../showName';
import type { Entry, WalkResult } from '../transfer/walk';
import { FOLLOW_MAX_LOAD, FOLLOW_POLL_MS, FOLLOW_READ_MAX, FOLLOW_SCAN_EVERY } from './constants';
import type { FollowedWalk } from './followWalk';
import { advance, conclude, Followed, observe, ResyncReason, retime, SourceStat, Span } from './growth';

type FileEntry = Extract<Entry, { kind: 'file' }>;

/** What the follower needs of the sending engine. */
export interface FollowSink {
  readonly chunkSize: number;
  hash(data: Buffer): bigint;
  /** Sends `data` (hashing to `hash`) at `offset` of file `fileId`, which is OK at the receiver. */
  append(fileId: number, offset: number, mtimeNs: bigint, hash: bigint, data: Buffer): void;
  /** Announces more entries after a FILE_COUNT for their files: new ones, or (`resent`) files sent again. */
  announceMore(entries: Entry[], resent: boolean): void;
  /** Tells the receiver (FOLLOW) and this side's user (followNoticeText). */
  notice(event: number, name: Buffer): void;
  /** Resolves once what was sent is written (the control connection drained). */
  drained(): Promise<void>;
  log(line: string): void;
}

const RESYNC_EVENT: Readonly<Record<ResyncReason, number>> = {
  truncated: FollowEvent.TRUNCATED,
  rewritten: FollowEvent.REWRITTEN,
  replaced: FollowEvent.REPLACED,
};


interface Tracked {
  fileId: number;
  entry: FileEntry;
  state: Followed;
  /** Said once that it is gone, until it is back. */
  gone: boolean;
}

function statOf(source: Buffer): SourceStat | undefined {
  try {
    const stat = fs.statSync(source, { bigint: true });
    return { size: Number(stat.size), ino: stat.ino, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs };
  } catch {
    return undefined;
  }
}

/** `length` bytes at `offset`, fewer when the file ends first. */
function readAt(fd: number, offset: number, length: number): Buffer {
  const data = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const n = fs.readSync(fd, data, filled, length - filled, offset + filled);
    if (n === 0) break;
    filled += n;
  }
  return data.subarray(0, filled);
}

export class SourceFollower {
  /** Files OK at the receiver, by entry path (latin1). */
  private readonly tracked = new Map<string, Tracked>();
  /** Every entry path announced in the session (latin1): a walk's others are new. */
  private readonly known = new Set<string>();
  /** First and last chunk sent of files in flight, by file_id: what a followed file is checked against. */
  private readonly sentSpans = new Map<number, { head?: Span; tail?: Span }>();
  private timer: NodeJS.Timeout | undefined;
  private polls = 0;
  /** The next poll's delay: FOLLOW_POLL_MS, or more when the last poll took long (FOLLOW_MAX_LOAD). */
  private delayMs = FOLLOW_POLL_MS;
  /** Polls between walks: FOLLOW_SCAN_EVERY, or more when the last walk took long. */
  private scanEvery = FOLLOW_SCAN_EVERY;
  private stopping = false;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly sink: FollowSink,
    first: FollowedWalk,
    private readonly rewalk: () => FollowedWalk,
  ) {
    for (const entry of first.walk.entries) this.known.add(entry.path.toString('latin1'));
  }

  /** The first announcements are out: say what is waited for, and start polling. */
  start(missing: readonly Buffer[]): void {
    for (const source of missing) this.sink.notice(FollowEvent.WAITING, source);
    this.schedule();
  }

  /** A chunk of file `fileId` went (or was kept): its first and last are remembered. */
  chunkSent(fileId: number, index: number, last: boolean, length: number, hash: bigint): void {
    if (index !== 0 && !last) return;
    let spans = this.sentSpans.get(fileId);
    if (!spans) this.sentSpans.set(fileId, (spans = {}));
    const span = { offset: index * this.sink.chunkSize, length, hash };
    if (index === 0) spans.head = span;
    if (last) spans.tail = span;
  }

  /** File `fileId` is settled: OK (`same`: the destination held it, nothing was sent) or failed. */
  settled(fileId: number, entry: FileEntry, ok: boolean, same: boolean): void {
    const spans = this.sentSpans.get(fileId);
    this.sentSpans.delete(fileId);
    if (!ok || this.stopping) return;
    const key = entry.path.toString('latin1');
    const now = statOf(entry.source);
    if (now === undefined) {
      this.known.delete(key);
      return this.sink.log(`follow: ${showName(entry.source)} is gone`);
    }
    // An empty file: the receiver holds nothing that could differ, and whatever is there now is appended.
    if (entry.size === 0) return this.track(key, fileId, entry, { size: 0, ino: now.ino, mtimeNs: -1n, ctimeNs: -1n, head: undefined, tail: undefined });
    if (same) {
      // Nothing was sent, so nothing sent can be checked: the quick check's word is taken while the
      // source is as it was walked; else what the receiver holds is unknown and it goes again.
      if (now.size !== entry.size || now.mtimeNs !== entry.mtimeNs) return this.resync(key, entry, 'rewritten');
      return this.track(key, fileId, entry, { ...now, size: entry.size, ...this.spansOf(entry.source, entry.size) });
    }
    // Times no stat can match: the first poll checks the sent spans, whatever changed since they were read.
    this.track(key, fileId, entry, { size: entry.size, ino: now.ino, mtimeNs: -1n, ctimeNs: -1n, head: spans?.head, tail: spans?.tail });
  }

  /** Stops polling; resolves once a poll under way has sent what it read. */
  stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    return this.ticking ?? Promise.resolve();
  }

  private track(key: string, fileId: number, entry: FileEntry, state: Followed): void {
    this.tracked.set(key, { fileId, entry, state, gone: false });
  }

  /** The head and tail chunk spans of the first `size` (> 0) bytes of `source`, hashed now. */
  private spansOf(source: Buffer, size: number): { head: Span; tail: Span } {
    const fd = fs.openSync(source, fs.constants.O_RDONLY);
    try {
      const { chunkSize } = this.sink;
      const span = (offset: number): Span => {
        const data = readAt(fd, offset, Math.min(chunkSize, size - offset));
        return { offset, length: data.length, hash: this.sink.hash(data) };
      };
      const lastStart = Math.floor((size - 1) / chunkSize) * chunkSize;
      return { head: span(0), tail: span(lastStart) };
    } finally {
      fs.closeSync(fd);
    }
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule();
      });
    }, this.delayMs);
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    for (const [key, file] of this.tracked) {
      if (this.stopping) return;
      this.poll(key, file);
    }
    this.delayMs = Math.max(FOLLOW_POLL_MS, (Date.now() - started) / FOLLOW_MAX_LOAD);
    if (++this.polls % this.scanEvery === 0 && !this.stopping) {
      const walked = Date.now();
      this.scan();
      this.scanEvery = Math.max(FOLLOW_SCAN_EVERY, Math.ceil((Date.now() - walked) / FOLLOW_MAX_LOAD / this.delayMs));
    }
    await this.sink.drained();
  }

  private poll(key: string, file: Tracked): void {
    const now = statOf(file.entry.source);
    const seen = observe(file.state, now);
    if (seen.kind === 'gone') {
      if (!file.gone) this.sink.log(`follow: ${showName(file.entry.source)} is gone; waiting for it to come back`);
      file.gone = true;
      return;
    }
    file.gone = false;
    if (seen.kind === 'unchanged') return;
    if (seen.kind === 'resync') return this.resync(key, file.entry, seen.reason);
    let fd: number;
    try {
      fd = fs.openSync(file.entry.source, fs.constants.O_RDONLY);
    } catch (err) {
      return this.sink.log(`follow: ${showName(file.entry.source)}: ${(err as Error).message}`);
    }
    try {
      const matches = seen.spans.every((span) => this.sink.hash(readAt(fd, span.offset, span.length)) === span.hash);
      const decision = conclude(file.state, now!, matches);
      if (decision.kind === 'resync') return this.resync(key, file.entry, decision.reason);
      if (decision.kind === 'unchanged') {
        file.state = retime(file.state, now!);
        return;
      }
      this.sendGrowth(fd, file, now!, decision.from, Math.min(decision.to, decision.from + FOLLOW_READ_MAX));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Sends [from, to) of the open file as APPENDs; what could not be read (it got shorter) waits for the next poll. */
  private sendGrowth(fd: number, file: Tracked, now: SourceStat, from: number, to: number): void {
    for (let offset = from; offset < to; ) {
      const data = readAt(fd, offset, Math.min(MAX_APPEND_BYTES, to - offset));
      if (data.length === 0) return;
      const hash = this.sink.hash(data);
      this.sink.append(file.fileId, offset, now.mtimeNs, hash, data);
      file.state = advance(file.state, now, { offset, length: data.length, hash });
      offset += data.length;
    }
    // Only what was read is sent: a file that grows on gets its next bytes at the next poll.
    if (to < now.size) file.state = { ...file.state, mtimeNs: -1n };
  }

  /** The file goes again whole (a delta against what the receiver holds), under a new file_id. */
  private resync(key: string, entry: FileEntry, reason: ResyncReason): void {
    this.tracked.delete(key);
    const now = statOf(entry.source);
    if (now === undefined) {
      // Gone as well: a walk that finds it again announces it as new.
      this.known.delete(key);
      return this.sink.log(`follow: ${showName(entry.source)} is gone`);
    }
    this.sink.notice(RESYNC_EVENT[reason], entry.path);
    // Not a spread: a walked entry makes its paths when asked (walk.ts), they are no fields of its own.
    const { path, source, perm, ids } = entry;
    this.sink.announceMore([{ kind: 'file', path, source, perm, ids, size: now.size, mtimeNs: now.mtimeNs }], true);
  }

  /** Walks the sources again: what it finds that was never announced is announced now. */
  private scan(): void {
    let found: FollowedWalk;
    try {
      found = this.rewalk();
    } catch (err) {
      return this.sink.log(`follow: walking the sources again failed: ${(err as Error).message}`);
    }
    const fresh = this.freshEntries(found.walk);
    if (fresh.length > 0) this.sink.announceMore(fresh, false);
  }

  private freshEntries(walk: WalkResult): Entry[] {
    const fresh: Entry[] = [];
    for (const entry of walk.entries) {
      const key = entry.path.toString('latin1');
      if (this.known.has(key)) continue;
      this.known.add(key);
      fresh.push(entry);
    }
    return fresh;
  }
}
