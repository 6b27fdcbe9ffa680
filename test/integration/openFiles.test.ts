/**
 * Many small files to a receiver with few descriptors: the sender's window (sized by its own,
 * larger limit) announces more files than the receiver may hold open, so the receiver creates
 * them (and answers FILE_READY) only as committed files free descriptors. Without that, file
 * creation fails with EMFILE past ~300 open files.
 */
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { compareTrees } from './helpers/compare';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { TreeBuilder } from './helpers/tree';

jest.setTimeout(60_000);

const temp = useTempDirs();
const shared = new TempDirs();
let source: string;

beforeAll(() => {
  const parent = shared.make('fcp-openfiles-src');
  const tree = new TreeBuilder(Buffer.from(path.join(parent, 'many')));
  tree.dir([]);
  for (let d = 0; d < 4; d++) {
    tree.dir([`d${d}`]);
    for (let f = 0; f < 300; f++) tree.file([`d${d}`, `f${f}`], (f * 37) % 3000);
  }
  tree.finish();
  source = tree.root.toString();
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

test('1,200 files pushed to an fcpd limited to 300 descriptors arrive complete', async () => {
  const dst = temp.make('fcp-openfiles-dst');
  const summary = await copy({
    sources: [source],
    destination: `localhost:${dst}`,
    recursive: true,
    launcher: localLauncher({ fcpdPath: path.join(__dirname, 'helpers', 'limitedFcpd.js') }),
  });
  expect(summary.errors).toEqual([]);
  expect(summary.files).toBe(1200);
  expect(compareTrees(source, path.join(dst, 'many'))).toEqual([]);
});
