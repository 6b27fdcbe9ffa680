/**
 * More feature FILES_OK (PROTOCOL.md §7.4): the sending machine settles each file of a run exactly
 * as it settles that file's FILE_OK, with the same checks and the same errors, and refuses a run
 * no receiver could owe (FCP_ERR_PROTOCOL) before it settles any file of it.
 */
import fc from 'fast-check';
import { DIGEST_SIZE, MIN_CHUNK_SIZE, MoreFeature, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { answerOffer, makeOffer, okRunsAgreed } from '../../../src/session/params';
import { INLINE_WINDOW_FILES, SenderAction, TransferSender } from '../../../src/session/transfer';
import type { ParamsMessage } from '../../../src/protocol/messages';
import { numRuns } from '../protocol/fuzzRuns';

const WINDOW = 4;
const DIGEST = Buffer.alloc(DIGEST_SIZE, 7);
const pathOf = (fileId: number): Buffer => Buffer.from(`f${fileId}`);

/** Where a file of the scenario stands before the answers come: what the receiver may answer for it. */
type Standing = 'inline' | 'sent' | 'announced' | 'ready' | 'failed';

/** A sender with these files announced and brought to where they stand (and `extra` ids never announced). */
function senderWith(files: readonly Standing[], okRuns = true): TransferSender {
  const s = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, windowFiles: WINDOW, peerName: 'receiver', okRuns });
  s.start(files.length + 2, 100 * (files.length + 2));
  files.forEach((standing, fileId) => {
    if (standing === 'inline') {
      s.sendInline(pathOf(fileId), 0o644, 0n, Buffer.from('abc'), 1n);
      return;
    }
    s.announceFile(pathOf(fileId), 0o644, 10, 0n);
    if (standing === 'failed') s.receive({ type: PacketType.FILE_ERROR, fileId, code: 2, message: 'gone' });
    if (standing === 'ready' || standing === 'sent') s.receive({ type: PacketType.FILE_READY, fileId });
    if (standing === 'sent') s.fileSent(fileId, DIGEST);
  });
  return s;
}

/** Actions as plain values: a failure by its code and message. */
function plain(actions: readonly SenderAction[]): unknown[] {
  return actions.map((action) => (action.type === 'fail' ? { fail: action.error.code, message: action.error.message, notifyPeer: action.notifyPeer } : action));
}

const fileOk = (fileId: number): Message => ({ type: PacketType.FILE_OK, fileId });
const run = (firstFileId: number, count: number): Message => ({ type: PacketType.FILES_OK, firstFileId, count });

const standing = fc.constantFrom<Standing>('inline', 'inline', 'sent', 'sent', 'announced', 'ready', 'failed');

test('a run and its FILE_OKs one by one give the same actions, the same errors, and leave the machine alike', () => {
  fc.assert(
    fc.property(
      fc.array(standing, { minLength: 1, maxLength: 12 }),
      fc.nat({ max: 14 }),
      fc.integer({ min: 1, max: 16 }),
      (files, first, count) => {
        const byRun = senderWith(files);
        const oneByOne = senderWith(files);
        const runActions = plain(byRun.receive(run(first, count)));
        const okActions: unknown[] = [];
        for (let fileId = first; fileId < first + count; fileId++) okActions.push(...plain(oneByOne.receive(fileOk(fileId))));
        expect(runActions).toEqual(okActions);
        // Alike afterwards: the same state, window and answer to the rest of the session.
        expect([byRun.state, byRun.canAnnounce, byRun.canSendInline(1)]).toEqual([oneByOne.state, oneByOne.canAnnounce, oneByOne.canSendInline(1)]);
        const rest = (s: TransferSender): unknown[] => files.flatMap((_, fileId) => plain(s.receive(fileOk(fileId))));
        expect(rest(byRun)).toEqual(rest(oneByOne));
      },
    ),
    { numRuns: numRuns(500) },
  );
});

test('a run of files each awaiting its OK settles them all, in order', () => {
  const s = senderWith(['inline', 'sent', 'inline']);
  expect(plain(s.receive(run(0, 3)))).toEqual([0, 1, 2].map((fileId) => ({ type: 'fileOk', fileId })));
});

test.each([
  ['a count of 0', run(1, 0)],
  ['a run past the last file_id', run(0xffffffff, 2)],
  ['a run over more files than the window allows', run(0, WINDOW + INLINE_WINDOW_FILES + 1)],
  ['a count that is no integer', run(0, 1.5)],
])('%s is FCP_ERR_PROTOCOL before any file is settled (no loop over it)', (_what, message) => {
  const s = senderWith(['inline', 'inline']);
  const actions = plain(s.receive(message));
  expect(actions).toEqual([expect.objectContaining({ fail: 'FCP_ERR_PROTOCOL', message: expect.stringMatching(/^FILES_OK for /) })]);
  expect(s.state).toBe('FAILED');
});

test('a run whose third file is not awaiting its OK settles two, then fails as its FILE_OK would', () => {
  const s = senderWith(['inline', 'sent', 'announced']);
  expect(plain(s.receive(run(0, 3)))).toEqual([
    { type: 'fileOk', fileId: 0 },
    { type: 'fileOk', fileId: 1 },
    expect.objectContaining({ fail: 'FCP_ERR_PROTOCOL', message: expect.stringMatching(/FILE_OK for file_id 2 before its FILE_DONE/) }),
  ]);
});

test('FILES_OK in a session that did not negotiate it is FCP_ERR_UNEXPECTED_MESSAGE', () => {
  const s = senderWith(['inline', 'inline'], false);
  expect(plain(s.receive(run(0, 2)))).toEqual([expect.objectContaining({ fail: 'FCP_ERR_UNEXPECTED_MESSAGE' })]);
});

describe('negotiation (more_features bit 2)', () => {
  test('this build offers it, answers it, and both sides then agree on it', () => {
    const offer = makeOffer({ encrypt: true });
    expect(offer.moreFeatures).toBe(MoreFeature.FILES_OK);
    const answer = answerOffer(offer) as ParamsMessage;
    expect(okRunsAgreed(answer)).toBe(true);
  });

  test('an older peer (no word, or the word without the bit) leaves it out: FILE_OK a file', () => {
    const { moreFeatures: _word, ...older } = makeOffer({ encrypt: true });
    expect(okRunsAgreed(answerOffer(older) as ParamsMessage)).toBe(false);
    expect(okRunsAgreed(answerOffer({ ...older, moreFeatures: MoreFeature.TWO_WAY_NARROW }) as ParamsMessage)).toBe(false);
  });
});
