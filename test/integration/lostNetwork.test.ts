/**
 * A lost network (issue 12): halfway through a copy every connection, control and data, is reset
 * by the in-test proxy, and no new one gets through (so no replacement can be attached). fcp ends
 * with FCP_ERR_CONNECTION_LOST (exit 6) naming the host and what was lost; the receiver keeps its
 * part file and journal; the same copy again, on a network that works, gives an identical file and
 * sends exactly what the journal did not vouch for, which is at most the rest of the file at the
 * cut plus what was in flight and one journal flush interval (as in ssh/resumeKill.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, isFcpError, localLauncher } from '../../src';
import { loadXxhash, XXHashAPI } from '../../src/protocol/xxhash';
import { SEND_BUFFERS_PER_CONNECTION } from '../../src/session/buffering';
import { JOURNAL_FLUSH_BYTES, JOURNAL_FLUSH_MS } from '../../src/state/chunkJournal';
import { compareTrees, leftoverTemporaries } from './helpers/compare';
import { journaledBytes } from './helpers/interrupt';
import { proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(90_000);

const CHUNK = 256 * 1024;
const CONNECTIONS = 2;
const SIZE = 48 * CHUNK + 555;
/** The interrupted run's rate, so that the cut lands mid-file. */
const RATE = 4 * 1024 * 1024;
const IN_FLIGHT = CONNECTIONS * SEND_BUFFERS_PER_CONNECTION * CHUNK;
const FLUSH_INTERVAL = Math.min(JOURNAL_FLUSH_BYTES, (RATE * JOURNAL_FLUSH_MS) / 1000);
/** How long the receiving fcpd may take to let go of the part file once its connections are gone. */
const RELEASE_MS = 20_000;

const temp = useTempDirs();
let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});
afterAll(() => killAll());

/** Resolves once no run holds the part file's lock (the receiver kept or removed its state), or after RELEASE_MS. */
async function released(part: string): Promise<boolean> {
  for (const end = Date.now() + RELEASE_MS; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (!fs.existsSync(`${part}.lock`)) return true;
  return false;
}

test.each(['push', 'pull'] as const)('a %s whose network is lost halfway: FCP_ERR_CONNECTION_LOST (exit 6) naming the host; the rerun resumes, sending only what was not verified', async (direction) => {
  const work = temp.make('fcp-lostnet-src');
  const source = makeFile(work, 'big', SIZE);
  const dst = temp.make('fcp-lostnet-dst');
  const where = (local: string): string => `localhost:${local}`;
  const [from, to] = direction === 'push' ? [source, where(dst)] : [where(source), dst];
  const { launcher, sever } = proxyLauncher({}, 5000);
  let progress = -1;
  const failure = await copy({
    sources: [from],
    destination: to,
    connections: CONNECTIONS,
    chunkSize: CHUNK,
    bwlimit: RATE,
    launcher,
    onEvent: (event) => {
      if (progress >= 0 || event.type !== 'progress' || event.bytesDone < SIZE / 2) return;
      progress = event.bytesDone;
      sever();
    },
  }).then(
    (summary) => ({ resolved: summary.errors.map((e) => e.code) }),
    (err: unknown) => (isFcpError(err) ? { code: err.code, exit: err.exitCode, message: err.message } : { thrown: String(err) }),
  );
  expect(progress).toBeGreaterThan(0);
  expect(failure).toEqual({ code: 'FCP_ERR_CONNECTION_LOST', exit: 6, message: expect.stringMatching(/fcpd on 127\.0\.0\.1:\d+/) });
  expect((failure as { message: string }).message).toMatch(/control connection|every data connection/);
  expect(fs.existsSync(path.join(dst, 'big'))).toBe(false);

  const part = path.join(dst, '.big.fcp-part');
  expect(await released(part)).toBe(true);
  expect(leftoverTemporaries(dst)).toEqual([]);
  const journaled = journaledBytes(xxh, `${part}.journal`, SIZE, CHUNK);
  expect(journaled).toBeGreaterThan(0);

  const rerun = await copy({ sources: [from], destination: to, connections: CONNECTIONS, chunkSize: CHUNK, launcher: localLauncher() });
  expect(rerun.errors).toEqual([]);
  expect(compareTrees(source, path.join(dst, 'big'))).toEqual([]);
  expect(fs.readdirSync(dst)).toEqual(['big']);
  expect({ bytesSent: rerun.bytesSent, bytesResumed: rerun.bytesResumed }).toEqual({ bytesSent: SIZE - journaled, bytesResumed: journaled });
  const bound = SIZE - progress + IN_FLIGHT + FLUSH_INTERVAL;
  if (rerun.bytesSent > bound) throw new Error(`rerun sent ${rerun.bytesSent} bytes, more than ${bound} (progress ${progress} at the cut)`);
});
