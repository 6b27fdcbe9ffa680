/**
 * PARAMS.more_features, the second feature word (PROTOCOL.md §5.2): a client offers it in its
 * HELLO (an older server ignores a HELLO's extension but refuses a PARAMS longer than 13 bytes),
 * the server answers the subset it supports appended to its PARAMS, and only to a client whose
 * HELLO offered it (an older client refuses a longer PARAMS). Old peers both ways keep working,
 * with none of the word's features.
 */
import fc from 'fast-check';
import { encodePayload, Message, PacketType } from '../../../src/protocol';
import { MoreFeature, SUPPORTED_MORE_FEATURES } from '../../../src/protocol/constants';
import type { ParamsMessage } from '../../../src/protocol/messages';
import { answerOffer, checkAnswer, makeOffer } from '../../../src/session/params';
import { numRuns } from '../protocol/fuzzRuns';
import { controlHandshake, Pump, PumpOptions } from './pump';

const BASE = makeOffer({ encrypt: true, connections: 1 });
const NEW_OFFER: ParamsMessage = { ...BASE, moreFeatures: MoreFeature.TWO_WAY_NARROW };
const handshake = (offer: ParamsMessage, options: PumpOptions = {}): Promise<Pump> =>
  controlHandshake({ offer, mode: { type: PacketType.MODE, flags: 0 }, request: { type: PacketType.PULL, paths: [Buffer.from('/srv')] } }, options);

/** An older server: its codec drops a HELLO's extension, so it never sees the word. */
const OLD_SERVER: PumpOptions = {
  rewrite: (message: Message, from) => {
    if (from !== 'client' || message.type !== PacketType.HELLO) return message;
    const { moreFeatures: _dropped, ...hello } = message;
    return hello;
  },
};

const sentOf = (pump: Pump, side: 'client' | 'server', type: number): Message[] => pump.endpoint(side).sent.filter((m) => m.type === type);
const authenticatedParams = (pump: Pump, side: 'client' | 'server'): ParamsMessage => pump.actionsOf(side, 'authenticated')[0]!.params;

test('new client and new server: the word goes in the HELLO, the answer carries it, both sides have it', async () => {
  const pump = await handshake(NEW_OFFER);
  expect(pump.client.failure).toBeUndefined();
  expect(sentOf(pump, 'client', PacketType.HELLO)[0]).toMatchObject({ moreFeatures: MoreFeature.TWO_WAY_NARROW });
  // The PARAMS on the wire is the 13 bytes every build reads.
  const offer = sentOf(pump, 'client', PacketType.PARAMS)[0] as ParamsMessage;
  expect(offer.moreFeatures).toBeUndefined();
  expect(encodePayload(offer)).toHaveLength(13);
  const answer = sentOf(pump, 'server', PacketType.PARAMS)[0] as ParamsMessage;
  expect(answer.moreFeatures).toBe(MoreFeature.TWO_WAY_NARROW);
  expect(encodePayload(answer)).toHaveLength(17);
  expect(authenticatedParams(pump, 'client').moreFeatures).toBe(MoreFeature.TWO_WAY_NARROW);
  expect(authenticatedParams(pump, 'server').moreFeatures).toBe(MoreFeature.TWO_WAY_NARROW);
});

test('new client, old server: the answer has no word, the client takes none of its features and authenticates', async () => {
  const pump = await handshake(NEW_OFFER, OLD_SERVER);
  expect(pump.client.failure).toBeUndefined();
  expect(pump.server.failure).toBeUndefined();
  const answer = sentOf(pump, 'server', PacketType.PARAMS)[0] as ParamsMessage;
  expect(encodePayload(answer)).toHaveLength(13);
  expect(authenticatedParams(pump, 'client').moreFeatures ?? 0).toBe(0);
});

test('old client, new server: the answer is the 13-byte PARAMS an old client reads', async () => {
  const pump = await handshake(BASE);
  expect(pump.client.failure).toBeUndefined();
  expect(sentOf(pump, 'client', PacketType.HELLO)[0]).not.toHaveProperty('moreFeatures');
  const answer = sentOf(pump, 'server', PacketType.PARAMS)[0] as ParamsMessage;
  expect(encodePayload(answer)).toHaveLength(13);
  expect(authenticatedParams(pump, 'server').moreFeatures).toBeUndefined();
});

test('a launch-nonce client (no wait for the server HELLO) offers the word the same way', async () => {
  const pump = await controlHandshake({
    offer: NEW_OFFER,
    mode: { type: PacketType.MODE, flags: 0 },
    request: { type: PacketType.PULL, paths: [Buffer.from('/srv')] },
    launchNonce: Buffer.alloc(32, 1),
  });
  expect(pump.client.failure).toBeUndefined();
  expect(authenticatedParams(pump, 'client').moreFeatures).toBe(MoreFeature.TWO_WAY_NARROW);
});

test('a PARAMS offer carrying the word itself is FCP_ERR_PARAMS (it travels in the HELLO)', async () => {
  const pump = await handshake(BASE, { rewrite: (m, from) => (from === 'client' && m.type === PacketType.PARAMS ? { ...m, moreFeatures: 1 } : m) });
  expect(pump.server.failure?.code).toBe('FCP_ERR_PARAMS');
});

test('a client refuses an answer with a word it did not offer, or bits beyond its offer', async () => {
  const extra = await handshake(BASE, { rewrite: (m, from) => (from === 'server' && m.type === PacketType.PARAMS ? { ...m, moreFeatures: 0 } : m) });
  expect(extra.client.failure?.code).toBe('FCP_ERR_PARAMS');
  const beyond = await handshake(NEW_OFFER, { rewrite: (m, from) => (from === 'server' && m.type === PacketType.PARAMS ? { ...m, moreFeatures: 0x3 } : m) });
  expect(beyond.client.failure?.code).toBe('FCP_ERR_PARAMS');
});

test('answerOffer: the word answered is the offered bits this build supports, and the client accepts it', () => {
  fc.assert(
    fc.property(fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }), (more) => {
      const offer: ParamsMessage = more === undefined ? BASE : { ...BASE, moreFeatures: more };
      const answer = answerOffer(offer) as ParamsMessage;
      expect(answer.moreFeatures).toBe(more === undefined ? undefined : (more & SUPPORTED_MORE_FEATURES) >>> 0);
      expect(checkAnswer(offer, answer)).toBeUndefined();
    }),
    { numRuns: numRuns(100) },
  );
});
