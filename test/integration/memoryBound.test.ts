/**
 * fcpd bounds the memory a session may buffer whatever its client offers (PROTOCOL.md §5.2):
 * -n 64 --chunk-size 64M is lowered to 1 MiB chunks, so fcpd's peak RSS stays within the session
 * budget plus what Node itself takes. Unbounded, fcpd held one 64 MiB chunk per busy connection:
 * this file's six chunks in flight at once put it well above the bound (455 and 472 MiB measured
 * for push and pull; about 250 MiB bounded). A session server in this process with a tiny budget
 * shows the daemon-wide account: what a session reserved comes back when it ends, and a session
 * that cannot fit is refused with FCP_ERR_PARAMS.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy, FcpError, Launcher } from '../../src';
import { MAX_CHUNK_SIZE, MAX_CONNECTIONS, MIN_CHUNK_SIZE } from '../../src/protocol/constants';
import { loadXxhash } from '../../src/protocol/xxhash';
import { SESSION_MEMORY_BUDGET, sessionMemory } from '../../src/session/params';
import { SessionServer } from '../../src/server/sessionServer';
import { dial, handLauncher, killAll } from './helpers/run';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const FILE_SIZE = 6 * MAX_CHUNK_SIZE;
/** Node, the modules and the socket buffers of fcpd, measured at about 60 MiB, with room to spare. */
const BASELINE = 96 * MiB;
const PEAK_BOUND = SESSION_MEMORY_BUDGET + BASELINE;

/** A tmpfs when it has room for the source and both copies (the transfer then tests fcpd, not the disk). */
function scratchParent(): string {
  try {
    const stat = fs.statfsSync('/dev/shm');
    if (stat.bavail * stat.bsize > 4 * FILE_SIZE) return '/dev/shm';
  } catch {
    /* no /dev/shm here */
  }
  return os.tmpdir();
}

const scratch = fs.mkdtempSync(path.join(scratchParent(), 'fcp-membound-'));
const source = path.join(scratch, 'big.bin');
let sourceDigest: string;

function sha256(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const block = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let n; (n = fs.readSync(fd, block, 0, block.length, null)) > 0; ) hash.update(block.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

beforeAll(() => {
  // Distinct bytes in every MiB (a repeated block with its index stamped in): cheap to make, and
  // a chunk written at the wrong offset changes the digest.
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(source, 'w');
  for (let i = 0; i < FILE_SIZE / MiB; i++) {
    block.writeUInt32BE(i, 0);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  sourceDigest = sha256(source);
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
  killAll();
});

/** fcpd's peak RSS in bytes, from its "session done" line (fcpd -v). */
function peakRss(stderr: string): number {
  const match = /session done: .*peak RSS (\d+) MiB/.exec(stderr);
  if (!match) throw new Error(`fcpd -v reported no peak RSS; its stderr:\n${stderr}`);
  return Number(match[1]) * MiB;
}

test.each([
  ['push', (remote: string) => ({ sources: [source], destination: `localhost:${remote}` })],
  ['pull', (remote: string) => ({ sources: [`localhost:${source}`], destination: remote })],
])('%s of a 384 MiB file with -n 64 --chunk-size 64M: fcpd lowers the chunks, its peak RSS stays under the bound', async (_direction, where) => {
  const destination = fs.mkdtempSync(path.join(scratch, 'dst-'));
  const { launcher, started } = handLauncher({ verbose: true });
  const logged: string[] = [];
  const summary = await copy({
    ...where(destination),
    // Unsealed frames are views into socket reads, which keep whole reads alive: the worse case.
    encrypt: false,
    connections: MAX_CONNECTIONS,
    chunkSize: MAX_CHUNK_SIZE,
    launcher,
    log: (line) => logged.push(line),
  });
  const fcpdLog = started()!.stderr();
  expect(summary.errors).toEqual([]);
  expect(summary.bytes).toBe(FILE_SIZE);
  expect(fcpdLog).toContain('offered 64 connections of 64 MiB chunks, accepted 64 connections of 1 MiB chunks');
  expect(logged.join('\n')).toMatch(/64 connections, chunk 1048576 bytes, .*offered 64 connections, chunk 67108864 bytes/);
  expect(peakRss(fcpdLog)).toBeLessThan(PEAK_BOUND);
  const copied = path.join(destination, 'big.bin');
  expect(fs.statSync(copied).size).toBe(FILE_SIZE);
  expect(sha256(copied)).toBe(sourceDigest);
  fs.rmSync(destination, { recursive: true, force: true });
});

describe('a session server with a memory budget of one smallest session', () => {
  const smallest = sessionMemory({ chunkSize: MIN_CHUNK_SIZE, connections: 1 });
  let server: SessionServer;
  let port: number;
  const serverLog: string[] = [];

  beforeAll(async () => {
    server = new SessionServer({ xxh: await loadXxhash(), bind: '127.0.0.1', port: 0, memory: { session: smallest, server: smallest }, log: (l) => serverLog.push(l) });
    port = (await server.listen()).port;
  });
  afterAll(() => server.close());

  /** Launches in this process: registers the secret with the server. */
  const launcher: Launcher = {
    async launch(secret) {
      void server.register(secret, undefined);
      return { name: `session server on 127.0.0.1:${port}`, connect: () => dial(port), close: async () => undefined };
    },
  };

  test('runs sessions one after the other, each lowered to one connection of 64 KiB chunks', async () => {
    const destination = fs.mkdtempSync(path.join(scratch, 'small-'));
    const small = path.join(scratch, 'small.bin');
    fs.writeFileSync(small, Buffer.alloc(3 * MIN_CHUNK_SIZE + 5, 7));
    for (const name of ['one', 'two']) {
      const summary = await copy({ sources: [small], destination: `localhost:${path.join(destination, name)}`, connections: 8, launcher });
      expect(summary).toMatchObject({ errors: [], connections: 1, bytes: 3 * MIN_CHUNK_SIZE + 5 });
      expect(fs.readFileSync(path.join(destination, name)).equals(fs.readFileSync(small))).toBe(true);
    }
    expect(serverLog.filter((l) => l.includes('offered 8 connections of 1 MiB chunks, accepted 1 connection of 64 KiB chunks'))).toHaveLength(2);
  });

  test('refuses a session that cannot fit with FCP_ERR_PARAMS, and says why', async () => {
    const tiny = new SessionServer({ xxh: await loadXxhash(), bind: '127.0.0.1', port: 0, memory: { session: smallest, server: smallest - 1 }, log: () => undefined });
    const tinyPort = (await tiny.listen()).port;
    const refusing: Launcher = {
      async launch(secret) {
        void tiny.register(secret, undefined);
        return { name: 'tiny session server', connect: () => dial(tinyPort), close: async () => undefined };
      },
    };
    const failure = await copy({ sources: [source], destination: `localhost:${scratch}/never`, launcher: refusing }).catch((err: FcpError) => err);
    tiny.close();
    expect(failure).toBeInstanceOf(FcpError);
    expect((failure as FcpError).code).toBe('FCP_ERR_PARAMS');
    expect((failure as FcpError).message).toMatch(/255 KiB of buffer memory left for a new session, less than the 256 KiB of the smallest one/);
    expect(fs.existsSync(path.join(scratch, 'never'))).toBe(false);
  });
});
