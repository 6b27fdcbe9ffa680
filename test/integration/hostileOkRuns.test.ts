/**
 * A hostile receiver pulling three small files from a real fcpd (more feature FILES_OK, PROTOCOL.md
 * §7.4): a run fcp never sends gets ERROR with the right code and fcpd ends the session by itself
 * with that code's exit status (no loop sized by the peer's count, no hang); a run that keeps the
 * rules settles the files as their FILE_OKs would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { codeFromWire, exitCodeFor, FcpErrorCode } from '../../src/errors';
import { FILES_OK_LENGTH, HEADER_SIZE, MoreFeature, PacketType } from '../../src/protocol/constants';
import type { Message } from '../../src/protocol/messages';
import { takeOver } from '../../src/wire/handshake';
import { livePullSession, LiveSession } from './helpers/hostilePeer';
import { killAll, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

const FILES = 3;
/** GCM's tag: the session is sealed. */
const TAG = 16;

/** A FILES_OK frame with these fields as they are, checks or not: what the encoder would refuse to write. */
function rawRun(live: LiveSession, firstFileId: number, count: number): Buffer {
  const frame = Buffer.alloc(HEADER_SIZE + FILES_OK_LENGTH + TAG);
  frame.writeUInt32BE(firstFileId, HEADER_SIZE);
  frame.writeUInt16BE(count, HEADER_SIZE + 4);
  return frame.subarray(0, live.control.encoder.finishFrame(frame, 0, PacketType.FILES_OK, FILES_OK_LENGTH));
}

/**
 * Pulls FILES small files; once every FILE_INLINE is in, writes what `answer` makes; then, when
 * fcpd's DONE comes, its own DONE. Returns the ERROR codes fcpd sent and how it exited.
 */
async function pullAnswering(answer: (live: LiveSession) => Buffer[]): Promise<{ answered: string[]; ended: unknown; inline: number }> {
  const source = temp.make('fcp-hostile-runs');
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(source, `f${i}`), `small file ${i}\n`);
  // A glob, not the directory: the session's MODE asks for no recursion.
  const live = await livePullSession(path.join(source, 'f*'), 1);
  expect((live.established.params.moreFeatures ?? 0) & MoreFeature.FILES_OK).toBe(MoreFeature.FILES_OK);
  const answered: string[] = [];
  let inline = 0;
  const closed = new Promise<void>((resolve) =>
    takeOver(live.control, live.established, {
      message: (message: Message) => {
        if (message.type === PacketType.ERROR) answered.push(codeFromWire(message.code));
        if (message.type === PacketType.FILE_INLINE && ++inline === FILES) for (const frame of answer(live)) live.control.write(frame);
        if (message.type === PacketType.DONE) live.control.send({ type: PacketType.DONE });
      },
      closed: () => resolve(),
    }),
  );
  // Nothing at the destination: the small files come inline (PROTOCOL.md §7.4).
  live.control.send({ type: PacketType.DEST_STATE, holds: 0 });
  await within(closed, 15_000, 'fcpd closing the session');
  const ended = await within(live.fcpd.exited, 15_000, 'fcpd exit');
  expect(live.fcpd.stderr()).not.toMatch(/^\s+at /m);
  return { answered, ended, inline };
}

const CASES: [string, (live: LiveSession) => Buffer[], FcpErrorCode][] = [
  ['a run of 0 files', (live) => [rawRun(live, 0, 0)], 'FCP_ERR_BAD_FIELD'],
  ['a run past the last file_id', (live) => [rawRun(live, 0xffffffff, 2)], 'FCP_ERR_BAD_FIELD'],
  ['a run of 65535 files, more than the window allows', (live) => [rawRun(live, 0, 0xffff)], 'FCP_ERR_PROTOCOL'],
  ['a run that goes past the files announced', (live) => [rawRun(live, 1, FILES)], 'FCP_ERR_PROTOCOL'],
  ['the same run twice', (live) => [rawRun(live, 0, FILES), rawRun(live, 0, FILES)], 'FCP_ERR_PROTOCOL'],
];

test.each(CASES)('%s: fcpd answers with the right ERROR and ends the session', async (_name, answer, expected) => {
  const { answered, ended } = await pullAnswering(answer);
  expect({ answered, ended }).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
});

test('a run of every file answered is taken as their FILE_OKs: the session completes', async () => {
  const { answered, ended, inline } = await pullAnswering((live) => [rawRun(live, 0, FILES)]);
  expect({ answered, ended, inline }).toEqual({ answered: [], ended: { code: 0, signal: null }, inline: FILES });
});
