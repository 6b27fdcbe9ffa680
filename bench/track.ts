/**
 * fcp-track status of a folder of 100,000 unchanged files (100 directories of 1,000): one lstat
 * per file and no digest. Not a test: prints seconds, in this process and as the command (node's
 * start included). The bound is 2 s. Run: npm run build && node dist/bench/track.js [FILES]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as track from '../src/track/commands';

const FILES = Number(process.argv[2] ?? 100_000);
const PER_DIR = 1000;
const RUNS = 3;

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-bench-track-'));
  try {
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(root, `d${Math.floor(i / PER_DIR)}`);
      if (i % PER_DIR === 0) fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, `f${i}`), `file ${i}\n`);
    }
    const ctx: track.TrackContext = { cwd: root, out: () => undefined };
    track.init(ctx, 'localhost:/nowhere', {});
    let started = Date.now();
    await track.add(ctx, ['.']);
    console.log(`add of ${FILES} files (all hashed): ${((Date.now() - started) / 1000).toFixed(2)} s`);
    for (let run = 1; run <= RUNS; run++) {
      started = Date.now();
      const report = await track.status(ctx, {});
      const changed = report.modified.length + report.deleted.length + report.untracked.length;
      console.log(`status, in process, run ${run}: ${((Date.now() - started) / 1000).toFixed(2)} s (${report.new.length} new, ${changed} other changes)`);
    }
    started = Date.now();
    execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'fcp-track'), 'status', '--json'], { cwd: root, stdio: 'ignore' });
    console.log(`fcp-track status --json (a new process): ${((Date.now() - started) / 1000).toFixed(2)} s`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
