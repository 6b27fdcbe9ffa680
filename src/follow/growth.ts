/**
 * What a followed file did since it was last sent (PROTOCOL.md §7.10), decided from a stat and,
 * when the stat alone cannot tell, from a few spans of the file hashed again. Pure: the caller
 * stats, reads and hashes; these functions only decide.
 *
 * Why a few spans suffice: re-hashing everything sent on every append would cost as much as the
 * file (a 100 GB run on each poll). What an appending writer cannot do without showing it in the
 * stat is caught by the stat: a truncation (the size shrinks), a replacement (rename over it, or
 * delete and create: a new inode). What is left is a rewrite in place that ends no shorter than
 * before (a truncation the file outgrew again before the poll is one); the common ones (a program rewriting the file from its start, or redoing its last
 * record) change its first or its last sent bytes, which are checked: the first span sent and
 * the last one. A rewrite of only the middle of a file that keeps both ends is not detected.
 */

/** A range of the file as it was sent, and the xxh64 of its bytes. */
export interface Span {
  offset: number;
  length: number;
  hash: bigint;
}

/** What the receiver holds of a file, and the source's identity when it was read. */
export interface Followed {
  /** Bytes sent: the receiver's file is this long. */
  size: number;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** The first span sent ([0, length)), and the last one (ending at size); none for an empty file. */
  head: Span | undefined;
  tail: Span | undefined;
}

/** A stat of the source now. */
export interface SourceStat {
  size: number;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** Why a followed file is sent again whole (as a delta against what the receiver holds). */
export type ResyncReason = 'truncated' | 'rewritten' | 'replaced';

/** What a stat says: nothing new, go and check the spans, or send it again at once. */
export type Observation =
  | { kind: 'unchanged' }
  | { kind: 'gone' }
  | { kind: 'check'; spans: Span[] }
  | { kind: 'resync'; reason: ResyncReason };

/** What to do once the spans were hashed again. */
export type Decision =
  | { kind: 'unchanged' }
  | { kind: 'append'; from: number; to: number }
  | { kind: 'resync'; reason: ResyncReason };

/** The spans to hash again before anything new of the file is trusted: both ends of what was sent. */
function sentSpans(prev: Followed): Span[] {
  const spans: Span[] = [];
  if (prev.head) spans.push(prev.head);
  if (prev.tail && (prev.tail.offset !== prev.head?.offset || prev.tail.length !== prev.head.length)) spans.push(prev.tail);
  return spans;
}

/** First look: the stat of the source (undefined: it is not there). */
export function observe(prev: Followed, now: SourceStat | undefined): Observation {
  if (now === undefined) return { kind: 'gone' };
  if (now.ino !== prev.ino) return { kind: 'resync', reason: 'replaced' };
  if (now.size < prev.size) return { kind: 'resync', reason: 'truncated' };
  if (now.size === prev.size && now.mtimeNs === prev.mtimeNs && now.ctimeNs === prev.ctimeNs) return { kind: 'unchanged' };
  return { kind: 'check', spans: sentSpans(prev) };
}

/**
 * After a `check`: `spansMatch` says whether every span hashed as it was sent. Bytes past what was
 * sent are appended; a file of the same size with new times and intact spans was touched, or
 * written with the same bytes: nothing to send.
 */
export function conclude(prev: Followed, now: SourceStat, spansMatch: boolean): Decision {
  if (!spansMatch) return { kind: 'resync', reason: 'rewritten' };
  if (now.size > prev.size) return { kind: 'append', from: prev.size, to: now.size };
  return { kind: 'unchanged' };
}

/**
 * What the receiver holds once bytes [sent.offset, sent.offset + sent.length) were sent, `sent`
 * being the last span of them; `now` the stat they were read under.
 */
export function advance(prev: Followed, now: SourceStat, sent: Span): Followed {
  const size = sent.offset + sent.length;
  return { size, ino: now.ino, mtimeNs: now.mtimeNs, ctimeNs: now.ctimeNs, head: prev.head ?? (sent.offset === 0 ? sent : undefined), tail: sent };
}

/** The same file with times that changed and bytes that did not (a touch): nothing to send again next time. */
export function retime(prev: Followed, now: SourceStat): Followed {
  return { ...prev, mtimeNs: now.mtimeNs, ctimeNs: now.ctimeNs };
}
