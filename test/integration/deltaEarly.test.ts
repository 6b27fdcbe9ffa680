/**
 * Feature DELTA_EARLY (PROTOCOL.md §7.7): a file sent as a delta goes chunk by chunk while the
 * receiver still reads its old version, and is exact, with its mode and mtime; a peer without the
 * feature still gets (and sends) deltas; a hostile or cut-off stream of early chunks gets a clear
 * error and leaves the old version in place, never a wrong file.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { exitCodeFor } from '../../src/errors';
import { Feature, PacketType } from '../../src/protocol';
import type { Message } from '../../src/protocol/messages';
import * as params from '../../src/session/params';
import * as deltaFiles from '../../src/transfer/deltaFiles';
import { attachData, livePushSession, pushOneFile } from './helpers/hostilePeer';
import { proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { useTempDirs, useTempStateHome } from './helpers/tmp';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const temp = useTempDirs();
useTempStateHome();
afterAll(() => killAll());

const MTIME = new Date('2021-03-04T05:06:07.000Z');

/** An old version of 24 MiB and a new one with regions rewritten in six places, mode 0640 and its own mtime. */
function changedFile(): { src: string; dst: string; name: string } {
  const base = temp.make('fcp-delta-early');
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  const old = randomBytes(24 * MiB);
  const changed = Buffer.from(old);
  for (let region = 0; region < 6; region++) randomBytes(4096).copy(changed, 2 * MiB + region * 3_500_000);
  fs.writeFileSync(path.join(dst, 'big'), old);
  fs.utimesSync(path.join(dst, 'big'), new Date('2020-01-01'), new Date('2020-01-01'));
  fs.writeFileSync(path.join(src, 'big'), changed);
  fs.chmodSync(path.join(src, 'big'), 0o640);
  fs.utimesSync(path.join(src, 'big'), MTIME, MTIME);
  return { src, dst, name: 'big' };
}

function expectCopied(src: string, dst: string, name: string): void {
  const from = fs.statSync(path.join(src, name));
  const to = fs.statSync(path.join(dst, name));
  expect({
    same: fs.readFileSync(path.join(dst, name)).equals(fs.readFileSync(path.join(src, name))),
    mode: to.mode & 0o777,
    mtimeMs: to.mtimeMs,
  }).toEqual({ same: true, mode: 0o640, mtimeMs: from.mtimeMs });
}

test('the receiver assembles chunks of a delta while it still signs its old version: exact, with mode and mtime', async () => {
  const { src, dst, name } = changedFile();
  const functions = deltaFiles as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const realSign = functions.signOldVersion!;
  const realAssemble = functions.readChunkWithCopies!;
  let signing = false;
  let assembledWhileSigning = 0;
  let assembled = 0;
  const assemble = jest.spyOn(functions, 'readChunkWithCopies').mockImplementation(async (...args) => {
    assembled++;
    if (signing) assembledWhileSigning++;
    return realAssemble(...args);
  });
  // The signature is held back from its end (FILE_READY) until a chunk came, or 20 s went by:
  // only chunks sent before FILE_READY can be assembled meanwhile.
  const sign = jest.spyOn(functions, 'signOldVersion').mockImplementation(async (...args) => {
    signing = true;
    try {
      await realSign(...args);
      for (let waited = 0; assembled === 0 && waited < 20_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      signing = false;
    }
  });
  try {
    const summary = await copy({ sources: [path.join(src, name)], destination: dst, wholeFile: false, connections: 2 });
    expect(summary.errors).toEqual([]);
    expect(summary.bytesSent).toBeLessThan(2 * MiB);
    expect(summary.bytesSent + summary.bytesSaved).toBe(24 * MiB);
  } finally {
    sign.mockRestore();
    assemble.mockRestore();
  }
  expectCopied(src, dst, name);
  expect(assembledWhileSigning).toBeGreaterThan(0);
});

test.each(['push', 'pull'] as const)('%s with a peer without DELTA_EARLY: the delta goes at FILE_READY, exact', async (direction) => {
  const { src, dst, name } = changedFile();
  const real = params.makeOffer;
  // This side offers what an older fcp offers: DELTA and SIG_CACHE without DELTA_EARLY.
  const offer = jest.spyOn(params, 'makeOffer').mockImplementation((options) => {
    const made = real(options);
    return { ...made, features: made.features & ~Feature.DELTA_EARLY };
  });
  try {
    const { launcher } = proxyLauncher({});
    const summary = await copy({
      sources: [direction === 'pull' ? `localhost:${src}/${name}` : `${src}/${name}`],
      destination: direction === 'push' ? `localhost:${dst}` : dst,
      connections: 2,
      launcher,
    });
    expect(summary.errors).toEqual([]);
    expect(summary.bytesSent).toBeLessThan(2 * MiB);
  } finally {
    offer.mockRestore();
  }
  expectCopied(src, dst, name);
});

describe('a hostile sender of early chunks', () => {
  const SIZE = 8 * MiB;
  const mtimeNs = 1_700_000_000_000_000_000n;

  /**
   * A push of one file of SIZE bytes over an old version of SIZE bytes; `early` goes at the first
   * DELTA_SIG, before FILE_READY; then the session is cut (`cut`) or waits for fcpd to end it.
   */
  async function earlyDelta(early: Message[], cut: boolean): Promise<{ answered: string[]; ended: { code: number | null }; stderr: string; old: Buffer; now: Buffer; left: string[] }> {
    const work = temp.make('fcp-delta-early-hostile');
    const old = randomBytes(SIZE);
    fs.writeFileSync(path.join(work, 'f'), old);
    const live = await livePushSession(work, 1, { delta: true });
    const dataConn = await attachData(live);
    let sent = false;
    const { answered, ended, stderr } = await pushOneFile(live, { size: SIZE, mtimeNs }, (message) => {
      if (message.type !== PacketType.DELTA_SIG || sent) return;
      sent = true;
      for (const m of early) dataConn.send(m);
      if (cut) setTimeout(() => {
        dataConn.close();
        live.control.close();
      }, 200);
    });
    return { answered, ended, stderr, old, now: fs.readFileSync(path.join(work, 'f')), left: fs.readdirSync(work) };
  }

  const copyOf = (offset: number, oldOffset: number, length: number): Message => ({ type: PacketType.DELTA_COPY, fileId: 0, offset, oldOffset, length });

  // (Past what the first DELTA_SIG described, but not past the old file, races the next DELTA_SIG: the unit tests take that one.)
  test('a copy from past the old version before FILE_READY: FCP_ERR_PROTOCOL, the old version stays', async () => {
    const { answered, ended, stderr, old, now, left } = await earlyDelta([copyOf(0, SIZE - 100, 4096)], false);
    expect({ answered, ended: ended.code }).toEqual({ answered: ['FCP_ERR_PROTOCOL'], ended: exitCodeFor('FCP_ERR_PROTOCOL') });
    expect(now.equals(old)).toBe(true);
    expect(left).toEqual(['f']);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  test('a stream of early chunks cut off mid-chunk: fcpd ends with an error, the old version stays', async () => {
    // Half a chunk copied from the old version, then the connections close.
    const { ended, stderr, old, now } = await earlyDelta([copyOf(0, 0, 256 * 1024)], true);
    expect(ended.code).not.toBe(0);
    expect(now.equals(old)).toBe(true);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
