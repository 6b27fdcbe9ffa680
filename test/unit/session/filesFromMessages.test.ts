/**
 * FILES_FROM on the control connection (PROTOCOL.md §7.9): between MODE and a PULL, one or more,
 * only with the feature; the server hands the checked paths to its owner with the request and
 * refuses a hostile or misplaced list; a client refuses a server that did not accept the feature.
 */
import type { FcpErrorCode } from '../../../src/errors';
import { Feature, ModeFlag, PacketType } from '../../../src/protocol/constants';
import type { FilesFromMessage, Message, ParamsMessage } from '../../../src/protocol/messages';
import type { RequestAction } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { filesFromMessages } from '../../../src/sync/filesFrom';
import { answerWithout, expectRequestRefused, controlHandshake, Pump, PumpOptions } from './pump';

const SOURCES = [Buffer.from('/srv/data')];
const OFFER = makeOffer({ encrypt: false, filesFrom: true });
const PATHS = Array.from({ length: 5000 }, (_, i) => Buffer.from(`dir${i % 7}/file-${i}-${'x'.repeat(20)}`));

const PULL: Message = { type: PacketType.PULL, paths: SOURCES };
const handshake = (filesFrom: FilesFromMessage[], options: PumpOptions = {}, offer = OFFER, request: Message = PULL): Promise<Pump> =>
  controlHandshake({ offer, mode: { type: PacketType.MODE, flags: ModeFlag.RECURSIVE | ModeFlag.CONTENTS }, filesFrom, request }, options);

test('a list in several messages reaches the owner whole, with the request', async () => {
  const messages = filesFromMessages(PATHS, true);
  expect(messages.length).toBeGreaterThan(1);
  const pump = await handshake(messages);
  const [request] = pump.actionsOf('server', 'request') as RequestAction[];
  expect(request).toMatchObject({ kind: 'pull', paths: SOURCES, filesFrom: { recursive: true } });
  expect(request!.filesFrom!.paths).toEqual(PATHS);
});

test.each([
  ['in a session without FILES_FROM', filesFromMessages([Buffer.from('a')], false), makeOffer({ encrypt: false }), PULL, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['before a PUSH', filesFromMessages([Buffer.from('a')], false), OFFER, { type: PacketType.PUSH, path: Buffer.from('/dst') }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['with a path leading out', [{ type: PacketType.FILES_FROM, recursive: 0, paths: Buffer.from('a\0b/../../etc') }], OFFER, PULL, 'FCP_ERR_BAD_FIELD'],
  ['with messages disagreeing on recursive', [...filesFromMessages([Buffer.from('a')], false), ...filesFromMessages([Buffer.from('b')], true)], OFFER, PULL, 'FCP_ERR_BAD_FIELD'],
] as [string, FilesFromMessage[], ParamsMessage, Message, FcpErrorCode][])('FILES_FROM %s is refused', async (_name, messages, offer, request, code) => {
  const pump = await handshake(messages, {}, offer, request);
  expectRequestRefused(pump, code);
});

test('a client with a list refuses a server that did not accept FILES_FROM, before it could send everything', async () => {
  const pump = await handshake(filesFromMessages([Buffer.from('a')], false), answerWithout(Feature.FILES_FROM));
  expect(pump.client.failure?.code).toBe('FCP_ERR_PARAMS');
  expect(pump.client.failure?.message).toContain('--files-from');
});
