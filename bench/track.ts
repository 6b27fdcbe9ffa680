/**
 * fcp-track status of a folder of 100,000 unchanged, synced files (100 directories of 1,000, all
 * pushed as far as the database and the cached remote record know): one lstat per file and no
 * digest. Not a test: prints wall and CPU seconds (user + sys), in this process and as the
 * command (node's start included), and the load average, since the machine may be shared: the
 * issue's bound is 2 s, which CPU seconds show best on a loaded machine.
 * Run: npm run build && node dist/bench/track.js [FILES] (TMPDIR=/dev/shm keeps the disk out)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as track from '../src/track/commands';
import { DB_FILE, STATE_DIR } from '../src/track/folder';
import { afterPush, emptyRecord, RECORD_NAME } from '../src/track/remoteRecord';
import { TrackDb } from '../src/state/trackDb';

const FILES = Number(process.argv[2] ?? 100_000);
const PER_DIR = 1000;
const RUNS = 3;

function makeTree(root: string): void {
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(root, `d${Math.floor(i / PER_DIR)}`);
    if (i % PER_DIR === 0) fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, `f${i}`), `file ${i}\n`);
  }
}

/** What a push of every file leaves: each record's base its content, the remote record listing them all. */
function markPushed(root: string): void {
  const db = TrackDb.open(path.join(root, STATE_DIR, DB_FILE));
  const records = [...db.records().values()];
  db.update(records.map((r) => ({ ...r, base: { hash: r.hash, mode: r.stat.mode } })));
  db.close();
  const entry = { at: new Date().toISOString(), who: 'bench', action: 'push' as const, files: records.length, deleted: 0, bytes: 0, paths: [] };
  const pushed = records.map((r) => ({ path: r.path, version: { hash: r.hash, mode: r.stat.mode }, size: r.stat.size }));
  const record = afterPush(emptyRecord(), 'bench-clone', entry, pushed, []);
  fs.writeFileSync(path.join(root, STATE_DIR, RECORD_NAME), `${JSON.stringify(record, null, 1)}\n`);
}

/** Runs `work`, printing its wall and CPU seconds. */
async function timed<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  const result = await work();
  const used = process.cpuUsage(cpu);
  console.log(`${what}: wall ${(Number(process.hrtime.bigint() - wall) / 1e9).toFixed(2)} s, cpu ${((used.user + used.system) / 1e6).toFixed(2)} s`);
  return result;
}

/** The command in a child, timed by bash (`times`: the CPU of its children). */
function command(root: string): void {
  const bin = path.join(__dirname, '..', '..', 'bin', 'fcp-track');
  const script = `s=$(date +%s%N); ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} status --json >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); times`;
  const [wallMs, , children] = execFileSync('bash', ['-c', script], { cwd: root, encoding: 'utf8' }).trim().split('\n');
  const [user, sys] = children!.split(' ').map((t) => Number(/^(\d+)m([\d.]+)s$/.exec(t)![1]) * 60 + Number(/^(\d+)m([\d.]+)s$/.exec(t)![2]));
  console.log(`fcp-track status --json (a new process): wall ${(Number(wallMs) / 1000).toFixed(2)} s, cpu ${(user! + sys!).toFixed(2)} s`);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-bench-track-'));
  try {
    makeTree(root);
    const ctx: track.TrackContext = { cwd: root, out: () => undefined };
    track.init(ctx, 'localhost:/nowhere', {});
    await timed(`add of ${FILES} files (all hashed)`, () => track.add(ctx, ['.']));
    markPushed(root);
    for (let run = 1; run <= RUNS; run++) {
      const report = await timed(`status, in process, run ${run}`, () => track.status(ctx, {}));
      const changes = Object.values(report).reduce((sum, list) => sum + list.length, 0);
      if (changes !== 0) throw new Error(`status found ${changes} changes in an unchanged folder`);
    }
    for (let run = 1; run <= RUNS; run++) command(root);
    console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
