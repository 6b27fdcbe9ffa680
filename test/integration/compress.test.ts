/**
 * -C (feature COMPRESS): a compressible text file and an incompressible random one, pushed and
 * pulled through a proxy in front of a real fcpd. The copies are exact, bytesSent counts the files'
 * own bytes, and the proxy's byte counts show that the text crossed the data connections deflated
 * and the random file as it is (DATA_Z only where a frame shrinks).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { proxyLauncher, ProxyReport } from './helpers/proxy';
import { killAll, runFcp } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const FILE_BYTES = 8 * MiB;
const temp = useTempDirs();
const shared = new TempDirs();
let source = '';

/** Lines of words and numbers, as logs and source code are: level-1 deflate takes it to well under half. */
function compressibleText(bytes: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, length = 0; length < bytes; i++) {
    const line = `${i}\tcopy chunk ${(i * 7919) % 1000} of file ${i % 37} to the destination host, verified\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

beforeAll(() => {
  source = path.join(shared.make('fcp-compress-src'), 'src');
  fs.mkdirSync(source);
  fs.writeFileSync(path.join(source, 'text.txt'), compressibleText(FILE_BYTES));
  fs.writeFileSync(path.join(source, 'random.bin'), randomBytes(FILE_BYTES));
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

/** Bytes the data connections carried from the sender: to fcpd on a push, from it on a pull. */
function dataBytes(report: ProxyReport, direction: 'push' | 'pull'): number {
  return report.bytes.slice(1).reduce((sum, bytes) => sum + (direction === 'push' ? bytes.toServer : bytes.toClient), 0);
}

function expectSameFiles(copied: string): void {
  for (const name of ['text.txt', 'random.bin']) {
    expect(fs.readFileSync(path.join(copied, name)).equals(fs.readFileSync(path.join(source, name)))).toBe(true);
  }
}

test.each([
  ['push', true],
  ['pull', true],
  ['push', false],
  ['pull', false],
] as const)('%s with -C (encrypt=%s): exact copies, the text crosses deflated, the random file as it is', async (direction, encrypt) => {
  const dst = temp.make('fcp-compress-dst');
  const copyWith = async (compress: boolean): Promise<number> => {
    const { launcher, report } = proxyLauncher({});
    const summary = await copy({
      // The tree's contents into the destination (a trailing slash, rsync's placement).
      sources: [direction === 'pull' ? `localhost:${source}/` : `${source}/`],
      destination: direction === 'push' ? `localhost:${dst}/${compress}` : `${dst}/${compress}`,
      recursive: true,
      connections: 2,
      encrypt,
      compress,
      launcher,
    });
    expect(summary.errors).toEqual([]);
    expect({ bytes: summary.bytes, bytesSent: summary.bytesSent }).toEqual({ bytes: 2 * FILE_BYTES, bytesSent: 2 * FILE_BYTES });
    expectSameFiles(`${dst}/${compress}`);
    return dataBytes(report, direction);
  };
  const plain = await copyWith(false);
  const compressed = await copyWith(true);
  // Both files in full without -C; with it the random file in full (its frames never shrink) and the text in less than half.
  expect(plain).toBeGreaterThan(2 * FILE_BYTES);
  expect(compressed).toBeGreaterThan(FILE_BYTES);
  expect(compressed).toBeLessThan(FILE_BYTES + FILE_BYTES / 2);
});

test('fcp -C --via-fcpd: the option is accepted and the copy is exact', async () => {
  const dst = temp.make('fcp-compress-cli');
  const run = await runFcp(['-C', '-r', '--via-fcpd', '--json', source, dst]);
  expect(run.code).toBe(0);
  const summary = JSON.parse(run.stdout.trim().split('\n').pop()!) as { event: string; bytesSent: number; filesFailed: number };
  expect(summary).toMatchObject({ event: 'summary', bytesSent: 2 * FILE_BYTES, filesFailed: 0 });
  expectSameFiles(path.join(dst, 'src'));
});
