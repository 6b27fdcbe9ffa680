/**
 * FILTER_RULES on the control connection (PROTOCOL.md §7.6): between MODE and the request, once,
 * only with FILTERS; the server hands the filter to its owner with the request and refuses a
 * malformed or repeated one; a client refuses a server that did not accept FILTERS (an fcpd that
 * would walk everything).
 */
import type { FcpErrorCode } from '../../../src/errors';
import { Feature, ModeFlag, PacketType } from '../../../src/protocol/constants';
import type { FilterRulesMessage, ParamsMessage } from '../../../src/protocol/messages';
import type { RequestAction } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { PathFilter } from '../../../src/sync/filter';
import { filterRulesMessage } from '../../../src/sync/filterWire';
import { answerWithout, expectRequestRefused, controlHandshake, duplicateFrame, Pump, PumpOptions } from './pump';

const SOURCES = [Buffer.from('/srv/data')];
const FILTER = new PathFilter([{ kind: 'include', pattern: Buffer.from('keep/***') }, { kind: 'exclude', pattern: Buffer.from('*.tmp') }], 3);
const RULES = filterRulesMessage(FILTER);
// Plain, so that a frame can be repeated on the wire as it was sent.
const OFFER = makeOffer({ encrypt: false, filters: true });

const handshake = (filterRules: FilterRulesMessage | undefined, options: PumpOptions = {}, offer?: ParamsMessage): Promise<Pump> =>
  controlHandshake(
    { offer: offer ?? OFFER, mode: { type: PacketType.MODE, flags: ModeFlag.RECURSIVE }, ...(filterRules ? { filterRules } : {}), request: { type: PacketType.PULL, paths: SOURCES } },
    options,
  );

test('the server hands the filter to its owner with the request', async () => {
  const pump = await handshake(RULES);
  const [request] = pump.actionsOf('server', 'request') as RequestAction[];
  expect(request).toMatchObject({ kind: 'pull', paths: SOURCES });
  expect(request!.filter?.maxDepth).toBe(3);
  expect(request!.filter?.rules).toEqual(FILTER.rules);
  expect(request!.filter?.excludes('src/a.tmp', false)).toBe(true);
  expect(request!.filter?.excludes('src/keep/a.tmp', false)).toBe(false);
});

test('a request without FILTER_RULES has no filter', async () => {
  const pump = await handshake(undefined);
  expect((pump.actionsOf('server', 'request')[0] as RequestAction).filter).toBeUndefined();
});

test.each([
  ['in a session without FILTERS', RULES, {}, makeOffer({ encrypt: false }), 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['twice', RULES, { tamper: duplicateFrame('client', PacketType.FILTER_RULES) }, OFFER, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['with a rule that is neither - nor +', { ...RULES, rules: Buffer.from('* x') }, {}, OFFER, 'FCP_ERR_BAD_FIELD'],
  ['with an empty pattern', { ...RULES, rules: Buffer.from('- a\0- ') }, {}, OFFER, 'FCP_ERR_BAD_FIELD'],
] as [string, FilterRulesMessage, PumpOptions, ParamsMessage, FcpErrorCode][])('FILTER_RULES %s is refused', async (_name, rules, options, offer, code) => {
  const pump = await handshake(rules, options, offer);
  expectRequestRefused(pump, code);
});

test('a client with filters refuses a server that did not accept FILTERS, before that server could send everything', async () => {
  const pump = await handshake(RULES, answerWithout(Feature.FILTERS));
  expect(pump.client.failure?.code).toBe('FCP_ERR_PARAMS');
  expect(pump.client.failure?.message).toContain('--exclude');
  expect(pump.actionsOf('client', 'sessionCreated')).toEqual([]);
});
