/**
 * The streamed digest, against this machine's sh standing in for the remote one: the chunks fcp
 * feeds are hashed in order, exactly those, in batches of counts; the loop ends on the line that
 * ends it and leaves its shell reading commands again (a one-file push starts one shell, not two);
 * a file that cannot be opened or read gives no digest (it is then hashed again) and leaves the
 * shell as it was; a shell a stream holds is not given other commands.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CKSUM, localHash } from '../../../src/sftp/cksum';
import { ShellPool } from '../../../src/sftp/remoteShell';
import { SFTP_CHUNK_BYTES } from '../../../src/sftp/resume';
import { StreamedDigest } from '../../../src/sftp/streamedDigest';
import { HASH_TOOLS } from '../../../src/sftp/verification';
import { localConnection } from './localShell';

const tool = { tool: HASH_TOOLS.find((candidate) => candidate.name === 'sha256')!, zero: true };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
let local: ReturnType<typeof localConnection>;
let shells: ShellPool;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-streamed-'));
  local = localConnection(dir);
  shells = new ShellPool([local.ssh]);
});
afterEach(() => {
  shells.close();
  local.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file of `chunks` chunks and `extra` bytes, named as a shell would not like. */
function file(chunks: number, extra: number): { name: string; data: Buffer } {
  const data = Buffer.alloc(chunks * SFTP_CHUNK_BYTES + extra);
  for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
  const name = path.join(dir, "it's $(here)");
  fs.writeFileSync(name, data);
  return { name, data };
}

const countLines = () => local.commands.filter((text) => /^: \d+\n$/.test(text));

describe('StreamedDigest', () => {
  test('hashes the chunks fed, in batches of counts, and leaves its shell for the next command', async () => {
    const { name, data } = file(40, 1234);
    const stream = new StreamedDigest(shells, tool, name);
    for (let i = 0; i < 36; i++) stream.feed(1);
    stream.feed(5);
    // The last, short chunk counts as one.
    await expect(stream.finish(data.length)).resolves.toBe(sha256(data));
    expect(countLines()).toEqual([': 32\n', ': 9\n']);
    await expect(shells.run('echo still here', 'echo', 5000)).resolves.toBe('still here\n');
    expect(local.execs).toEqual(['exec sh']);
  });

  test("cksum's line, which names no file, gives its CRC", async () => {
    const { name, data } = file(33, 5);
    const crcTool = { tool: HASH_TOOLS.find((candidate) => candidate.name === 'crc')!, zero: true };
    const stream = new StreamedDigest(shells, crcTool, name);
    stream.feed(34);
    const expected = localHash(CKSUM);
    expected.update(data);
    await expect(stream.finish(data.length)).resolves.toBe(expected.digest('hex'));
  });

  // The stream starts when the hash tool is known, which can be before the copy's first write
  // has created the file (CI, under load: "cannot open"): it is opened at the first count.
  test('a file created after the stream started is hashed all the same', async () => {
    const name = path.join(dir, 'later');
    const stream = new StreamedDigest(shells, tool, name);
    await shells.run('echo started', 'echo', 5000).catch(() => undefined);
    const data = Buffer.alloc(33 * SFTP_CHUNK_BYTES, 3);
    fs.writeFileSync(name, data);
    stream.feed(33);
    await expect(stream.finish(data.length)).resolves.toBe(sha256(data));
  });

  test('a digest of the chunks fed only, when the copy stops early', async () => {
    const { name, data } = file(4, 0);
    const stream = new StreamedDigest(shells, tool, name);
    stream.feed(2);
    await expect(stream.finish(data.length)).resolves.toBe(sha256(data.subarray(0, 2 * SFTP_CHUNK_BYTES)));
  });

  test('no digest for a file that cannot be opened or read, and the shell runs on', async () => {
    const missing = new StreamedDigest(shells, tool, path.join(dir, 'missing'));
    missing.feed(40);
    await expect(missing.finish(1)).resolves.toBeUndefined();
    expect(missing.complaint).toMatch(/missing/);
    const unreadable = new StreamedDigest(shells, tool, dir);
    unreadable.feed(40);
    await expect(unreadable.finish(1)).resolves.toBeUndefined();
    await expect(shells.run('echo still here', 'echo', 5000)).resolves.toBe('still here\n');
    expect(local.execs).toEqual(['exec sh']);
  });

  test('while a stream holds a shell, commands and other streams go to another; a free one is used again', async () => {
    const { name, data } = file(1, 0);
    const first = new StreamedDigest(shells, tool, name);
    await expect(shells.run('echo other', 'echo', 5000)).resolves.toBe('other\n');
    const second = new StreamedDigest(shells, tool, name);
    const third = new StreamedDigest(shells, tool, name);
    for (const stream of [first, second, third]) stream.feed(1);
    await expect(Promise.all([first, second, third].map((stream) => stream.finish(data.length)))).resolves.toEqual([sha256(data), sha256(data), sha256(data)]);
    expect(local.execs).toEqual(['exec sh', 'exec sh', 'exec sh']);
    const fourth = new StreamedDigest(shells, tool, name);
    fourth.feed(1);
    await expect(fourth.finish(data.length)).resolves.toBe(sha256(data));
    expect(local.execs).toHaveLength(3);
  });

  test('a stream closed unfinished ends its loop where it is, and its shell serves the next one', async () => {
    const { name, data } = file(2, 0);
    const stream = new StreamedDigest(shells, tool, name);
    // Fed, but fewer than a batch: nothing was told to the loop.
    stream.feed(1);
    stream.close();
    await expect(stream.finish(data.length)).resolves.toBe(sha256(Buffer.alloc(0)));
    const next = new StreamedDigest(shells, tool, name);
    next.feed(2);
    await expect(next.finish(data.length)).resolves.toBe(sha256(data));
    expect(local.execs).toEqual(['exec sh']);
  });
});
