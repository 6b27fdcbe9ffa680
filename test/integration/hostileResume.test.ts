/**
 * A hostile client against a real fcpd with the resume and reconnect messages (features RESUME
 * and RECONNECT, PROTOCOL.md §7.3 and §7.5), both ways: pushing (fcpd receives, the client lies
 * as a sender: CHUNK_KEPT, DATA_LOST answers, receiver-only messages) and pulling (fcpd sends, the
 * client lies as a receiver: CHUNKS_HELD past the file, near 4 billion, too many, twice;
 * PARTIAL_STALE out of place; CHUNK_ACK and DATA_LOST for connections that do not exist or
 * beyond what was sent; a DATA_LOST storm). Each gets ERROR with the right code, and fcpd ends
 * the session by itself with that error's exit code, no stack trace, nothing left behind.
 *
 * The client facing a hostile server runs the same state machines (src/session/transfer.ts):
 * test/unit/session/resume.test.ts and dataLoss.test.ts drive them with these messages directly.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exitCodeFor } from '../../src/errors';
import { CHUNKS, playPull, playPush, PULL_CASES, PUSH_CASES, SIZE } from './helpers/hostileResumeCases';
import { livePullSession, livePushSession } from './helpers/hostilePeer';
import { killAll, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

describe('pushing: fcpd receives from a lying sender', () => {
  test.each(PUSH_CASES)('%s: the right ERROR, and fcpd ends the session', async (_name, messages, expected) => {
    const work = temp.make('fcp-hostile-resume');
    const live = await livePushSession(work, 1);
    const answered = await playPush(live, messages);
    const ended = await within(live.fcpd.exited, 15_000, 'fcpd exit');
    expect({ answered, ended }).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
    expect(live.fcpd.stderr()).not.toMatch(/^\s+at /m);
    // Neither the file nor any partial state of it is left: the session failed, nothing was verified.
    expect(fs.readdirSync(work)).toEqual([]);
  });
});

describe('pulling: fcpd sends to a lying receiver', () => {
  test.each(PULL_CASES)('%s: the right ERROR, and fcpd ends the session', async (_name, script, expected) => {
    const work = temp.make('fcp-hostile-resume');
    const source = path.join(work, 'source');
    const content = randomBytes(SIZE);
    fs.writeFileSync(source, content);
    const live = await livePullSession(source, 1);
    expect(Math.ceil(SIZE / live.established.params.chunkSize)).toBe(CHUNKS);
    const answered = await playPull(live, script);
    const ended = await within(live.fcpd.exited, 15_000, 'fcpd exit');
    expect({ answered, ended }).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
    expect(live.fcpd.stderr()).not.toMatch(/^\s+at /m);
    expect(fs.readFileSync(source).equals(content)).toBe(true);
  });
});
