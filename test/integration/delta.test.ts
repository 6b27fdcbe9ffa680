/**
 * The delta (feature DELTA, PROTOCOL.md §7.7): files of 20 MiB changed four ways (regions rewritten
 * in place, bytes inserted near the start, truncated, appended) go over a destination that holds
 * their old versions, pushed and pulled through a proxy in front of a real fcpd, and copied
 * locally with --no-whole-file. The copies are exact, bytesSent and the proxy's byte counts stay
 * far below the files' size, bytesSaved reports the rest; -W and a local copy by default send
 * everything. Many changed files announced at once have their old versions read a few at a time.
 * A hostile sender's DELTA_COPY gets a clear protocol error from fcpd.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { exitCodeFor, FcpErrorCode } from '../../src/errors';
import { DELTA_MAX_BLOCK, DELTA_MIN_FILE, DELTA_SIG_ENTRY_SIZE, PacketType } from '../../src/protocol';
import type { Message } from '../../src/protocol/messages';
import { attachData, livePushSession, pushOneFile } from './helpers/hostilePeer';
import { proxyLauncher, ProxyReport } from './helpers/proxy';
import { describeRun, killAll } from './helpers/run';
import { testBothLocalPaths } from './helpers/localPaths';
import { TempDirs, useTempDirs, useTempStateHome } from './helpers/tmp';
import { compareTrees } from './helpers/compare';
import * as deltaFiles from '../../src/transfer/deltaFiles';
import * as deltaFrames from '../../src/transfer/deltaFrames';
import { DIGESTS_AT_ONCE } from '../../src/sync/fileDigest';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const BASE_BYTES = 20 * MiB;
const temp = useTempDirs();
const shared = new TempDirs();
// The receivers' signature caches stay out of the user's state.
useTempStateHome();
/** The new versions (the source tree) and the old ones (what each destination starts with). */
let newTree = '';
let oldTree = '';
const NAMES = ['in-place', 'inserted', 'truncated', 'appended'] as const;
/**
 * Literal bytes each change may cost at most: a content-defined block of up to DELTA_MAX_BLOCK
 * around each edit, twice for an edit across a boundary, and DATA_UNIT rounding; the appended
 * file its new MiB besides.
 */
const LITERAL_BOUND = 10 * 2 * DELTA_MAX_BLOCK + 2 * DELTA_MAX_BLOCK + 2 * DELTA_MAX_BLOCK + (MiB + 2 * DELTA_MAX_BLOCK);
const NEW_BYTES = 4 * BASE_BYTES - 4 * MiB + 100 + MiB;

beforeAll(() => {
  const base = shared.make('fcp-delta-src');
  newTree = path.join(base, 'new');
  oldTree = path.join(base, 'old');
  fs.mkdirSync(newTree);
  fs.mkdirSync(oldTree);
  for (const name of NAMES) {
    const old = randomBytes(BASE_BYTES);
    let changed: Buffer;
    if (name === 'in-place') {
      changed = Buffer.from(old);
      for (let region = 0; region < 10; region++) randomBytes(4096).copy(changed, 1 * MiB + region * 1_900_000);
    } else if (name === 'inserted') {
      changed = Buffer.concat([old.subarray(0, 1000), randomBytes(100), old.subarray(1000)]);
    } else if (name === 'truncated') {
      changed = old.subarray(0, BASE_BYTES - 4 * MiB);
    } else {
      changed = Buffer.concat([old, randomBytes(MiB)]);
    }
    fs.writeFileSync(path.join(oldTree, name), old);
    fs.writeFileSync(path.join(newTree, name), changed);
    // The in-place file keeps its size: a different mtime makes the quick check send it.
    fs.utimesSync(path.join(oldTree, name), new Date('2020-01-01'), new Date('2020-01-01'));
  }
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

/** A destination directory holding the old versions. */
function destinationWithOldVersions(): string {
  const dst = temp.make('fcp-delta-dst');
  for (const name of NAMES) fs.copyFileSync(path.join(oldTree, name), path.join(dst, name));
  for (const name of NAMES) fs.utimesSync(path.join(dst, name), new Date('2020-01-01'), new Date('2020-01-01'));
  return dst;
}

function expectSameFiles(dst: string): void {
  for (const name of NAMES) {
    expect({ name, same: fs.readFileSync(path.join(dst, name)).equals(fs.readFileSync(path.join(newTree, name))) }).toEqual({ name, same: true });
  }
}

/** Bytes the data connections carried from the sender: to fcpd on a push, from it on a pull. */
function dataBytes(report: ProxyReport, direction: 'push' | 'pull'): number {
  return report.bytes.slice(1).reduce((sum, bytes) => sum + (direction === 'push' ? bytes.toServer : bytes.toClient), 0);
}

test.each(['push', 'pull'] as const)('%s: changed files go as a delta, exact, with a fraction of their bytes on the wire', async (direction) => {
  const dst = destinationWithOldVersions();
  const { launcher, report } = proxyLauncher({});
  const summary = await copy({
    sources: NAMES.map((name) => (direction === 'pull' ? `localhost:${newTree}/${name}` : `${newTree}/${name}`)),
    destination: direction === 'push' ? `localhost:${dst}` : dst,
    connections: 2,
    launcher,
  });
  expect(summary.errors).toEqual([]);
  expectSameFiles(dst);
  expect(summary.bytes).toBe(NEW_BYTES);
  expect(summary.bytesSent).toBeLessThanOrEqual(LITERAL_BOUND);
  expect(summary.bytesSent + summary.bytesSaved).toBe(NEW_BYTES);
  // Frames, DELTA_COPY and CHUNK_SUM cost little beside the literal bytes.
  expect(dataBytes(report, direction)).toBeLessThan(summary.bytesSent + MiB);
});

test('-W sends changed files whole over the network too', async () => {
  const dst = destinationWithOldVersions();
  const { launcher } = proxyLauncher({});
  const summary = await copy({ sources: NAMES.map((name) => `${newTree}/${name}`), destination: `localhost:${dst}`, connections: 2, launcher, wholeFile: true });
  expect(summary.errors).toEqual([]);
  expectSameFiles(dst);
  expect({ bytesSent: summary.bytesSent, bytesSaved: summary.bytesSaved }).toEqual({ bytesSent: NEW_BYTES, bytesSaved: 0 });
});

testBothLocalPaths('a local copy sends changed files whole by default, as a delta with --no-whole-file', async (run) => {
  for (const [option, delta] of [[[], false], [['--no-whole-file'], true]] as const) {
    const dst = destinationWithOldVersions();
    const result = await run([...option, '--json', ...NAMES.map((name) => `${newTree}/${name}`), dst]);
    expect({ code: result.code, run: result.code === 0 ? '' : describeRun(result) }).toEqual({ code: 0, run: '' });
    expectSameFiles(dst);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop()!) as { bytesSent: number; bytesSaved: number };
    if (delta) {
      expect(summary.bytesSent).toBeLessThanOrEqual(LITERAL_BOUND);
      expect(summary.bytesSent + summary.bytesSaved).toBe(NEW_BYTES);
    } else {
      expect({ bytesSent: summary.bytesSent, bytesSaved: summary.bytesSaved }).toEqual({ bytesSent: NEW_BYTES, bytesSaved: 0 });
    }
  }
});

/** COUNT files of DELTA_MIN_FILE bytes whose destination holds the same bytes with another mtime: the quick check sends each, as a delta. */
function sameBytesOlderTimes(count: number): { src: string; dst: string } {
  const base = temp.make('fcp-delta-many');
  const src = path.join(base, 'src');
  const dst = path.join(base, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
  for (let i = 0; i < count; i++) {
    const body = randomBytes(DELTA_MIN_FILE);
    fs.writeFileSync(path.join(src, `f${i}`), body);
    fs.writeFileSync(path.join(dst, `f${i}`), body);
    fs.utimesSync(path.join(dst, `f${i}`), new Date('2019-01-01'), new Date('2019-01-01'));
  }
  return { src, dst };
}

/**
 * Runs `body` with `module[name]` (an async function) counted: its calls, and the most of them
 * running at once. Each call waits a little first, so that calls started together overlap
 * whatever the machine's speed.
 */
async function countedAtOnce(module: object, name: string, body: () => Promise<void>): Promise<{ calls: number; most: number }> {
  const functions = module as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const real = functions[name]!;
  let running = 0;
  let most = 0;
  let calls = 0;
  const counted = async (...args: unknown[]): Promise<unknown> => {
    calls++;
    most = Math.max(most, ++running);
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return await real(...args);
    } finally {
      running--;
    }
  };
  const spy = jest.spyOn(functions, name).mockImplementation(counted);
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return { calls, most };
}

/**
 * The bench's stall (1,000 files of 1 MiB touched, then synced: all deltas at once) in small: the
 * receiver is announced a window of changed files in one go, and read all their old versions at
 * once, each with a descriptor beyond the open-file budget and a buffer of up to 4 MiB: a thousand
 * held about 1 GiB and stalled fcpd past the idle timeout. With their signatures cached the sender
 * was asked for a window of files at once in the same way, and cut them all into blocks at once.
 */
test('many changed files at once: old versions read, and new ones cut into blocks, a few at a time', async () => {
  const COUNT = 40;
  const { src, dst } = sameBytesOlderTimes(COUNT);
  const copyAsDeltas = async (): Promise<void> => {
    const summary = await copy({ sources: [`${src}/`], destination: `${dst}/`, recursive: true, wholeFile: false });
    expect(summary.errors).toEqual([]);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(summary.bytesSent + summary.bytesSaved).toBe(COUNT * DELTA_MIN_FILE);
  };
  const fewAtOnce = ({ calls, most }: { calls: number; most: number }): unknown => ({ calls, fewAtOnce: most <= DIGESTS_AT_ONCE });
  expect(fewAtOnce(await countedAtOnce(deltaFiles, 'signOldVersion', copyAsDeltas))).toEqual({ calls: COUNT, fewAtOnce: true });
  // The receiver now holds each file's signature (NEW_SIG): after a touch of the sources none is read again.
  for (let i = 0; i < COUNT; i++) fs.utimesSync(path.join(src, `f${i}`), new Date('2021-01-01'), new Date('2021-01-01'));
  const signed = await countedAtOnce(deltaFiles, 'signOldVersion', async () => {
    expect(fewAtOnce(await countedAtOnce(deltaFrames, 'scanFile', copyAsDeltas))).toEqual({ calls: COUNT, fewAtOnce: true });
  });
  expect(signed.calls).toBe(0);
});

describe('a hostile sender', () => {
  const mtimeNs = 1_700_000_000_000_000_000n;
  const SIZE = 1024 * 1024;
  const copyOf = (fields: { offset?: number; oldOffset?: number; length?: number }): Message => ({
    type: PacketType.DELTA_COPY,
    fileId: 0,
    offset: fields.offset ?? 0,
    oldOffset: fields.oldOffset ?? 0,
    length: fields.length ?? 65536,
  });

  /** A push of one file of SIZE bytes over `old` (its old version, or none); `data` goes once fcpd answered FILE_READY. */
  async function hostileDelta(old: Buffer | undefined, data: Message[], delta = true): Promise<{ answered: string[]; signed: number; ended: unknown; stderr: string }> {
    const work = temp.make('fcp-delta-hostile');
    if (old) fs.writeFileSync(path.join(work, 'f'), old);
    const live = await livePushSession(work, 1, { delta });
    const dataConn = await attachData(live);
    let signed = 0;
    const { answered, ended, stderr } = await pushOneFile(live, { size: SIZE, mtimeNs }, (message) => {
      if (message.type === PacketType.DELTA_SIG) signed += message.entries.length / DELTA_SIG_ENTRY_SIZE;
      if (message.type === PacketType.FILE_READY) for (const m of data) dataConn.send(m);
    });
    return { answered, signed, ended, stderr };
  }

  const cases: [string, Buffer | undefined, Message[], FcpErrorCode, boolean?][] = [
    ['DELTA_COPY for a file fcpd holds no old version of', undefined, [copyOf({})], 'FCP_ERR_PROTOCOL'],
    ['DELTA_COPY from past the old version', randomBytes(SIZE), [copyOf({ oldOffset: SIZE - 100 })], 'FCP_ERR_PROTOCOL'],
    ['DELTA_COPY past its chunk', randomBytes(SIZE), [copyOf({ length: SIZE + 1 })], 'FCP_ERR_PROTOCOL'],
    ['DELTA_COPY that does not start a chunk', randomBytes(SIZE), [copyOf({ offset: 100 })], 'FCP_ERR_PROTOCOL'],
    ['DELTA_COPY in a session without DELTA', randomBytes(SIZE), [copyOf({})], 'FCP_ERR_UNEXPECTED_MESSAGE', false],
  ];

  test.each(cases)('%s: fcpd answers with a clear ERROR and ends the session', async (_name, old, data, expected, delta = true) => {
    const { answered, signed, ended, stderr } = await hostileDelta(old, data, delta);
    expect({ answered, ended }).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
    // fcpd described its old version only in a session with DELTA, and only when it had one.
    expect(signed > 0).toBe(old !== undefined && delta);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
