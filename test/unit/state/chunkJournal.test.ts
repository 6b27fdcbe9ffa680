/** The resume journal's format (PROTOCOL.md §7.5): round trip, torn tails, corruption never trusted. */
import fc from 'fast-check';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import {
  encodeHeader,
  encodeRecord,
  headerCheck,
  JOURNAL_HEADER_SIZE,
  JOURNAL_RECORD_SIZE,
  JournalHeader,
  journalMatches,
  parseJournal,
} from '../../../src/state/chunkJournal';
import { numRuns } from '../protocol/fuzzRuns';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

const header = fc.record({
  size: fc.integer({ min: 0, max: 2 ** 40 }),
  mtimeNs: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  chunkSize: fc.integer({ min: 16, max: 26 }).map((bits) => 2 ** bits),
});
/** A header and records for chunks of its file (indexes distinct, so each record is the truth for its chunk). */
const journal = header.chain((h) => {
  const chunks = Math.ceil(h.size / h.chunkSize);
  const records = chunks === 0
    ? fc.constant([] as [number, bigint][])
    : fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: chunks - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), { selector: ([index]) => index, maxLength: 40 });
  return fc.tuple(fc.constant(h), records);
});

function encode(h: JournalHeader, records: readonly [number, bigint][]): Buffer {
  const head = encodeHeader(xxh, h);
  return Buffer.concat([head, ...records.map(([index, hash]) => encodeRecord(xxh, headerCheck(head), index, hash))]);
}

/** Every chunk the parse trusts is one that was written, with the hash it was written with. */
function trustsOnlyTruth(parsed: Map<number, bigint>, records: readonly [number, bigint][]): void {
  const truth = new Map(records);
  for (const [index, hash] of parsed) expect(truth.get(index)).toBe(hash);
}

test('a journal parses back to its header and every record', () => {
  fc.assert(
    fc.property(journal, ([h, records]) => {
      const parsed = parseJournal(xxh, encode(h, records));
      expect(parsed?.header).toEqual(h);
      expect(parsed?.chunks).toEqual(new Map(records));
      expect(journalMatches(parsed!.header, h)).toBe(true);
    }),
    { numRuns: numRuns(200) },
  );
});

test('cut at any byte: no header means no journal, otherwise exactly the whole records before the cut', () => {
  fc.assert(
    fc.property(journal, fc.nat(), ([h, records], cutSeed) => {
      const bytes = encode(h, records);
      const cut = cutSeed % (bytes.length + 1);
      const parsed = parseJournal(xxh, bytes.subarray(0, cut));
      if (cut < JOURNAL_HEADER_SIZE) return expect(parsed).toBeUndefined();
      const whole = Math.floor((cut - JOURNAL_HEADER_SIZE) / JOURNAL_RECORD_SIZE);
      expect(parsed?.chunks).toEqual(new Map(records.slice(0, whole)));
    }),
    { numRuns: numRuns(300) },
  );
});

test('corrupted bytes never yield a chunk that was not written with that hash', () => {
  fc.assert(
    fc.property(journal, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), ([h, records], flips) => {
      const bytes = encode(h, records);
      for (const [at, mask] of flips) bytes[at % bytes.length] ^= mask;
      const parsed = parseJournal(xxh, bytes);
      if (parsed === undefined) return;
      expect(parsed.header).toEqual(h);
      trustsOnlyTruth(parsed.chunks, records);
    }),
    { numRuns: numRuns(300) },
  );
});

test('a record written under another header is not trusted', () => {
  const mine = encodeHeader(xxh, { size: 4 << 20, mtimeNs: 1n, chunkSize: 1 << 20 });
  const theirs = encodeHeader(xxh, { size: 4 << 20, mtimeNs: 2n, chunkSize: 1 << 20 });
  const bytes = Buffer.concat([mine, encodeRecord(xxh, headerCheck(theirs), 1, 7n), encodeRecord(xxh, headerCheck(mine), 2, 9n)]);
  expect(parseJournal(xxh, bytes)?.chunks).toEqual(new Map([[2, 9n]]));
});

test('a record past the last chunk is skipped; a header with a chunk size that is not a power of two is refused', () => {
  const h = { size: (2 << 20) + 1, mtimeNs: 5n, chunkSize: 1 << 20 };
  const head = encodeHeader(xxh, h);
  const bytes = Buffer.concat([head, encodeRecord(xxh, headerCheck(head), 2, 1n), encodeRecord(xxh, headerCheck(head), 3, 2n)]);
  expect(parseJournal(xxh, bytes)?.chunks).toEqual(new Map([[2, 1n]]));
  expect(parseJournal(xxh, encodeHeader(xxh, { ...h, chunkSize: 3 << 18 }))).toBeUndefined();
});

test('a journal for another size, mtime or chunk size does not match', () => {
  const h = { size: 10, mtimeNs: 20n, chunkSize: 1 << 20 };
  expect(journalMatches(h, { ...h, size: 11 })).toBe(false);
  expect(journalMatches(h, { ...h, mtimeNs: 21n })).toBe(false);
  expect(journalMatches(h, { ...h, chunkSize: 1 << 21 })).toBe(false);
});
