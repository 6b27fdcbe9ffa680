/**
 * The launch script runs a host's cached fcpd.js with a V8 code cache beside it
 * (src/launch/remoteInstall.ts, RUN_CACHED_FCPD): written by the first run, taken by the next,
 * and written again, never crashed on, when it is corrupt (Node 20 aborts on a code cache with a
 * changed byte, which V8 does not check), truncated, made for another bundle, or cannot be written.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_CACHED_FCPD } from '../../src/launch/remoteInstall';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(60_000);

const REPO = path.resolve(__dirname, '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
const BUNDLE = path.join(REPO, 'dist', 'fcpd.js');
const temp = useTempDirs();

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A host's cache directory with fcpd.js in it, as the installer leaves it. */
function installed(): { file: string; cache: string; hash: string } {
  const dir = temp.make('fcp-launch-cache');
  const file = path.join(dir, 'fcpd.js');
  fs.copyFileSync(BUNDLE, file);
  return { file, cache: `${file}.v8cache`, hash: sha256(fs.readFileSync(file)) };
}

/** `fcpd --version` as the launch script runs the cached bundle. */
function runCached(file: string, hash: string): void {
  const run = spawnSync(process.execPath, ['-e', RUN_CACHED_FCPD, hash, file, '--version'], { encoding: 'utf8', timeout: 30_000 });
  expect({ status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr }).toEqual({
    status: 0,
    signal: null,
    stdout: expect.stringContaining(version) as string,
    stderr: '',
  });
}

/** The cache's header line, checked: what it was made from and the SHA-256 of the code that follows. */
function expectValid(cache: string, bundleHash: string): Buffer {
  const bytes = fs.readFileSync(cache);
  const newline = bytes.indexOf(0x0a);
  const words = bytes.subarray(0, newline).toString('latin1').split(' ');
  expect(words[0]).toBe(process.version);
  expect(words.at(-2)).toBe(bundleHash);
  expect(words.at(-1)).toBe(sha256(bytes.subarray(newline + 1)));
  expect(bytes.length - newline - 1).toBeGreaterThan(10_000);
  expect(fs.statSync(cache).mode & 0o777).toBe(0o600);
  return bytes;
}

test('written by the first run, taken by the next (which writes nothing)', () => {
  const { file, cache, hash } = installed();
  runCached(file, hash);
  const written = expectValid(cache, hash);
  // A cache the next run rejected or did not take would be written again, with other bytes.
  fs.utimesSync(cache, new Date(0), new Date(0));
  runCached(file, hash);
  expect(fs.statSync(cache).mtimeMs).toBe(0);
  expect(fs.readFileSync(cache).equals(written)).toBe(true);
  expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['fcpd.js', 'fcpd.js.v8cache']);
});

const spoil: [string, (bytes: Buffer) => Buffer][] = [
  [
    'bytes of its code changed',
    (bytes) => {
      const spoilt = Buffer.from(bytes);
      for (let i = bytes.indexOf(0x0a) + 200; i < spoilt.length; i += 997) spoilt[i]! ^= 0x5a;
      return spoilt;
    },
  ],
  ['truncated', (bytes) => bytes.subarray(0, bytes.length >> 1)],
  ['cut inside its header', (bytes) => bytes.subarray(0, 20)],
  ['empty', () => Buffer.alloc(0)],
  ['made for another bundle', (bytes) => Buffer.from(bytes.toString('latin1').replace(/^(.*) ([0-9a-f]{64}) ([0-9a-f]{64})\n/, (_, head: string, _bundle: string, code: string) => `${head} ${'0'.repeat(64)} ${code}\n`), 'latin1')],
];

test.each(spoil)('a cache %s: fcpd still starts, and the cache is written again', (_, change) => {
  const { file, cache, hash } = installed();
  runCached(file, hash);
  const good = fs.readFileSync(cache);
  const spoilt = change(good);
  expect(spoilt.equals(good)).toBe(false);
  fs.writeFileSync(cache, spoilt);
  runCached(file, hash);
  expectValid(cache, hash);
});

test('a cache that cannot be written (a directory in its place): fcpd runs, and leaves no temporary file', () => {
  const { file, cache, hash } = installed();
  fs.mkdirSync(cache);
  runCached(file, hash);
  runCached(file, hash);
  expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['fcpd.js', 'fcpd.js.v8cache']);
  expect(fs.readdirSync(cache)).toEqual([]);
});
