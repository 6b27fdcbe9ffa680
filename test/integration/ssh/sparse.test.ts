/**
 * Sparse files (feature SPARSE) over a real OpenSSH server on 127.0.0.1 through fcpd: a file
 * mixing data and holes, uploaded and downloaded (with -C too, where DATA between the holes may
 * go deflated), arrives identical and occupies about what its source does.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sha256File } from '../helpers/compare';
import { allocated, Extent, makeSparse, sparseCopyLimit } from '../helpers/sparseFiles';
import { childEnv, expectExit, killAll, runFcp, tempDir } from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

const MiB = 1024 * 1024;
let sshd: Sshd;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
let source: string;
let extents: Extent[];

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('ssh-sparse-home');
  work = tempDir('ssh-sparse');
  env = childEnv(home);
  source = path.join(work, 'disk.img');
  const size = 96 * MiB + 5;
  extents = [[0, randomBytes(70_000)], [33 * MiB + 3, randomBytes(12)], [60 * MiB - 4096, randomBytes(3 * MiB)], [size - 10, randomBytes(10)]];
  makeSparse(source, size, extents);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const viaAlias = (): string[] => ['-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir)];
const at = (p: string): string => `${sshd.alias}:${p}`;

function expectSparseCopy(copy: string): void {
  expect(fs.statSync(copy).size).toBe(fs.statSync(source).size);
  expect(sha256File(copy)).toBe(sha256File(source));
  expect(allocated(copy)).toBeLessThanOrEqual(sparseCopyLimit(source, extents.length));
}

test.each([[[]], [['-C']]])('upload and download a file with holes %j: identical and sparse', async (options: string[]) => {
  const up = path.join(work, `up${options.join('')}.img`);
  expectExit(await runFcp([...viaAlias(), ...options, source, at(up)], { env }), 0);
  expectSparseCopy(up);
  const down = path.join(work, `down${options.join('')}.img`);
  expectExit(await runFcp([...viaAlias(), ...options, at(up), down], { env }), 0);
  expectSparseCopy(down);
});
