/**
 * Faults of the sources, the destination and the connections, each with one code and one exit
 * code: a source written in place or truncated while it is read (FCP_ERR_SOURCE_CHANGED) or
 * appended to (a warning; a source read error is sourceReadError.test.ts), a file over the file-size limit (FCP_ERR_FILE_TOO_LARGE, `ulimit -f`), a directory
 * that cannot be written (FCP_ERR_PERMISSION, as nobody), --fail-fast, exit 4 when nothing was
 * copied and 8 when some files were, and a cut data connection or a flipped control byte giving
 * the same code on every run. Never a file under its final name with wrong content.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, isFcpError, localLauncher } from '../../src';
import type { CopyEvent, CopySummary } from '../../src';
import { compareTrees, leftoverTemporaries, sha256File } from './helpers/compare';
import { proxyLauncher, ProxyPlan } from './helpers/proxy';
import { describeRun, errorCodes, FCP_BIN, killAll, runFcp, RunOptions, runProgram, stackLines, unprivilegedUser } from './helpers/run';
import { testBothLocalPaths } from './helpers/localPaths';
import { chownTree, isRoot, useTempDirs } from './helpers/tmp';
import { makeFile, TreeBuilder } from './helpers/tree';

jest.setTimeout(60_000);

const temp = useTempDirs();
afterAll(() => killAll());

const MiB = 1024 * 1024;

/** How copy() ended: its summary, or the code and message it rejected with. */
async function outcomeOf(run: Promise<CopySummary>): Promise<{ summary?: CopySummary; code?: string; message?: string }> {
  return run.then(
    (summary) => ({ summary }),
    (err: unknown) => (isFcpError(err) ? { code: err.code, message: err.message } : { code: 'not an FcpError', message: String(err) }),
  );
}

describe('a source that changes while fcp reads it (a push: this process is the sender)', () => {
  /**
   * a-first (4 MiB) is sent before b-big (64 MiB) on one connection; when fcpd has verified
   * a-first, at most the few MiB that fit in the socket buffers and fcpd's queue have been read of
   * b-big, so what `change` does to it then happens while b-big is being read.
   */
  async function copyChanging(change: (big: string) => void): Promise<{ work: string; dst: string; big: string; original: string; events: CopyEvent[]; summary: CopySummary }> {
    const work = temp.make('fcp-faults-src');
    const first = makeFile(work, 'a-first', 4 * MiB);
    const big = makeFile(work, 'b-big', 64 * MiB);
    const original = sha256File(big);
    const dst = temp.make('fcp-faults-dst');
    const events: CopyEvent[] = [];
    const summary = await copy({
      sources: [first, big],
      destination: `localhost:${dst}`,
      connections: 1,
      launcher: localLauncher(),
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'file' && event.path === 'a-first') change(big);
      },
    });
    return { work, dst, big, original, events, summary };
  }

  /** Writes `bytes` at `position` of the file in place (dd conv=notrunc). */
  function overwrite(file: string, position: number, bytes: Buffer): void {
    const fd = fs.openSync(file, 'r+');
    try {
      fs.writeSync(fd, bytes, 0, bytes.length, position);
    } finally {
      fs.closeSync(fd);
    }
  }

  test('its first and last MiB overwritten in place halfway: FCP_ERR_SOURCE_CHANGED naming it, never under its final name; the other file is copied', async () => {
    const { work, dst, events, summary } = await copyChanging((big) => {
      const size = fs.statSync(big).size;
      overwrite(big, 0, Buffer.alloc(MiB, 0x5a));
      overwrite(big, size - MiB, Buffer.alloc(MiB, 0x5a));
    });
    expect({ files: summary.files, filesFailed: summary.filesFailed, codes: summary.errors.map((e) => e.code) }).toEqual({
      files: 1,
      filesFailed: 1,
      codes: ['FCP_ERR_SOURCE_CHANGED'],
    });
    expect(summary.errors[0]!.message).toMatch(/b-big was modified while it was being read; not copied/);
    expect(events.find((e) => e.type === 'file' && e.path === 'b-big')).toMatchObject({ error: { code: 'FCP_ERR_SOURCE_CHANGED' } });
    expect(fs.readdirSync(dst)).toEqual(['a-first']);
    expect(compareTrees(path.join(work, 'a-first'), path.join(dst, 'a-first'))).toEqual([]);
    expect(leftoverTemporaries(dst)).toEqual([]);
  });

  test('truncated to a quarter halfway: FCP_ERR_SOURCE_CHANGED ("shrank") naming it, neither the file nor a part file is left; the other file is copied', async () => {
    const { work, dst, summary } = await copyChanging((big) => fs.truncateSync(big, 16 * MiB));
    expect({ files: summary.files, filesFailed: summary.filesFailed, codes: summary.errors.map((e) => e.code) }).toEqual({
      files: 1,
      filesFailed: 1,
      codes: ['FCP_ERR_SOURCE_CHANGED'],
    });
    expect(summary.errors[0]!.message).toMatch(/b-big shrank while it was being read; not copied/);
    // Resuming it would be pointless: unlike a full disk, nothing of it is kept (PROTOCOL.md §7.5).
    expect(fs.readdirSync(dst)).toEqual(['a-first']);
    expect(compareTrees(path.join(work, 'a-first'), path.join(dst, 'a-first'))).toEqual([]);
  });

  test('appended to halfway: copied as it was at the start (its first 64 MiB), with a "file changed as we read it" warning', async () => {
    const { dst, original, events, summary } = await copyChanging((big) => fs.appendFileSync(big, Buffer.alloc(MiB, 0x5a)));
    expect({ files: summary.files, errors: summary.errors }).toEqual({ files: 2, errors: [] });
    const event = events.find((e) => e.type === 'file' && e.path === 'b-big');
    expect(event).toMatchObject({ size: 64 * MiB, warning: expect.stringMatching(/b-big: file changed as we read it \(it grew\); its first 67108864 bytes were copied/) });
    expect(fs.statSync(path.join(dst, 'b-big')).size).toBe(64 * MiB);
    expect(sha256File(path.join(dst, 'b-big'))).toBe(original);
  });
});

/** Runs bin/fcp under bash with `ulimit -f blocks` (1 KiB blocks): its local fcpd inherits the file-size limit. */
function runFcpWithFileLimit(blocks: number, args: string[], options: RunOptions): ReturnType<typeof runFcp> {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return runProgram('/bin/bash', ['-c', `ulimit -f ${blocks} && exec '${process.execPath}' '${FCP_BIN}' ${quoted}`], options);
}

describe('a destination file-size limit (ulimit -f on fcpd): EFBIG', () => {
  test('the file over the limit fails with FCP_ERR_FILE_TOO_LARGE naming it, the others are copied: exit 8; alone: exit 4', async () => {
    const work = temp.make('fcp-faults-src');
    makeFile(work, 'a-small', 100_000);
    makeFile(work, 'b-large', 3 * MiB);
    makeFile(work, 'c-small', 200_000);
    const dst = path.join(work, 'dst');
    fs.mkdirSync(dst);
    const partial = await runFcpWithFileLimit(1024, ['a-small', 'b-large', 'c-small', 'dst'], { cwd: work });
    const what = describeRun(partial);
    expect({ exit: partial.code, codes: errorCodes(partial.stderr), what }).toEqual({ exit: 8, codes: ['FCP_ERR_FILE_TOO_LARGE'], what });
    expect(partial.stderr).toMatch(/b-large.*FCP_ERR_FILE_TOO_LARGE/);
    expect(stackLines(partial.stderr)).toEqual([]);
    expect(fs.readdirSync(dst).sort()).toEqual(['a-small', 'c-small']);
    for (const name of ['a-small', 'c-small']) expect(compareTrees(path.join(work, name), path.join(dst, name))).toEqual([]);

    const alone = await runFcpWithFileLimit(1024, ['b-large', 'dst'], { cwd: work });
    expect({ exit: alone.code, codes: errorCodes(alone.stderr) }).toEqual({ exit: 4, codes: ['FCP_ERR_FILE_TOO_LARGE'] });
    expect(fs.readdirSync(dst).sort()).toEqual(['a-small', 'c-small']);
    expect(leftoverTemporaries(dst)).toEqual([]);
  });

  test('--fail-fast: the run stops at that file, with its code and exit 4; the files after it are not sent', async () => {
    const work = temp.make('fcp-faults-src');
    makeFile(work, 'a-large', 3 * MiB);
    for (let i = 0; i < 20; i++) makeFile(work, `b-after-${String(i).padStart(2, '0')}`, 2 * MiB);
    const dst = path.join(work, 'dst');
    fs.mkdirSync(dst);
    const names = fs.readdirSync(work).filter((n) => n !== 'dst').sort();
    const result = await runFcpWithFileLimit(1024, ['--fail-fast', '-n', '1', ...names, 'dst'], { cwd: work });
    const what = describeRun(result);
    expect({ exit: result.code, codes: errorCodes(result.stderr), what }).toEqual({ exit: 4, codes: ['FCP_ERR_FILE_TOO_LARGE'], what });
    expect(result.stderr).toMatch(/--fail-fast: stopped at the first failure: .*a-large/);
    // a-large fails at once (its size is set first): the 40 MiB behind it are not all sent.
    const copied = fs.readdirSync(dst).filter((n) => !n.startsWith('.'));
    expect(copied.length).toBeLessThan(20);
    for (const name of copied) expect(compareTrees(path.join(work, name), path.join(dst, name))).toEqual([]);
    expect(copied).not.toContain('a-large');
    expect(leftoverTemporaries(dst)).toEqual([]);
  });
});

const describeAsRoot = isRoot ? describe : describe.skip;

describeAsRoot('permission denied (fcp and its fcpd run as nobody, where root would bypass permissions)', () => {
  testBothLocalPaths('a destination directory that cannot be written fails its files alone (FCP_ERR_PERMISSION, the directory named): exit 8; nothing copied: exit 4', async (runFcp) => {
    const work = temp.make('fcp-faults-perm');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['open.bin'], 50_000);
    t.dir(['locked']);
    t.file(['locked', 'inside.bin'], 30_000);
    t.finish();
    fs.mkdirSync(path.join(work, 'dst', 'src', 'locked'), { recursive: true });
    const user = unprivilegedUser();
    chownTree(work, user.uid, user.gid);
    // root's, not nobody's: nobody can neither write in it nor chmod it.
    fs.chownSync(path.join(work, 'dst', 'src', 'locked'), 0, 0);
    fs.chmodSync(path.join(work, 'dst', 'src', 'locked'), 0o755);
    const options: RunOptions = { cwd: work, uid: user.uid, gid: user.gid };

    const partial = await runFcp(['-r', 'src', 'dst'], options);
    const what = describeRun(partial);
    expect({ exit: partial.code, codes: errorCodes(partial.stderr), what }).toEqual({ exit: 8, codes: ['FCP_ERR_PERMISSION'], what });
    // The directory is named once, and what is below it (inside.bin) fails with its error without a line of its own.
    expect(partial.stderr).toMatch(/^fcp: src\/locked: .*; nothing below it is copied \(FCP_ERR_PERMISSION\)\n$/);
    expect(compareTrees(path.join(work, 'src', 'open.bin'), path.join(work, 'dst', 'src', 'open.bin'))).toEqual([]);
    expect(fs.readdirSync(path.join(work, 'dst', 'src', 'locked'))).toEqual([]);

    const none = await runFcp(['src/locked/inside.bin', 'dst/src/locked/'], options);
    expect({ exit: none.code, codes: errorCodes(none.stderr) }).toEqual({ exit: 4, codes: ['FCP_ERR_PERMISSION'] });
    expect(none.stderr).toContain('inside.bin');
    expect(fs.readdirSync(path.join(work, 'dst', 'src', 'locked'))).toEqual([]);
  });
});

describe('one exit code per cause, whatever the timing (5 runs each)', () => {
  const parent = (): string => {
    const work = temp.make('fcp-faults-net');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['big.bin'], 8 * MiB + 4321);
    for (let i = 0; i < 4; i++) t.file([`small-${i}`], 1000 * (i + 1));
    t.finish();
    return path.join(work, 'src');
  };

  async function runThrough(src: string, plan: ProxyPlan, encrypt: boolean): Promise<{ code?: string; message?: string; hit: boolean; dst: string }> {
    const dst = temp.make('fcp-faults-dst');
    const { launcher, report } = proxyLauncher(plan);
    const outcome = await outcomeOf(copy({ sources: [src], destination: `localhost:${dst}`, recursive: true, connections: 2, encrypt, launcher }));
    return { code: outcome.code ?? `resolved with ${outcome.summary?.errors.map((e) => e.code).join(',') || 'no error'}`, message: outcome.message, hit: report.faulted, dst };
  }

  test.each([false, true])('a data connection cut mid-transfer (encrypt=%s), at a frame boundary or inside one: always an exact copy (exit 0)', async (encrypt) => {
    const src = parent();
    // Positions inside the first chunks of a data connection (the first to get there: under load one
    // of the two may carry little), at different offsets in its frames.
    for (const position of [70_001, 300_000, 1_048_700, 1_500_003, 2_000_000]) {
      const run = await runThrough(src, { fault: { connection: 'anyData', direction: 'toServer', at: position, fault: { kind: 'cut', how: 'fin' } } }, encrypt);
      expect({ position, hit: run.hit, code: run.code }).toEqual({ position, hit: true, code: 'resolved with no error' });
      expect(leftoverTemporaries(run.dst)).toEqual([]);
      expect(compareTrees(src, path.join(run.dst, 'src'))).toEqual([]);
    }
  });

  test.each([false, true])('a flipped byte on the control connection (encrypt=%s): always a checksum or decryption error (exit 3), never an authentication failure', async (encrypt) => {
    const src = parent();
    for (let run = 1; run <= 5; run++) {
      const outcome = await runThrough(src, { fault: { connection: 0, direction: 'toServer', at: 300, fault: { kind: 'corrupt' } } }, encrypt);
      expect({ run, hit: outcome.hit, code: outcome.code }).toEqual({ run, hit: true, code: encrypt ? 'FCP_ERR_DECRYPT' : 'FCP_ERR_BAD_CHECKSUM' });
      expect(leftoverTemporaries(outcome.dst)).toEqual([]);
    }
  });
});
