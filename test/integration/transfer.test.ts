/**
 * The transfer engine end to end with real processes on loopback: push and pull through a
 * spawned fcpd (Node API, remote-looking locations with an injected local launcher) and local
 * copies through the fcp CLI, each with 1 and 8 data connections, encrypted and not. Every copy
 * is checked file by file: names (including non-UTF-8 ones), sha256, modes, mtimes, symlinks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import type { CopyEvent, Launcher } from '../../src';
import { compareTrees, show } from './helpers/compare';
import { describeRun, killAll, runFcp, stackLines } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { BuiltTree, buildMixedTree, makeFile, TreeBuilder } from './helpers/tree';

jest.setTimeout(60_000);

const temp = useTempDirs();
const shared = new TempDirs();
let tree: BuiltTree;

beforeAll(() => {
  tree = buildMixedTree(shared.make('fcp-src'));
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

// A local copy runs in fcp's process unless --via-fcpd, or encryption, asks for a local fcpd.
type Direction = 'push' | 'pull' | 'local' | 'local --via-fcpd';
const MATRIX: [Direction, number, boolean][] = [];
for (const direction of ['push', 'pull', 'local', 'local --via-fcpd'] as Direction[]) {
  for (const connections of [1, 8]) for (const encrypt of [false, true]) MATRIX.push([direction, connections, encrypt]);
}

function fileEvents(events: CopyEvent[]): Extract<CopyEvent, { type: 'file' }>[] {
  return events.filter((e): e is Extract<CopyEvent, { type: 'file' }> => e.type === 'file');
}

describe('the mixed tree (boundary sizes, odd names, modes, old mtimes, symlinks, empty dirs)', () => {
  test.each(MATRIX)('%s copy with %i connection(s), encrypt=%s: identical tree', async (direction, connections, encrypt) => {
    const dst = temp.make(`fcp-dst-${direction}`);
    if (direction.startsWith('local')) {
      const viaFcpd = direction === 'local --via-fcpd' ? ['--via-fcpd'] : [];
      const result = await runFcp(
        [...viaFcpd, '-r', '-n', String(connections), encrypt ? '--encrypt' : '--no-encrypt', '--json', tree.name, dst],
        { cwd: tree.parent, timeoutMs: 45_000 },
      );
      const what = describeRun(result);
      expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
      expect(stackLines(result.stderr)).toEqual([]);
      const records = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(records.at(-1)).toMatchObject({
        event: 'summary',
        files: tree.fileCount,
        filesFailed: 0,
        bytes: tree.totalBytes,
        connections,
        encrypted: encrypt,
        mode: direction === 'local' && !encrypt ? 'in-process' : 'fcpd',
        errors: [],
      });
    } else {
      const events: CopyEvent[] = [];
      const summary = await copy({
        sources: [direction === 'pull' ? `localhost:${tree.root}` : tree.root],
        destination: direction === 'push' ? `localhost:${dst}` : dst,
        recursive: true,
        connections,
        encrypt,
        launcher: localLauncher(),
        onEvent: (e) => events.push(e),
      });
      expect(summary.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
      expect(summary).toMatchObject({ files: tree.fileCount, filesFailed: 0, bytes: tree.totalBytes, connections, encrypted: encrypt });
      const files = fileEvents(events);
      expect(files.filter((e) => e.error)).toEqual([]);
      expect(files).toHaveLength(tree.fileCount);
      // A file's text path and digest are getters, worked out when read; JSON.stringify has them.
      for (const file of files) {
        expect(JSON.parse(JSON.stringify(file))).toMatchObject({ type: 'file', path: file.pathBytes.toString('utf8'), size: file.size, digest: expect.stringMatching(/^[0-9a-f]{32}$/) });
      }
      expect(events[0]).toMatchObject({ type: 'start', files: tree.fileCount, bytes: tree.totalBytes });
    }
    // dst existed, so the tree lands in dst/<name>, and nothing else (no leftover temporaries).
    expect(fs.readdirSync(dst)).toEqual([tree.name]);
    expect(compareTrees(tree.root, path.join(dst, tree.name))).toEqual([]);
  });
});

test('one 200 MB file pushed over 8 encrypted connections arrives intact', async () => {
  const src = temp.make('fcp-big');
  const dst = temp.make('fcp-big-dst');
  const file = makeFile(src, 'big.bin', 200 * 1024 * 1024 + 12345, { mode: 0o640, mtime: '2001-09-09T01:46:40.987Z' });
  const started = Date.now();
  const summary = await copy({
    sources: [file],
    destination: `localhost:${dst}`,
    connections: 8,
    encrypt: true,
    launcher: localLauncher(),
  });
  const seconds = (Date.now() - started) / 1000;
  expect(summary.errors).toEqual([]);
  expect(summary).toMatchObject({ files: 1, filesFailed: 0, bytes: 200 * 1024 * 1024 + 12345, connections: 8, encrypted: true });
  expect(fs.readdirSync(dst)).toEqual(['big.bin']);
  expect(compareTrees(file, path.join(dst, 'big.bin'))).toEqual([]);
  // Not a benchmark; just a guard against a pathological slowdown on loopback.
  expect(seconds).toBeLessThan(45);
}, 90_000);

test('no progress event comes before start, however slowly the session gets going', async () => {
  const dst = temp.make('fcp-order-dst');
  const local = localLauncher();
  // Each connection to fcpd opens late while progress would tick every millisecond: a ticker
  // running before the session's start event would emit progress in that gap.
  const slowToConnect: Launcher = {
    async launch(secret, log) {
      const server = await local.launch(secret, log);
      return { ...server, connect: async () => (await new Promise((resolve) => setTimeout(resolve, 100)), server.connect()) };
    },
  };
  const events: CopyEvent[] = [];
  await copy({
    sources: [`localhost:${tree.root}`],
    destination: dst,
    recursive: true,
    launcher: slowToConnect,
    progressIntervalMs: 1,
    onEvent: (e) => events.push(e),
  });
  const kinds = events.map((e) => e.type);
  expect(kinds[0]).toBe('start');
  expect(kinds.filter((k) => k === 'start')).toHaveLength(1);
  expect(kinds.at(-1)).toBe('progress');
  expect(events.at(-1)).toMatchObject({ bytesDone: tree.totalBytes, filesDone: tree.fileCount });
});

test('mtimes at the edges: before 1970, the epoch itself, and the year 2200 are preserved', async () => {
  const parent = temp.make('fcp-mtimes');
  const dst = temp.make('fcp-mtimes-dst');
  const t = new TreeBuilder(Buffer.from(path.join(parent, 'times')));
  t.dir([], 0o755, '2004-04-04T04:04:04.404Z');
  const moonLanding = t.file(['1969-moon-landing'], 100);
  const epoch = t.file(['1970-epoch'], 100);
  const future = t.file(['2200-future'], 100, { mtime: '2200-01-01T00:00:00.250Z' });
  const oldDir = t.dir(['1960-dir'], 0o755);
  t.finish();
  // fs.utimes with a negative number means "now" in Node; Dates pass negative times through.
  fs.utimesSync(moonLanding, new Date(1), new Date('1969-07-20T20:17:40.125Z'));
  fs.utimesSync(epoch, 0, 0);
  fs.utimesSync(oldDir, new Date(1), new Date('1960-01-01T00:00:00.500Z'));
  fs.utimesSync(t.root, new Date(1), new Date('2004-04-04T04:04:04.404Z'));
  expect(fs.statSync(moonLanding).mtimeMs).toBeLessThan(0);
  expect(fs.statSync(future).mtimeMs).toBeGreaterThan(7e12);

  const result = await runFcp(['-r', 'times', dst], { cwd: parent });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const diffs = compareTrees(t.root, path.join(dst, 'times'));
  expect(diffs).toEqual([]);
});

test('the names of the mixed tree exist in the source as raw bytes (the builder did what it claims)', () => {
  const names = fs.readdirSync(path.join(tree.root, 'names'), { encoding: 'buffer' });
  expect(names.some((n) => n.equals(Buffer.from([0x66, 0xff, 0x6f])))).toBe(true);
  expect(names.map(show)).toContain(JSON.stringify('new\nline'));
  expect(fs.readlinkSync(path.join(tree.root, 'links', 'dangling'))).toBe('no/such/target');
  expect(fs.statSync(path.join(tree.root, 'modes', 'd0555')).mode & 0o7777).toBe(0o555);
});
