/**
 * The transfer starts once the control connection is established; data connections join it as
 * their handshakes finish. A proxy holds back every data connection but one until the first
 * file larger than INLINE_MAX (smaller ones travel on the control connection) is reported done:
 * that can only happen if files move over the one connection that is
 * there (a transfer that waited for all of them would never start, and fail its handshake
 * timeout). The held ones then join mid-transfer, or after the end of a transfer small enough
 * to be over by then, and the copy must be exact either way.
 */
import * as path from 'node:path';
import { copy } from '../../src';
import { INLINE_MAX } from '../../src/protocol/constants';
import { compareTrees } from './helpers/compare';
import { proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { TreeBuilder } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
const shared = new TempDirs();
const trees: Record<'big' | 'small', string> = { big: '', small: '' };

beforeAll(() => {
  const parent = shared.make('fcp-join-src');
  const big = new TreeBuilder(Buffer.from(path.join(parent, 'big')));
  big.dir([]);
  big.file(['a-small'], INLINE_MAX + 1000);
  big.file(['big.bin'], 6 * 1024 * 1024 + 777);
  for (let i = 0; i < 20; i++) big.file([`small-${i}`], 100 * i);
  big.finish();
  trees.big = big.root.toString();
  const small = new TreeBuilder(Buffer.from(path.join(parent, 'small')));
  small.dir([]);
  small.file(['one'], INLINE_MAX + 1);
  small.finish();
  trees.small = small.root.toString();
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

test.each([
  ['push, data connections 2-4 held', 'push', 'big', 1],
  ['pull, data connections 1, 3, 4 held', 'pull', 'big', 2],
  ['push of one small file, over before data connections 2-4 are let through', 'push', 'small', 1],
  ['pull of one small file, over before data connections 1-3 are let through', 'pull', 'small', 4],
] as const)('%s: files move on the connection there, the copy is exact', async (_label, direction, tree, except) => {
  const source = trees[tree];
  const dst = temp.make('fcp-join-dst');
  let release!: () => void;
  const firstFileDone = new Promise<void>((resolve) => (release = resolve));
  const { launcher, report } = proxyLauncher({ hold: { except, until: firstFileDone } });
  try {
    const summary = await copy({
      sources: [direction === 'pull' ? `localhost:${source}` : source],
      destination: direction === 'push' ? `localhost:${dst}` : dst,
      recursive: true,
      connections: 4,
      encrypt: true,
      launcher,
      onEvent: (event) => event.type === 'file' && event.size > INLINE_MAX && release(),
    });
    expect(summary.errors).toEqual([]);
  } finally {
    release();
  }
  // Each data connection but one is held once it says which it is. A transfer of one small file
  // can be over, and its client gone, before a slow connection got that far: then fewer are held.
  if (tree === 'big') expect(report.held).toBe(3);
  else expect(report.held).toBeLessThanOrEqual(3);
  expect(compareTrees(source, path.join(dst, path.basename(source)))).toEqual([]);
});
