/**
 * The cases of reconnect.test.ts (lost data connections, feature RECONNECT, PROTOCOL.md §7.3), declared
 * by the test files that run them: reconnect.test.ts as fcp runs by default, reconnectThreads.test.ts
 * with crypto threads sealing and opening the data connections' frames on both sides.
 */
import * as path from 'node:path';
import fc from 'fast-check';
import { copy, isFcpError } from '../../../src';
import type { CopySummary } from '../../../src';
import { SLOT_LOSSES_MAX } from '../../../src/session/dataLoss';
import { compareTrees, leftoverTemporaries } from './compare';
import { FaultPlan, proxyLauncher } from './proxy';
import { killAll } from './run';
import { TempDirs, useTempDirs } from './tmp';
import { TreeBuilder } from './tree';

/**
 * Declares the cases in the calling test file; `threads`: each copy that completes says its data
 * connections sealed and opened their frames in threads (the client's side: this process).
 */
export function declareReconnectCases(threads = false): void {
  jest.setTimeout(180_000);

  const MiB = 1024 * 1024;
  const temp = useTempDirs();
  const shared = new TempDirs();
  /** One file of 64 MiB and a bit; a tree of a few large and many small files. */
  let bigFile: string;
  let tree: string;

  beforeAll(() => {
    const parent = shared.make('fcp-reconnect-src');
    const big = new TreeBuilder(Buffer.from(path.join(parent, 'big.bin')));
    big.file([], 64 * MiB + 12_345);
    big.finish();
    bigFile = big.root.toString();
    const t = new TreeBuilder(Buffer.from(path.join(parent, 'tree')));
    t.dir([]);
    t.dir(['sub']);
    for (let i = 0; i < 3; i++) t.file([`large-${i}`], 6 * MiB + 1000 * i);
    for (let i = 0; i < 60; i++) t.file(['sub', `file-${i}`], 20_000 + 3_000 * i);
    t.finish();
    tree = t.root.toString();
  });
  afterAll(() => {
    shared.cleanup();
    killAll();
  });

  interface Outcome {
    /** 'copied', or the error's code. */
    outcome: string;
    message?: string;
    exit?: number;
    faults: number;
    dst: string;
  }

  async function copyThrough(
    what: string,
    direction: 'push' | 'pull',
    fault: FaultPlan,
    options: { connections?: number; encrypt?: boolean; timeout?: number } = {},
  ): Promise<Outcome> {
    const dst = temp.make('fcp-reconnect-dst');
    const { launcher, report } = proxyLauncher({ fault }, options.timeout === undefined ? undefined : options.timeout * 1000);
    const lines: string[] = [];
    const run: Promise<CopySummary> = copy({
      sources: [direction === 'pull' ? `localhost:${what}` : what],
      destination: direction === 'push' ? `localhost:${dst}` : dst,
      recursive: true,
      connections: options.connections ?? 3,
      encrypt: options.encrypt ?? true,
      timeout: options.timeout,
      launcher,
      log: (line) => lines.push(line),
    });
    return run.then(
      (summary) => {
        if (threads) expect(lines.filter((line) => /: authenticated \(data\), its frames sealed and opened in threads$/.test(line)).length).toBeGreaterThan(0);
        return { outcome: summary.errors.length === 0 ? 'copied' : summary.errors.map((e) => e.code).join(','), faults: report.faults, dst };
      },
      (err: unknown) =>
        isFcpError(err)
          ? { outcome: err.code, message: err.message, exit: err.exitCode, faults: report.faults, dst }
          : { outcome: `not an FcpError: ${String(err)}`, faults: report.faults, dst },
    );
  }

  /** The copy of `what` in dst is exact, and no temporary is left. */
  function expectExact(what: string, result: Outcome): void {
    const copied = path.join(result.dst, path.basename(what));
    expect({ outcome: result.outcome, differences: compareTrees(what, copied), temporaries: leftoverTemporaries(result.dst) }).toEqual({
      outcome: 'copied',
      differences: [],
      temporaries: [],
    });
  }

  describe('one data connection cut mid-transfer (a byte chosen by fast-check): the copy is exact', () => {
    test.each([
      ['push', 'a 64 MiB file', 'toServer', () => bigFile, 8 * MiB],
      ['pull', 'a 64 MiB file', 'toClient', () => bigFile, 8 * MiB],
      ['push', 'a tree', 'toServer', () => tree, 2 * MiB],
      ['pull', 'a tree', 'toClient', () => tree, 2 * MiB],
    ] as const)('%s of %s', async (direction, _label, stream, what, last) => {
      // The first data connection to reach the byte: the pumps share chunks as they free up, so
      // one connection may carry much less than a third of the copy (under load, data connection 1
      // carried less than 8 MiB of the 64), but of 3 one carries a third at least, well past `last`.
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 100_000, max: last }), fc.constantFrom('fin', 'rst') as fc.Arbitrary<'fin' | 'rst'>, async (at, how) => {
          const result = await copyThrough(what(), direction, { connection: 'anyData', direction: stream, at, fault: { kind: 'cut', how } });
          expect(result.faults).toBe(1);
          expectExact(what(), result);
        }),
        { numRuns: 2, endOnFailure: true },
      );
    });
  });

  describe('a data frame that fails authentication closes that connection only', () => {
    test.each([
      ['push', 'toServer'],
      ['pull', 'toClient'],
    ] as const)('one corrupted byte on an encrypted data connection in a %s: the copy is exact', async (direction, stream) => {
      const result = await copyThrough(bigFile, direction, { connection: 'anyData', direction: stream, at: 3 * MiB + 777, fault: { kind: 'corrupt' } });
      expect(result.faults).toBe(1);
      expectExact(bigFile, result);
    });
  });

  describe('a data connection that fails every time', () => {
    const everyTime: FaultPlan = { connection: 1, direction: 'toServer', at: 200_000, fault: { kind: 'cut', how: 'rst' }, repeat: true };

    test('is replaced, and given up after 3 losses; the copy completes over the others', async () => {
      const result = await copyThrough(bigFile, 'push', everyTime, { connections: 2 });
      // The first connection and its replacements (the copy may end over the other before the last
      // replacement reaches the byte): an index lost SLOT_LOSSES_MAX times is not reopened.
      expect(result.faults).toBeGreaterThanOrEqual(2);
      expect(result.faults).toBeLessThanOrEqual(SLOT_LOSSES_MAX);
      expectExact(bigFile, result);
    });

    test('when it is the only one: FCP_ERR_CONNECTION_LOST, exit 6, naming the host; nothing wrong left', async () => {
      const result = await copyThrough(tree, 'push', everyTime, { connections: 1 });
      expect({ outcome: result.outcome, exit: result.exit, faults: result.faults }).toEqual({ outcome: 'FCP_ERR_CONNECTION_LOST', exit: 6, faults: SLOT_LOSSES_MAX });
      expect(result.message).toMatch(/all 1 data connections to .*127\.0\.0\.1.* were lost/);
      expect(leftoverTemporaries(result.dst)).toEqual([]);
    });
  });

  test.each([
    ['push', 'toServer', 'fin'],
    ['pull', 'toClient', 'rst'],
  ] as const)('the control connection cut in a %s (%s, %s): FCP_ERR_CONNECTION_LOST, exit 6, naming the host and the connection', async (direction, stream, how) => {
    // Past the handshake (a few hundred bytes), in the sender's file list (an announcement of each
    // of the 63 files and directories, their names included: some thousands of bytes). Not the
    // receiver's answers: a BATCH of FILE_OKs a turn of its event loop, that direction carries
    // about 1,300 bytes in all, fewer on a loaded machine, and a cut at 900 could come after the last.
    const result = await copyThrough(tree, direction, { connection: 0, direction: stream, at: 900, fault: { kind: 'cut', how } });
    expect({ outcome: result.outcome, exit: result.exit, faults: result.faults }).toEqual({ outcome: 'FCP_ERR_CONNECTION_LOST', exit: 6, faults: 1 });
    expect(result.message).toMatch(/control connection to .*127\.0\.0\.1/);
    expect(leftoverTemporaries(result.dst)).toEqual([]);
  });

  test.each([
    ['push', 'toServer'],
    ['pull', 'toClient'],
  ] as const)('a data connection stalled in a %s past --timeout: it is replaced and the copy is exact', async (direction, stream) => {
    // The side that receives on it notices the silence (fcp and fcpd both get --timeout 3).
    const result = await copyThrough(tree, direction, { connection: 'anyData', direction: stream, at: 2 * MiB, fault: { kind: 'stall' } }, { timeout: 3 });
    expect(result.faults).toBe(1);
    expectExact(tree, result);
  });
}
