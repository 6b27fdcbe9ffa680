/** Session parameter negotiation (PROTOCOL.md §5.2): the server's answer and the client's check of it. */
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import {
  ChksumCoverage,
  Cipher,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_CONNECTIONS,
  Feature,
  MAX_CHUNK_SIZE,
  MAX_CONNECTIONS,
  MIN_CHUNK_SIZE,
  MIN_CONNECTIONS,
  MoreFeature,
  PacketType,
  ParamsMessage,
  SUPPORTED_FEATURES,
  SUPPORTED_HASH_ALGS,
} from '../../../src/protocol';
import { CHUNKS_PER_CONNECTION } from '../../../src/session/buffering';
import {
  answerOffer,
  checkAnswer,
  describeShape,
  destinationEmptyAgreed,
  directoryStateAgreed,
  makeOffer,
  transferOffer,
  sameInodeAgreed,
  sourceKeptAgreed,
  sourcesRemovedAgreed,
  fileWantAgreed,
  sealedCoverage,
  ServerPolicy,
  SESSION_MEMORY_BUDGET,
  sessionMemory,
} from '../../../src/session/params';
import { u16 } from '../protocol/arbitraries';
import { numRuns } from '../protocol/fuzzRuns';

const chunkSize = fc.integer({ min: 16, max: 26 }).map((e) => 2 ** e);

const validOffer: fc.Arbitrary<ParamsMessage> = fc.record({
  type: fc.constant(PacketType.PARAMS),
  chunkSize,
  connections: fc.integer({ min: 1, max: MAX_CONNECTIONS }),
  // Bits this build does not know are fine as long as one it knows is there.
  hashAlgs: u16.map((h) => h | SUPPORTED_HASH_ALGS),
  cipher: fc.constantFrom(Cipher.NONE, Cipher.AES_256_GCM, Cipher.CHACHA20_POLY1305),
  // Any set of the supported bits (they need not be contiguous).
  features: fc.integer({ min: 0, max: SUPPORTED_FEATURES }).map((bits) => bits & SUPPORTED_FEATURES),
});

/** What an operator may configure: any limits, powers of two or not, in range or not. */
const policy: fc.Arbitrary<ServerPolicy> = fc.record(
  {
    maxChunkSize: fc.oneof(chunkSize, fc.integer({ min: 1, max: 2 * MAX_CHUNK_SIZE })),
    maxConnections: fc.integer({ min: 0, max: 2 * MAX_CONNECTIONS }),
    requireEncryption: fc.boolean(),
  },
  { requiredKeys: [] },
);

const isParamsError = (result: unknown): boolean => result instanceof FcpError && result.code === 'FCP_ERR_PARAMS';

describe('answerOffer', () => {
  it('answers every valid offer with parameters the client accepts, unless policy forbids cipher none', () => {
    fc.assert(
      fc.property(validOffer, policy, (offer, policy) => {
        const answer = answerOffer(offer, policy);
        if (policy.requireEncryption && offer.cipher === Cipher.NONE) {
          expect(isParamsError(answer)).toBe(true);
          return;
        }
        if (answer instanceof FcpError) throw answer;
        expect(checkAnswer(offer, answer)).toBeUndefined();
      }),
      { numRuns: numRuns(1000) },
    );
  });

  it('lowers chunk size and connections to the policy, and no further than it must', () => {
    fc.assert(
      fc.property(validOffer.map((o) => ({ ...o, cipher: Cipher.AES_256_GCM })), policy, (offer, policy) => {
        const answer = answerOffer(offer, policy) as ParamsMessage;
        const chunkLimit = Math.max(MIN_CHUNK_SIZE, Math.min(offer.chunkSize, policy.maxChunkSize ?? Infinity));
        // A power of two: the largest at most the limit.
        expect(answer.chunkSize).toBeLessThanOrEqual(chunkLimit);
        expect(answer.chunkSize * 2).toBeGreaterThan(chunkLimit);
        expect(answer.connections).toBe(Math.min(offer.connections, Math.max(1, policy.maxConnections ?? Infinity)));
        expect(answer.hashAlgs).toBe(SUPPORTED_HASH_ALGS);
      }),
      { numRuns: numRuns(500) },
    );
  });

  /** A valid offer changed by `change`, labelled with why it is wrong for readable counterexamples. */
  const broken = <T>(why: string, extra: fc.Arbitrary<T>, change: (offer: ParamsMessage, extra: T) => Partial<ParamsMessage>) =>
    fc.tuple(validOffer, extra).map(([o, x]): [string, ParamsMessage] => [why, { ...o, ...change(o, x) }]);

  /** A valid offer with exactly one thing wrong with it. */
  const invalidOffer = fc.oneof(
    broken('chunk size not a power of two', fc.nat(), (o, n) => ({ chunkSize: o.chunkSize + 1 + (n % (o.chunkSize - 1)) })),
    broken('chunk size out of range', fc.constantFrom(0, MIN_CHUNK_SIZE / 2, MAX_CHUNK_SIZE * 2, 2 ** 31), (_o, c) => ({ chunkSize: c })),
    broken('connections out of range', fc.constantFrom(0, MAX_CONNECTIONS + 1, 0xffff), (_o, c) => ({ connections: c })),
    broken('unknown cipher', fc.integer({ min: 3, max: 0xff }), (_o, c) => ({ cipher: c })),
    broken('unknown framing feature', fc.integer({ min: 24, max: 31 }), (o, bit) => ({ features: (o.features | 2 ** bit) >>> 0 })),
    broken('no common hash', fc.constant(0), (o) => ({ hashAlgs: o.hashAlgs & ~SUPPORTED_HASH_ALGS })),
  );

  it('refuses every invalid offer with FCP_ERR_PARAMS', () => {
    fc.assert(
      fc.property(invalidOffer, policy, ([_why, offer], policy) => {
        const answer = answerOffer(offer, policy);
        expect(isParamsError(answer)).toBe(true);
      }),
      { numRuns: numRuns(1000) },
    );
  });

  it('says why a server requiring encryption refuses', () => {
    const answer = answerOffer(makeOffer({ encrypt: false }), { requireEncryption: true });
    expect(answer).toBeInstanceOf(FcpError);
    expect((answer as FcpError).message).toMatch(/requires encryption/);
  });
});

describe('answerOffer under a memory budget', () => {
  const largest = sessionMemory({ chunkSize: MAX_CHUNK_SIZE, connections: MAX_CONNECTIONS });
  const smallest = sessionMemory({ chunkSize: MIN_CHUNK_SIZE, connections: MIN_CONNECTIONS });
  /** Any budget, with extra weight on the edges: exactly what some shape needs, one byte less or more. */
  const budget = fc.oneof(
    fc.integer({ min: 0, max: 2 * largest }),
    fc
      .tuple(chunkSize, fc.integer({ min: 1, max: MAX_CONNECTIONS }), fc.integer({ min: -1, max: 1 }))
      .map(([c, n, off]) => sessionMemory({ chunkSize: c, connections: n }) + off),
  );
  const sealedOffer = validOffer.map((o) => ({ ...o, cipher: Cipher.AES_256_GCM }));
  const limits = fc.record(
    { maxChunkSize: fc.oneof(chunkSize, fc.integer({ min: 1, max: 2 * MAX_CHUNK_SIZE })), maxConnections: fc.integer({ min: 0, max: 2 * MAX_CONNECTIONS }) },
    { requiredKeys: [] },
  );
  const fitsOrRefused = (offer: ParamsMessage, policy: ServerPolicy, memoryBudget: number): ParamsMessage | FcpError =>
    answerOffer(offer, { ...policy, memoryBudget });

  it('refuses with FCP_ERR_PARAMS exactly when one connection of the smallest chunks does not fit, and says why', () => {
    fc.assert(
      fc.property(sealedOffer, limits, budget, (offer, policy, memoryBudget) => {
        const answer = fitsOrRefused(offer, policy, memoryBudget);
        expect(answer instanceof FcpError).toBe(memoryBudget < smallest);
        if (answer instanceof FcpError) {
          expect(answer.code).toBe('FCP_ERR_PARAMS');
          expect(answer.message).toMatch(/buffer memory left for a new session/);
        }
      }),
      { numRuns: numRuns(1000) },
    );
  });

  /** Checks every answer that was not refused, next to the answer without a memory budget. */
  const everyAccepted = (check: (offer: ParamsMessage, accepted: ParamsMessage, unbounded: ParamsMessage, memoryBudget: number) => void): void =>
    fc.assert(
      fc.property(sealedOffer, limits, budget, (offer, policy, memoryBudget) => {
        const answer = fitsOrRefused(offer, policy, memoryBudget);
        fc.pre(!(answer instanceof FcpError));
        check(offer, answer as ParamsMessage, answerOffer(offer, policy) as ParamsMessage, memoryBudget);
      }),
      { numRuns: numRuns(1000) },
    );

  it('answers within the offer, the policy and the protocol ranges, its buffers within the budget', () => {
    everyAccepted((offer, accepted, unbounded, memoryBudget) => {
      expect(checkAnswer(offer, accepted)).toBeUndefined();
      expect(accepted.chunkSize).toBeLessThanOrEqual(unbounded.chunkSize);
      expect(accepted.connections).toBeLessThanOrEqual(unbounded.connections);
      expect(sessionMemory(accepted)).toBeLessThanOrEqual(memoryBudget);
    });
  });

  it('is maximal: lowers chunk size first, and neither a doubled chunk nor one more connection would fit', () => {
    everyAccepted((_offer, accepted, unbounded, memoryBudget) => {
      const fits = (shape: { chunkSize: number; connections: number }): boolean => sessionMemory(shape) <= memoryBudget;
      if (accepted.chunkSize < unbounded.chunkSize) expect(fits({ ...accepted, chunkSize: accepted.chunkSize * 2 })).toBe(false);
      if (accepted.connections < unbounded.connections) {
        expect(accepted.chunkSize).toBe(MIN_CHUNK_SIZE);
        expect(fits({ ...accepted, connections: accepted.connections + 1 })).toBe(false);
      }
    });
  });

  it('gives -n 64 --chunk-size 64M 1 MiB chunks under the default session budget (4 chunks a connection)', () => {
    const offer = makeOffer({ encrypt: true, connections: MAX_CONNECTIONS, chunkSize: MAX_CHUNK_SIZE });
    const answer = answerOffer(offer, { memoryBudget: SESSION_MEMORY_BUDGET }) as ParamsMessage;
    expect(CHUNKS_PER_CONNECTION).toBe(4);
    expect(describeShape(answer)).toBe('64 connections of 1 MiB chunks');
    expect(sessionMemory(answer)).toBe(SESSION_MEMORY_BUDGET);
  });
});

describe('checkAnswer', () => {
  /** Each rule of the right-hand column of §5.2, broken on its own. */
  const breakers: [string, (offer: ParamsMessage, answer: ParamsMessage) => Partial<ParamsMessage>][] = [
    ['chunk size above the offer', (o) => ({ chunkSize: o.chunkSize * 2 })],
    ['chunk size not a power of two', (_o, a) => ({ chunkSize: a.chunkSize + 1 })],
    ['chunk size below the minimum', () => ({ chunkSize: MIN_CHUNK_SIZE / 2 })],
    ['more connections than offered', (o) => ({ connections: o.connections + 1 })],
    ['no connection', () => ({ connections: 0 })],
    ['no hash', () => ({ hashAlgs: 0 })],
    ['two hashes', (o) => ({ hashAlgs: o.hashAlgs | 0x8000 | SUPPORTED_HASH_ALGS })],
    ['another cipher', (o) => ({ cipher: o.cipher ^ 1 })],
    ['other framing features', (o) => ({ features: o.features ^ Feature.HEADER_CHKSUM })],
    ['an optional feature not offered', (o) => ({ features: (o.features | absentOptionalBit(o.features)) >>> 0 })],
  ];

  /** The lowest optional feature bit (3..15) the offer lacks: bits this build knows nothing of are always among them. */
  function absentOptionalBit(features: number): number {
    let bit = 0x8;
    while (features & bit) bit <<= 1;
    return bit;
  }

  it.each(breakers)('refuses an answer with %s (FCP_ERR_PARAMS)', (_why, breaker) => {
    fc.assert(
      fc.property(validOffer, policy, (offer, policy) => {
        const answer = answerOffer({ ...offer, cipher: Cipher.AES_256_GCM }, policy) as ParamsMessage;
        const offered = { ...offer, cipher: Cipher.AES_256_GCM };
        expect(isParamsError(checkAnswer(offered, { ...answer, ...breaker(offered, answer) }))).toBe(true);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('answers optional features (bits 3..23) as the subset it supports, and the client takes any subset', () => {
    fc.assert(
      // Every optional bit is one this build supports now: the server answers what it supports of the
      // offer, and a smaller answer (an older server's) is taken too.
      fc.property(validOffer, fc.integer({ min: 3, max: 23 }), (offer, bit) => {
        const offered = { ...offer, features: (offer.features | Feature.QUICK_CHECK | Feature.RESUME | 2 ** bit) >>> 0 };
        const answer = answerOffer(offered) as ParamsMessage;
        expect(answer.features).toBe((offered.features & SUPPORTED_FEATURES) >>> 0);
        expect(checkAnswer(offered, answer)).toBeUndefined();
        const smaller = { ...answer, features: (answer.features & ~(2 ** bit)) >>> 0 };
        expect(checkAnswer(offered, smaller)).toBeUndefined();
        const older = { ...answer, features: answer.features & ~(Feature.QUICK_CHECK | Feature.RESUME) };
        expect(checkAnswer(offered, older)).toBeUndefined();
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('refuses a hash the client did not offer', () => {
    const offer = makeOffer({ encrypt: true });
    expect(checkAnswer(offer, { ...offer, hashAlgs: 0x2 })?.code).toBe('FCP_ERR_PARAMS');
  });
});

describe('makeOffer and sealedCoverage', () => {
  it.each([
    [true, Cipher.AES_256_GCM, Feature.HEADER_CHKSUM | Feature.BATCH | Feature.INLINE | Feature.DEST_STATE | Feature.QUICK_CHECK | Feature.RESUME | Feature.RECONNECT | Feature.SPARSE | Feature.STREAM, ChksumCoverage.HEADER],
    [false, Cipher.NONE, Feature.BATCH | Feature.INLINE | Feature.DEST_STATE | Feature.QUICK_CHECK | Feature.RESUME | Feature.RECONNECT | Feature.SPARSE | Feature.STREAM, ChksumCoverage.FULL],
  ])('encrypt=%s offers cipher %i, features %i, sealed coverage %i', (encrypt, cipher, features, coverage) => {
    const offer = makeOffer({ encrypt });
    expect(offer).toEqual({
      type: PacketType.PARAMS,
      chunkSize: DEFAULT_CHUNK_SIZE,
      connections: DEFAULT_CONNECTIONS,
      hashAlgs: SUPPORTED_HASH_ALGS,
      cipher,
      features,
    });
    expect(sealedCoverage(offer)).toBe(coverage);
  });
});

describe('more features DIR_STATE (every transfer), DEST_EMPTY (a pull into an empty destination), FILE_WANT (with INLINE) and SOURCES_REMOVED (a pull that removes its sources)', () => {
  const offer = makeOffer({ encrypt: true });
  const WANT = MoreFeature.FILE_WANT;
  const intoEmpty = { pull: true, intoEmpty: true, removesSources: false };
  const intoHolding = { pull: true, intoEmpty: false, removesSources: false };
  test('DIR_STATE offered with DEST_STATE; DEST_EMPTY only where the destination holds nothing too; FILE_WANT with INLINE', () => {
    expect(transferOffer(offer, intoHolding).moreFeatures).toBe(MoreFeature.DIR_STATE | WANT);
    expect(transferOffer(offer, intoEmpty).moreFeatures).toBe(MoreFeature.DIR_STATE | MoreFeature.DEST_EMPTY | WANT);
    const withoutDestState = { ...offer, features: offer.features & ~Feature.DEST_STATE };
    expect(transferOffer(withoutDestState, intoEmpty).moreFeatures).toBe(WANT);
    const withoutEither = { ...withoutDestState, features: withoutDestState.features & ~Feature.INLINE };
    expect(transferOffer(withoutEither, intoEmpty)).toBe(withoutEither);
    expect(transferOffer({ ...offer, moreFeatures: MoreFeature.TWO_WAY_NARROW }, intoEmpty).moreFeatures).toBe(MoreFeature.TWO_WAY_NARROW | MoreFeature.DIR_STATE | MoreFeature.DEST_EMPTY | WANT);
  });
  test('answered by this build, and agreed only together with DEST_STATE (FILE_WANT with INLINE)', () => {
    const answer = answerOffer(transferOffer(offer, intoEmpty)) as ParamsMessage;
    expect(answer.moreFeatures).toBe(MoreFeature.DIR_STATE | MoreFeature.DEST_EMPTY | WANT);
    for (const agreed of [destinationEmptyAgreed, directoryStateAgreed]) {
      expect(agreed(answer)).toBe(true);
      expect(agreed({ ...answer, features: answer.features & ~Feature.DEST_STATE })).toBe(false);
      expect(agreed({ ...answer, moreFeatures: undefined })).toBe(false);
    }
    expect(fileWantAgreed(answer)).toBe(true);
    expect(fileWantAgreed({ ...answer, features: answer.features & ~Feature.INLINE })).toBe(false);
    expect(fileWantAgreed({ ...answer, moreFeatures: MoreFeature.DIR_STATE })).toBe(false);
    expect(directoryStateAgreed(answerOffer(transferOffer(offer, intoHolding)) as ParamsMessage)).toBe(true);
    expect(destinationEmptyAgreed(answerOffer(transferOffer(offer, intoHolding)) as ParamsMessage)).toBe(false);
  });
  test('SOURCES_REMOVED and SOURCE_KEPT offered only by a pull that removes its sources, SAME_INODE by any transfer that does, and answered', () => {
    const SAME = MoreFeature.SAME_INODE;
    const PULLS = MoreFeature.SOURCES_REMOVED | MoreFeature.SOURCE_KEPT;
    expect(transferOffer(offer).moreFeatures).toBe(MoreFeature.DIR_STATE | WANT);
    expect(transferOffer(offer, { pull: false, intoEmpty: false, removesSources: false }).moreFeatures).toBe(MoreFeature.DIR_STATE | WANT);
    expect(transferOffer(offer, { pull: false, intoEmpty: true, removesSources: true }).moreFeatures).toBe(MoreFeature.DIR_STATE | WANT | SAME);
    const removing = transferOffer(offer, { pull: true, intoEmpty: false, removesSources: true });
    expect(removing.moreFeatures).toBe(MoreFeature.DIR_STATE | WANT | PULLS | SAME);
    const answer = answerOffer(removing) as ParamsMessage;
    expect(answer.moreFeatures! & (PULLS | SAME)).toBe(PULLS | SAME);
    expect(sourcesRemovedAgreed(answer)).toBe(true);
    expect(sameInodeAgreed(answer)).toBe(true);
    expect(sourceKeptAgreed(answer)).toBe(true);
    expect(sourcesRemovedAgreed({ ...answer, moreFeatures: undefined })).toBe(false);
    expect(sameInodeAgreed({ ...answer, moreFeatures: undefined })).toBe(false);
    expect(sourceKeptAgreed({ ...answer, moreFeatures: MoreFeature.SOURCES_REMOVED })).toBe(false);
  });
});
