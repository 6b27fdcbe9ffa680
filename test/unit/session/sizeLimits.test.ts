/**
 * SIZE_LIMITS on the control connection (PROTOCOL.md §7.8, more feature SIZE_LIMITS): once, after
 * SYNC, only where the session agreed the bit; the server hands the limits to its owner with the
 * request; a client refuses a server that did not agree the bit (one that would copy every size).
 */
import type { FcpErrorCode } from '../../../src/errors';
import { MAX_FILE_SIZE, ModeFlag, MoreFeature, PacketType } from '../../../src/protocol/constants';
import type { ParamsMessage, SizeLimitsMessage } from '../../../src/protocol/messages';
import type { RequestAction } from '../../../src/session/connection';
import { makeOffer, transferOffer } from '../../../src/session/params';
import { NO_SYNC, syncMessage, syncOptionsOf } from '../../../src/sync/options';
import { controlHandshake, duplicateFrame, expectRequestRefused, Pump, PumpOptions } from './pump';

const LIMITS: SizeLimitsMessage = { type: PacketType.SIZE_LIMITS, minSize: 2048, maxSize: 4096 };
const SYNC = syncMessage(NO_SYNC);
// Plain, so that a frame can be repeated on the wire as it was sent.
const OFFER = transferOffer(makeOffer({ encrypt: false, sync: true }), { pull: true, intoEmpty: false, removesSources: false, sizeLimits: true });

const handshake = (parts: { sync?: boolean; sizeLimits?: SizeLimitsMessage }, options: PumpOptions = {}, offer: ParamsMessage = OFFER): Promise<Pump> =>
  controlHandshake(
    {
      offer,
      mode: { type: PacketType.MODE, flags: ModeFlag.RECURSIVE },
      ...(parts.sync === false ? {} : { sync: SYNC }),
      ...(parts.sizeLimits ? { sizeLimits: parts.sizeLimits } : {}),
      request: { type: PacketType.PULL, paths: [Buffer.from('/srv/data')] },
    },
    options,
  );

test('the server hands the limits to its owner with the request, and they read as the options', async () => {
  const pump = await handshake({ sizeLimits: LIMITS });
  const [request] = pump.actionsOf('server', 'request') as RequestAction[];
  expect(request!.sizeLimits).toEqual(LIMITS);
  expect(syncOptionsOf(request!.sync!, request!.sizeLimits)).toMatchObject({ minSize: 2048, maxSize: 4096 });
  const without = syncOptionsOf(request!.sync!);
  expect([without.minSize, without.maxSize]).toEqual([undefined, undefined]);
  // The wire's "none" (0, the largest file size) reads as no limit.
  const none = syncOptionsOf(request!.sync!, { type: PacketType.SIZE_LIMITS, minSize: 0, maxSize: MAX_FILE_SIZE });
  expect([none.minSize, none.maxSize]).toEqual([undefined, undefined]);
});

test.each([
  ['without SYNC before it', { sync: false, sizeLimits: LIMITS }, {}, OFFER],
  ['twice', { sizeLimits: LIMITS }, { tamper: duplicateFrame('client', PacketType.SIZE_LIMITS) }, OFFER],
  ['in a session without SIZE_LIMITS', { sizeLimits: LIMITS }, {}, makeOffer({ encrypt: false, sync: true })],
] as [string, { sync?: boolean; sizeLimits?: SizeLimitsMessage }, PumpOptions, ParamsMessage][])('SIZE_LIMITS %s is refused', async (_name, parts, options, offer) => {
  const pump = await handshake(parts, options, offer);
  expectRequestRefused(pump, 'FCP_ERR_UNEXPECTED_MESSAGE' as FcpErrorCode);
});

test('a client with limits refuses a server that did not agree SIZE_LIMITS, before it could copy every size', async () => {
  const withoutBit: PumpOptions = {
    rewrite: (message, from) =>
      from === 'server' && message.type === PacketType.PARAMS ? { ...message, moreFeatures: (message.moreFeatures ?? 0) & ~MoreFeature.SIZE_LIMITS } : message,
  };
  const pump = await handshake({ sizeLimits: LIMITS }, withoutBit);
  expect(pump.client.failure?.code).toBe('FCP_ERR_PARAMS');
  expect(pump.client.failure?.message).toContain('--max-size');
  expect(pump.actionsOf('client', 'sessionCreated')).toEqual([]);
});
