/**
 * The --follow decision (src/follow/growth.ts): its rules one by one, and a model run in which a
 * file is appended to, truncated, rewritten, replaced and touched in any order between polls, and
 * a receiver that applies only what the decisions say ends every poll equal to the file.
 */
import fc from 'fast-check';
import { advance, conclude, Followed, observe, retime, SourceStat, Span } from '../../../src/follow/growth';

/** FNV-1a, 64 bits: any hash of the bytes serves the decision. */
function hashOf(bytes: readonly number[]): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

const stat = fc.record({
  size: fc.nat({ max: 1000 }),
  ino: fc.bigInt({ min: 1n, max: 4n }),
  mtimeNs: fc.bigInt({ min: 0n, max: 3n }),
  ctimeNs: fc.bigInt({ min: 0n, max: 3n }),
});
const span = fc.record({ offset: fc.nat({ max: 1000 }), length: fc.integer({ min: 1, max: 100 }), hash: fc.bigInt({ min: 0n, max: 5n }) });
/** A tail where the head is is the same bytes sent once, so it has the head's hash (sentSpans checks it once). */
const followed: fc.Arbitrary<Followed> = fc
  .record({
    size: fc.nat({ max: 1000 }),
    ino: fc.bigInt({ min: 1n, max: 4n }),
    mtimeNs: fc.bigInt({ min: -1n, max: 3n }),
    ctimeNs: fc.bigInt({ min: -1n, max: 3n }),
    head: fc.option(span, { nil: undefined }),
    tail: fc.option(span, { nil: undefined }),
  })
  .map(({ head, tail, ...rest }) => ({
    ...rest,
    head,
    tail: tail && head && tail.offset === head.offset && tail.length === head.length ? head : tail,
  }));

describe('observe', () => {
  test('a source that is gone is gone; another inode is a replacement; a shorter file was truncated', () => {
    fc.assert(
      fc.property(followed, stat, (prev, now) => {
        expect(observe(prev, undefined)).toEqual({ kind: 'gone' });
        const seen = observe(prev, now);
        if (now.ino !== prev.ino) expect(seen).toEqual({ kind: 'resync', reason: 'replaced' });
        else if (now.size < prev.size) expect(seen).toEqual({ kind: 'resync', reason: 'truncated' });
        else expect(seen.kind === 'unchanged' || seen.kind === 'check').toBe(true);
      }),
    );
  });

  test('the same size and times are unchanged; anything else on the same inode checks both ends of what was sent', () => {
    fc.assert(
      fc.property(followed, stat, (prev, now) => {
        const same = { ...now, ino: prev.ino, size: Math.max(now.size, prev.size) };
        const seen = observe(prev, same);
        if (same.size === prev.size && same.mtimeNs === prev.mtimeNs && same.ctimeNs === prev.ctimeNs) {
          expect(seen).toEqual({ kind: 'unchanged' });
        } else {
          expect(seen.kind).toBe('check');
          const spans = (seen as { spans: Span[] }).spans;
          for (const end of [prev.head, prev.tail]) if (end) expect(spans).toContainEqual(end);
          expect(spans.length).toBeLessThanOrEqual(2);
        }
      }),
    );
  });
});

describe('conclude', () => {
  test('a span that hashes otherwise is a rewrite; else the bytes past what was sent are appended, and nothing more', () => {
    fc.assert(
      fc.property(followed, stat, fc.boolean(), (prev, now, matches) => {
        const decision = conclude(prev, now, matches);
        if (!matches) expect(decision).toEqual({ kind: 'resync', reason: 'rewritten' });
        else if (now.size > prev.size) expect(decision).toEqual({ kind: 'append', from: prev.size, to: now.size });
        else expect(decision).toEqual({ kind: 'unchanged' });
      }),
    );
  });
});

test('advance: the receiver holds up to the end of the last span sent, which becomes the tail; the head stays', () => {
  fc.assert(
    fc.property(followed, stat, span, (prev, now, sent) => {
      const next = advance(prev, now, sent);
      expect(next.size).toBe(sent.offset + sent.length);
      expect(next.tail).toEqual(sent);
      expect(next.head).toEqual(prev.head ?? (sent.offset === 0 ? sent : undefined));
      expect([next.ino, next.mtimeNs, next.ctimeNs]).toEqual([now.ino, now.mtimeNs, now.ctimeNs]);
      expect(retime(prev, now)).toEqual({ ...prev, mtimeNs: now.mtimeNs, ctimeNs: now.ctimeNs });
    }),
  );
});

// ─── the model ──────────────────────────────────────────────────────────────────────────────

const CHUNK = 4;
const APPEND_MAX = 3;

interface SourceFile {
  bytes: number[];
  ino: bigint;
  time: bigint;
  /** The next byte value an append writes: appended bytes are never seen before, as a log's lines (times, sequence numbers) are not. */
  fresh: number;
}

type Op =
  /**
   * Bytes never written before: a truncation and a regrowth between two polls is a rewrite, and one
   * that rewrites the middle with the same bytes at both sent ends is the documented blind spot.
   */
  | { kind: 'append'; length: number }
  | { kind: 'truncate'; to: number }
  /** Rewritten from its start with other bytes (its first byte differs: a rewrite that keeps both sent ends is the documented blind spot). */
  | { kind: 'rewrite'; bytes: number[] }
  | { kind: 'replace'; bytes: number[] }
  | { kind: 'touch' }
  | { kind: 'poll' };

const bytes = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.integer({ min: 1, max: 12 }).map((length) => ({ kind: 'append' as const, length })),
  fc.nat({ max: 20 }).map((to) => ({ kind: 'truncate' as const, to })),
  bytes.map((b) => ({ kind: 'rewrite' as const, bytes: b })),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }).map((b) => ({ kind: 'replace' as const, bytes: b })),
  fc.constant({ kind: 'touch' as const }),
  fc.constant({ kind: 'poll' as const }),
  fc.constant({ kind: 'poll' as const }),
);

function statNow(file: SourceFile): SourceStat {
  return { size: file.bytes.length, ino: file.ino, mtimeNs: file.time, ctimeNs: file.time };
}

function spanOf(file: SourceFile, offset: number, length: number): Span {
  return { offset, length, hash: hashOf(file.bytes.slice(offset, offset + length)) };
}

/** What a whole send leaves: the receiver's copy, and the chunk spans sent (times unknown: the first poll checks). */
function sendWhole(file: SourceFile): { copy: number[]; state: Followed } {
  const size = file.bytes.length;
  const last = size === 0 ? 0 : Math.floor((size - 1) / CHUNK) * CHUNK;
  return {
    copy: [...file.bytes],
    state: {
      size,
      ino: file.ino,
      mtimeNs: -1n,
      ctimeNs: -1n,
      head: size === 0 ? undefined : spanOf(file, 0, Math.min(CHUNK, size)),
      tail: size === 0 ? undefined : spanOf(file, last, size - last),
    },
  };
}

function apply(file: SourceFile, change: Exclude<Op, { kind: 'poll' }>): void {
  file.time++;
  switch (change.kind) {
    case 'append':
      for (let i = 0; i < change.length; i++) file.bytes.push(file.fresh++);
      return;
    case 'truncate':
      file.bytes.length = Math.min(change.to, file.bytes.length);
      return;
    case 'rewrite': {
      const first = file.bytes.length > 0 ? (file.bytes[0]! + 1) % 4 : change.bytes[0]!;
      const rewritten = [first, ...change.bytes.slice(1)];
      file.bytes.splice(0, rewritten.length, ...rewritten);
      return;
    }
    case 'replace':
      file.bytes = [...change.bytes];
      file.ino++;
      return;
    case 'touch':
      return;
  }
}

test('model: whatever the file does between polls, the receiver equals it after every poll', () => {
  fc.assert(
    fc.property(bytes, fc.array(op, { maxLength: 40 }), (initial, ops) => {
      const file: SourceFile = { bytes: [...initial], ino: 1n, time: 0n, fresh: 4 };
      let { copy, state } = sendWhole(file);
      const poll = (): void => {
        const now = statNow(file);
        const seen = observe(state, now);
        if (seen.kind === 'unchanged') return;
        const decision = seen.kind === 'check' ? conclude(state, now, seen.spans.every((s) => spanOf(file, s.offset, s.length).hash === s.hash)) : seen;
        if (decision.kind === 'resync') {
          ({ copy, state } = sendWhole(file));
          return;
        }
        if (decision.kind !== 'append') {
          state = retime(state, now);
          return;
        }
        expect(decision.from).toBe(copy.length);
        for (let offset = decision.from; offset < decision.to; offset += APPEND_MAX) {
          const sent = spanOf(file, offset, Math.min(APPEND_MAX, decision.to - offset));
          copy.push(...file.bytes.slice(offset, offset + sent.length));
          state = advance(state, now, sent);
        }
      };
      for (const step of ops) {
        if (step.kind === 'poll') {
          poll();
          expect(copy).toEqual(file.bytes);
        } else {
          apply(file, step);
        }
      }
      poll();
      expect(copy).toEqual(file.bytes);
      // A quiet file settles: after one more poll (which checks a file just sent whole), nothing is even read.
      poll();
      expect(copy).toEqual(file.bytes);
      expect(observe(state, statNow(file))).toEqual({ kind: 'unchanged' });
    }),
    { numRuns: 500 },
  );
});
