/**
 * npm run demo: builds a sample tree (a 64 MiB file, 2,000 small files in 20 directories, a
 * symlink, an empty directory), copies it with the fcp command through a spawned fcpd, and checks
 * every file of the copy against the original by SHA-256, mode and mtime.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-demo-'));
const source = path.join(root, 'sample');

function makeTree(): void {
  fs.mkdirSync(path.join(source, 'empty'), { recursive: true });
  fs.writeFileSync(path.join(source, 'big.bin'), randomBytes(64 * 1024 * 1024));
  for (let d = 0; d < 20; d++) {
    const dir = path.join(source, 'small', `dir${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `file ${f}.txt`), randomBytes(1 + ((d * 100 + f) % 8192)));
  }
  fs.symlinkSync('big.bin', path.join(source, 'link-to-big'));
  fs.chmodSync(path.join(source, 'big.bin'), 0o640);
}

function describe(dir: string, base = dir, out = new Map<string, string>()): Map<string, string> {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = fs.lstatSync(full);
    const rel = path.relative(base, full);
    if (stat.isSymbolicLink()) out.set(rel, `link ${fs.readlinkSync(full)}`);
    else if (stat.isDirectory()) {
      out.set(rel, `dir ${(stat.mode & 0o7777).toString(8)}`);
      describe(full, base, out);
    } else {
      const hash = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
      out.set(rel, `file ${hash} ${(stat.mode & 0o7777).toString(8)} ${Math.floor(stat.mtimeMs)}`);
    }
  }
  return out;
}

makeTree();
const copy = path.join(root, 'copy');
console.log(`copying ${source}/ -> ${copy} with fcp (4 connections, through a local fcpd)`);
const fcp = path.join(__dirname, '..', '..', 'bin', 'fcp');
// `sample/`: its contents become `copy` (rsync's placement; without the slash, copy/sample).
const run = spawnSync(process.execPath, [fcp, '-r', '--via-fcpd', '-n', '4', `${source}/`, copy], { stdio: 'inherit' });
if (run.status !== 0) {
  console.error(`fcp exited with ${run.status}`);
  process.exit(run.status ?? 1);
}
const want = describe(source);
const got = describe(copy);
const wrong = [...want].filter(([rel, what]) => got.get(rel) !== what).map(([rel]) => rel);
if (wrong.length > 0 || got.size !== want.size) {
  console.error(`copy differs from the original: ${wrong.slice(0, 5).join(', ')} (${got.size} vs ${want.size} entries)`);
  process.exit(1);
}
console.log(`ok: all ${want.size} entries identical (content SHA-256, mode, mtime, symlink targets)`);
fs.rmSync(root, { recursive: true, force: true });
