/**
 * A source that cannot be read (EIO from the device, issue 12): a file on a loop-mounted file
 * system whose image was cut short (helpers/failingDisk.ts). It fails alone with FCP_ERR_IO naming
 * it (and, on a pull, the host that could not read it); the other files are copied (exit 8),
 * unless --fail-fast (exit 4); nothing appears under its final name and no part file is kept
 * (resuming a file that cannot be read is pointless).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, isFcpError, localLauncher } from '../../src';
import { compareTrees, leftoverTemporaries } from './helpers/compare';
import { FAILING_SIZE, fileWithReadError, readFailsWithEio } from './helpers/failingDisk';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, errorCodes, killAll, runFcp, stackLines } from './helpers/run';
import { isRoot, useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(60_000);

const temp = useTempDirs();
afterAll(() => killAll());

/** a-before and c-after on an ordinary disk, b-broken between them on the failing one. */
function sources(): { work: string; broken: string; dst: string } {
  const work = temp.make('fcp-eio-src');
  makeFile(work, 'a-before', 300_000);
  makeFile(work, 'c-after', 200_000);
  const broken = fileWithReadError(temp, 'b-broken', Buffer.alloc(FAILING_SIZE, 0x42));
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  return { work, broken, dst };
}

const describeAsRoot = isRoot ? describe : describe.skip;

describeAsRoot('a source read error (EIO)', () => {
  test('the failing disk works here: reading the file whole fails with EIO', () => {
    const { broken } = sources();
    expect(readFailsWithEio(broken)).toBe(true);
  });

  testBothLocalPaths('it fails alone with FCP_ERR_IO naming it, the others are copied: exit 8; nothing of it is left', async (runLocal) => {
    const { work, broken, dst } = sources();
    const result = await runLocal(['--chunk-size', '1M', 'a-before', broken, 'c-after', 'dst'], { cwd: work });
    const what = describeRun(result);
    expect({ exit: result.code, codes: errorCodes(result.stderr), what }).toEqual({ exit: 8, codes: ['FCP_ERR_IO'], what });
    expect(result.stderr).toMatch(/cannot read .*b-broken: EIO.*FCP_ERR_IO/);
    expect(stackLines(result.stderr)).toEqual([]);
    expect(fs.readdirSync(dst).sort()).toEqual(['a-before', 'c-after']);
    for (const name of ['a-before', 'c-after']) expect(compareTrees(path.join(work, name), path.join(dst, name))).toEqual([]);
  });

  test('--fail-fast: the run stops at it with FCP_ERR_IO and exit 4; nothing of it is left', async () => {
    const { work, broken, dst } = sources();
    const result = await runFcp(['--fail-fast', '-n', '1', broken, 'c-after', 'dst'], { cwd: work });
    const what = describeRun(result);
    expect({ exit: result.code, codes: errorCodes(result.stderr), what }).toEqual({ exit: 4, codes: ['FCP_ERR_IO'], what });
    expect(result.stderr).toMatch(/--fail-fast: stopped at the first failure: .*b-broken/);
    expect(fs.readdirSync(dst).filter((name) => name.includes('b-broken'))).toEqual([]);
    expect(leftoverTemporaries(dst)).toEqual([]);
  });

  test('a pull: the error names the file and the host that could not read it, the others are copied', async () => {
    const { work, broken, dst } = sources();
    const summary = await copy({
      sources: [`localhost:${path.join(work, 'a-before')}`, `localhost:${broken}`, `localhost:${path.join(work, 'c-after')}`],
      destination: dst,
      launcher: localLauncher(),
    }).catch((err: unknown) => {
      throw new Error(`copy() rejected: ${isFcpError(err) ? `${err.code} ${err.message}` : String(err)}`);
    });
    expect({ filesFailed: summary.filesFailed, codes: summary.errors.map((e) => e.code) }).toEqual({ filesFailed: 1, codes: ['FCP_ERR_IO'] });
    expect(summary.errors[0]!.message).toMatch(/^fcpd on 127\.0\.0\.1:\d+ reported: cannot read .*b-broken: EIO/);
    expect(fs.readdirSync(dst).sort()).toEqual(['a-before', 'c-after']);
  });
});
