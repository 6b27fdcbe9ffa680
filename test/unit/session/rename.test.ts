/**
 * RENAME on the control connection (PROTOCOL.md §7.9): between MODE and a PUSH, only with the
 * RENAME feature, at most MAX_RENAMES; the server hands them to its owner with the request, in
 * order, and refuses them without the feature, before a PULL, or too many.
 */
import { wireFromCode } from '../../../src/errors';
import { Feature, MAX_RENAMES, ModeFlag, PacketType } from '../../../src/protocol/constants';
import type { Message, ParamsMessage, RenameMessage } from '../../../src/protocol/messages';
import type { RequestAction } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { controlHandshake, Pump } from './pump';

const plain = makeOffer({ encrypt: false });
const WITH_RENAME: ParamsMessage = { ...plain, features: plain.features | Feature.RENAME };
const rename = (from: string, to: string): RenameMessage => ({ type: PacketType.RENAME, from: Buffer.from(from), to: Buffer.from(to) });

const handshake = (renames: RenameMessage[], offer: ParamsMessage, request: Message): Promise<Pump> =>
  controlHandshake({ offer, mode: { type: PacketType.MODE, flags: ModeFlag.RECURSIVE }, renames, request });

const PUSH: Message = { type: PacketType.PUSH, path: Buffer.from('/srv/dst') };

test('the server hands the renames to its owner with the PUSH, in order', async () => {
  const pump = await handshake([rename('src/a', 'src/b'), rename('src/d', 'src/e/d')], WITH_RENAME, PUSH);
  const [request] = pump.actionsOf('server', 'request') as RequestAction[];
  expect(request!.renames!.map((r) => `${r.from} -> ${r.to}`)).toEqual(['src/a -> src/b', 'src/d -> src/e/d']);
});

test('a PUSH without RENAME has no renames', async () => {
  const pump = await handshake([], WITH_RENAME, PUSH);
  expect((pump.actionsOf('server', 'request')[0] as RequestAction).renames).toBeUndefined();
});

test.each([
  ['in a session without RENAME', [rename('src/a', 'src/b')], plain, PUSH, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['before a PULL', [rename('src/a', 'src/b')], WITH_RENAME, { type: PacketType.PULL, paths: [Buffer.from('/srv/src')] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['beyond the most a session takes', Array.from({ length: MAX_RENAMES + 1 }, (_, i) => rename(`src/a${i}`, `src/b${i}`)), WITH_RENAME, PUSH, 'FCP_ERR_BAD_FIELD'],
] as [string, RenameMessage[], ParamsMessage, Message, string][])('RENAME %s is refused', async (_name, renames, offer, request, code) => {
  const pump = await handshake(renames, offer, request);
  expect(pump.server.failure?.code).toBe(code);
  expect(pump.server.sent.at(-1)).toMatchObject({ type: PacketType.ERROR, code: wireFromCode(code as never) });
  expect(pump.actionsOf('server', 'request')).toEqual([]);
});
