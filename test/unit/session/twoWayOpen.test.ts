/**
 * TWO_WAY OPEN on the control connection (PROTOCOL.md §7.12): once, between MODE and a PULL of a
 * two-way side's directory, only with the feature; the server hands the pair's id to its owner
 * with the request and refuses it misplaced; a client refuses a server that did not accept TWO_WAY.
 */
import type { FcpErrorCode } from '../../../src/errors';
import { Feature, PacketType, TwoWayOp } from '../../../src/protocol/constants';
import type { Message, ParamsMessage, TwoWayMessage } from '../../../src/protocol/messages';
import type { RequestAction } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { twoWayMessage } from '../../../src/watch/sideWire';
import { answerWithout, expectRequestRefused, controlHandshake, Pump, PumpOptions } from './pump';

const offered = makeOffer({ encrypt: false, connections: 1 });
const OFFER = { ...offered, features: offered.features | Feature.TWO_WAY };
const PAIR = Buffer.alloc(32, 0xab);
const OPEN: TwoWayMessage = { ...twoWayMessage(TwoWayOp.OPEN), digest: PAIR };
const PULL: Message = { type: PacketType.PULL, paths: [Buffer.from('/srv/side')] };
const handshake = (twoWay: TwoWayMessage, options: PumpOptions = {}, offer: ParamsMessage = OFFER, request: Message = PULL): Promise<Pump> =>
  controlHandshake({ offer, mode: { type: PacketType.MODE, flags: 0 }, twoWay, request }, options);

test('OPEN reaches the owner with its PULL: the directory and the pair id', async () => {
  const pump = await handshake(OPEN);
  const [request] = pump.actionsOf('server', 'request') as RequestAction[];
  expect(request).toMatchObject({ kind: 'pull', paths: [Buffer.from('/srv/side')], twoWayPair: PAIR });
});

test.each([
  ['in a session without TWO_WAY', OPEN, makeOffer({ encrypt: false }), PULL, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['before a PUSH', OPEN, OFFER, { type: PacketType.PUSH, path: Buffer.from('/dst') }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['as another op than OPEN', { ...OPEN, op: TwoWayOp.LIST }, OFFER, PULL, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['with a path', { ...OPEN, path: Buffer.from('../etc') }, OFFER, PULL, 'FCP_ERR_BAD_FIELD'],
] as [string, TwoWayMessage, ParamsMessage, Message, FcpErrorCode][])('TWO_WAY %s is refused', async (_name, message, offer, request, code) => {
  const pump = await handshake(message, {}, offer, request);
  expectRequestRefused(pump, code);
});

test('a client opening a side refuses a server that did not accept TWO_WAY', async () => {
  const pump = await handshake(OPEN, answerWithout(Feature.TWO_WAY));
  expect(pump.client.failure?.code).toBe('FCP_ERR_PARAMS');
  expect(pump.client.failure?.message).toContain('--two-way');
});
