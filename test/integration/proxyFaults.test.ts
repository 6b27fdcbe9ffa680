/**
 * Network faults between the real client code and a real local fcpd, one test per kind of fault
 * of the in-test proxy: a connection cut (FIN, RST), stalled, delayed, or one byte corrupted, at
 * a chosen byte of one chosen connection. A fault the transfer cannot survive is one clear error
 * with its code; whatever happens, no file is left under its final name with wrong content and
 * no temporary is left behind.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { copy, isFcpError } from '../../src';
import { runClientSession } from '../../src/client/clientSession';
import { ModeFlag } from '../../src/protocol/constants';
import { makeOffer } from '../../src/session/params';
import { streamSources } from '../../src/transfer/walk';
import { compareTrees, leftoverTemporaries, wrongFiles } from './helpers/compare';
import { FaultPlan, proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { TreeBuilder } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
const shared = new TempDirs();
let source: string;

beforeAll(() => {
  const t = new TreeBuilder(Buffer.from(path.join(shared.make('fcp-faults-src'), 'src')));
  t.dir([]);
  t.file(['big.bin'], 3 * 1024 * 1024 + 17);
  for (let i = 0; i < 40; i++) t.file([`small-${i}`], 100 * (i + 1));
  t.finish();
  source = t.root.toString();
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

/** What a copy ended with: 'copied' or the error's code. */
async function copyThrough(plan: FaultPlan, direction: 'push' | 'pull', dst: string): Promise<{ outcome: string; faulted: boolean }> {
  const { launcher, report } = proxyLauncher({ fault: plan });
  const outcome = await copy({
    sources: [direction === 'pull' ? `localhost:${source}` : source],
    destination: direction === 'push' ? `localhost:${dst}` : dst,
    recursive: true,
    connections: 1,
    encrypt: true,
    launcher,
  }).then(
    (summary) => (summary.errors.length === 0 ? 'copied' : summary.errors.map((e) => e.code).join(',')),
    (err: unknown) => (isFcpError(err) ? err.code : `not an FcpError: ${String(err)}`),
  );
  return { outcome, faulted: report.faulted };
}

/** Nothing wrong under its final name, no temporary left. */
function expectNothingWrong(dst: string): void {
  expect({ wrong: wrongFiles(source, path.join(dst, 'src')), temporaries: leftoverTemporaries(dst) }).toEqual({ wrong: [], temporaries: [] });
}

const MID_BIG_FILE = 1_200_000;

// A stream that ends inside a frame because the peer went away (FIN) and one reset (RST) are both
// a lost data connection: a replacement carries its chunks in flight, and the copy is exact.
test.each([
  ['push', 'toServer', 'fin'],
  ['push', 'toServer', 'rst'],
  ['pull', 'toClient', 'fin'],
  ['pull', 'toClient', 'rst'],
] as const)('a %s cut (%s, %s) inside a DATA frame of the only data connection: replaced, the copy is exact', async (direction, streamDirection, how) => {
  const dst = temp.make('fcp-faults-dst');
  const result = await copyThrough({ connection: 1, direction: streamDirection, at: MID_BIG_FILE, fault: { kind: 'cut', how } }, direction, dst);
  expect(result).toEqual({ outcome: 'copied', faulted: true });
  expect(compareTrees(source, path.join(dst, 'src'))).toEqual([]);
});

test('one corrupted byte of the control connection in an encrypted pull: FCP_ERR_DECRYPT, nothing wrong', async () => {
  const dst = temp.make('fcp-faults-dst');
  const result = await copyThrough({ connection: 0, direction: 'toClient', at: 400, fault: { kind: 'corrupt' } }, 'pull', dst);
  expect(result).toEqual({ outcome: 'FCP_ERR_DECRYPT', faulted: true });
  expectNothingWrong(dst);
});

test('a delay of half a second on data connection 1 in a push: the copy is exact', async () => {
  const dst = temp.make('fcp-faults-dst');
  const result = await copyThrough({ connection: 1, direction: 'toServer', at: MID_BIG_FILE, fault: { kind: 'delay', ms: 500 } }, 'push', dst);
  expect(result).toEqual({ outcome: 'copied', faulted: true });
  expect(compareTrees(source, path.join(dst, 'src'))).toEqual([]);
});

test('a stalled control connection (fcpd to client, after SESSION) in a push: FCP_ERR_TIMEOUT after the idle timeout, nothing wrong', async () => {
  const dst = temp.make('fcp-faults-dst');
  // The client's session runner, with a short --timeout (2 s): the stall must end it, not hang it.
  const { launcher, report } = proxyLauncher({ fault: { connection: 0, direction: 'toClient', at: 400, fault: { kind: 'stall' } } });
  const secret = randomBytes(32);
  const server = await launcher.launch(secret, () => undefined);
  const outcome = await runClientSession({
    server,
    secret,
    offer: makeOffer({ encrypt: true, connections: 2 }),
    flags: ModeFlag.RECURSIVE,
    work: { kind: 'push', destination: Buffer.from(dst), walk: streamSources([Buffer.from(source)], { recursive: true, followSymlinks: false }) },
    log: () => undefined,
    timeoutMs: 2000,
  }).then(
    () => 'copied',
    (err: unknown) => (isFcpError(err) ? err.code : `not an FcpError: ${String(err)}`),
  );
  await server.close(true);
  expect({ outcome, faulted: report.faulted }).toEqual({ outcome: 'FCP_ERR_TIMEOUT', faulted: true });
  expectNothingWrong(dst);
});
