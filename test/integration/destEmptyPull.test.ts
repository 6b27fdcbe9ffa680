/**
 * More feature DEST_EMPTY (PROTOCOL.md §7.4): a pull into a destination that holds nothing says
 * so in its HELLO's word, and sends no DEST_STATE; fcpd's sender takes the answered bit as
 * DEST_STATE(0) and sends small files inline at once. Against an fcpd that does not answer the bit
 * (an older build: the proxy of helpers/twoWayPeer.ts takes the word out of the HELLO), the client
 * sends DEST_STATE as before; into a destination that holds something it offers no bit.
 * Sessions without encryption, so that the proxy reads what the client sends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { MoreFeature, PacketType } from '../../src/protocol/constants';
import type { Message } from '../../src/protocol/messages';
import { compareTrees, leftoverTemporaries } from './helpers/compare';
import { killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { INLINE_MAX, makeFile } from './helpers/tree';
import { olderFcpdLauncher } from './helpers/twoWayPeer';

const temp = useTempDirs();
afterAll(killAll);

const FILES = 120;

/** work/src: FILES small files (sent inline into an empty destination) in a few directories; work/dst, empty. */
function smallTree(work: string): void {
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(work, 'src', `d${i % 5}`);
    fs.mkdirSync(dir, { recursive: true });
    makeFile(dir, `f${i}`, 1 + ((i * 4099) % INLINE_MAX));
  }
  fs.mkdirSync(path.join(work, 'dst'));
}

interface Seen { offered: number[]; destStates: number[] }

/** Pulls work/src into work/dst through a local fcpd that sees the HELLO word `word` makes of the offered one. */
async function pull(work: string, word: (offered: number) => number | undefined): Promise<{ summary: Awaited<ReturnType<typeof copy>>; seen: Seen }> {
  const seen: Seen = { offered: [], destStates: [] };
  const { launcher } = olderFcpdLauncher(
    {
      moreFeatures: (offered) => (seen.offered.push(offered), word(offered)),
      fromClient: (message: Message) => void (message.type === PacketType.DEST_STATE && seen.destStates.push(message.holds)),
    },
    true,
  );
  const summary = await copy({ sources: [`localhost:${path.join(work, 'src')}`], destination: path.join(work, 'dst'), recursive: true, encrypt: false, launcher });
  expect(summary).toMatchObject({ files: FILES, filesFailed: 0 });
  expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
  return { summary, seen };
}

test('into an empty destination: the bit is offered and answered, no DEST_STATE is sent, and every small file goes inline', async () => {
  const work = temp.make('fcp-dest-empty');
  smallTree(work);
  const { summary, seen } = await pull(work, (offered) => offered);
  expect(seen.offered).toEqual([MoreFeature.DEST_EMPTY]);
  expect(seen.destStates).toEqual([]);
  // Inline: each file's bytes crossed once, none was announced and then found there.
  expect(summary.bytesSent).toBe(summary.bytes);
  expect(summary.bytesResumed).toBe(0);
});

test('an fcpd that does not answer the bit (an older one) gets the DEST_STATE it waits for', async () => {
  const work = temp.make('fcp-dest-empty');
  smallTree(work);
  const { summary, seen } = await pull(work, () => undefined);
  expect(seen.offered).toEqual([MoreFeature.DEST_EMPTY]);
  expect(seen.destStates).toEqual([0]);
  expect(summary.bytesSent).toBe(summary.bytes);
});

test('into a destination that holds something: no bit is offered, and a rerun sends no byte', async () => {
  const work = temp.make('fcp-dest-empty');
  smallTree(work);
  await pull(work, (offered) => offered);
  const { summary, seen } = await pull(work, (offered) => offered);
  // No word at all: the proxy sees an older client's 40-byte HELLO, so its hook is not asked.
  expect(seen.offered).toEqual([]);
  expect(summary.bytesSent).toBe(0);
  expect(summary.bytesResumed).toBe(summary.bytes);
});
