/**
 * Tampering on the wire: copy() runs through an in-test TCP proxy (between the client and a real
 * local fcpd) that flips ONE byte of one connection's stream in the middle of the transfer. With
 * encryption on or off, the result must never be a silently wrong file: either the copy fails
 * with a clear error and no file under its final name has wrong content (and no temporary is
 * left), or it succeeds and every file is correct.
 */
import * as path from 'node:path';
import { copy, isFcpError } from '../../src';
import type { CopySummary } from '../../src';
import { compareTrees, leftoverTemporaries, wrongFiles } from './helpers/compare';
import { FaultPlan, proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { BuiltTree, TreeBuilder } from './helpers/tree';

jest.setTimeout(40_000);

const temp = useTempDirs();
const shared = new TempDirs();
let tree: BuiltTree;

beforeAll(() => {
  const parent = shared.make('fcp-tamper-src');
  const t = new TreeBuilder(Buffer.from(path.join(parent, 'src')));
  t.dir([]);
  t.file(['big.bin'], 8 * 1024 * 1024 + 4321, { mode: 0o640 });
  t.file(['medium.bin'], 1_048_577);
  t.dir(['sub']);
  for (let i = 0; i < 5; i++) t.file(['sub', `small-${i}`], 1000 * (i + 1));
  t.finish();
  tree = { root: t.root.toString(), parent, name: 'src', fileCount: t.fileCount, totalBytes: t.totalBytes, files: t.files };
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

/** Errors that say clearly that the stream was damaged or cut. */
const DAMAGE_CODES = [
  'FCP_ERR_BAD_CHECKSUM',
  'FCP_ERR_DECRYPT',
  'FCP_ERR_VERIFY',
  'FCP_ERR_CONNECTION_LOST',
  'FCP_ERR_BAD_LENGTH',
  'FCP_ERR_UNKNOWN_TYPE',
  'FCP_ERR_TRUNCATED',
  'FCP_ERR_PROTOCOL',
  'FCP_ERR_UNEXPECTED_MESSAGE',
  'FCP_ERR_BAD_FIELD',
  'FCP_ERR_TRAILING_BYTES',
];

type Case = [label: string, direction: 'push' | 'pull', encrypt: boolean, plan: FaultPlan];

const FLIP = { kind: 'corrupt' } as const;

const CASES: Case[] = [];
for (const encrypt of [false, true]) {
  // Client → fcpd bytes of a data connection in a push (the first to reach the byte: under load one
  // of the two may carry little): DATA and CHUNK_SUM frames.
  for (const [where, position] of [
    ['first DATA payload', 5_000],
    ['a DATA frame header', 57_359 + 130],
    ['mid first chunk', 600_001],
    ['second chunk', 1_500_003],
    ['third chunk', 2_700_017],
  ] as const) {
    CASES.push([`push, a data connection toward fcpd, ${where} (byte ${position}), ${encrypt ? 'encrypted' : 'not encrypted'}`, 'push', encrypt, { connection: 'anyData', direction: 'toServer', at: position, fault: FLIP }]);
  }
  // fcpd → client bytes of a data connection in a pull.
  for (const position of [9_000, 1_234_567]) {
    CASES.push([`pull, a data connection toward the client, byte ${position}, ${encrypt ? 'encrypted' : 'not encrypted'}`, 'pull', encrypt, { connection: 'anyData', direction: 'toClient', at: position, fault: FLIP }]);
  }
  // The control connection (file list, acknowledgements) toward fcpd in a push.
  CASES.push([`push, control connection toward fcpd, byte 300, ${encrypt ? 'encrypted' : 'not encrypted'}`, 'push', encrypt, { connection: 0, direction: 'toServer', at: 300, fault: FLIP }]);
}

test.each(CASES)('%s: a clear failure or a correct copy, never a wrong file', async (_label, direction, encrypt, plan) => {
  const dst = temp.make('fcp-tamper-dst');
  const { launcher, report } = proxyLauncher({ fault: plan });
  const outcome = await copy({
    sources: [direction === 'pull' ? `localhost:${tree.root}` : tree.root],
    destination: direction === 'push' ? `localhost:${dst}` : dst,
    recursive: true,
    connections: 2,
    encrypt,
    launcher,
  }).then(
    (summary: CopySummary) => ({ summary, error: undefined }),
    (error: unknown) => ({ summary: undefined, error }),
  );

  // The byte was really flipped (else this case tests nothing).
  expect({ flipped: report.faulted, bytes: report.bytes }).toMatchObject({ flipped: true });

  const copied = path.join(dst, 'src');
  if (outcome.error !== undefined) {
    const error = outcome.error;
    const described = isFcpError(error) ? { code: error.code, message: error.message } : { code: 'not an FcpError', message: String(error) };
    expect({ knownCode: DAMAGE_CODES.includes(described.code), described }).toEqual({ knownCode: true, described });
    expect(described.message.length).toBeGreaterThan(10);
  } else {
    const summary = outcome.summary!;
    for (const e of summary.errors) expect(DAMAGE_CODES).toContain(e.code);
    if (summary.errors.length === 0) expect(compareTrees(tree.root, copied)).toEqual([]);
  }

  // Whatever happened: every file under its final name is right, and no temporary is left.
  expect(wrongFiles(tree.root, copied)).toEqual([]);
  expect(leftoverTemporaries(dst)).toEqual([]);
});
