/**
 * The progress line on a terminal: fcp runs under a pseudo-terminal (script(1)), so its stderr is
 * a TTY. It must redraw one line (bytes, percentage, rate, ETA, files done/total) a few times a
 * second and leave one summary line in its place at the end; -q and a non-TTY stderr must show
 * neither.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FCP_BIN } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { writeRandomFile } from './helpers/tree';

const temp = useTempDirs();
const PROGRESS = /\r\S+ \S+ \/ \S+ \S+ \d+% \S+ \S+\/s ETA \S+ files \d+\/\d+\x1b\[K/;
const CLEAR = '\r\x1b[K';

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Runs fcp with a pseudo-terminal as its stdout and stderr; returns the exit code and what it showed. */
function onTerminal(args: string[], cwd: string): { code: number | null; screen: string } {
  const command = [process.execPath, FCP_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // -e: script exits with the command's code; -q: no "Script started" banner; /dev/null: no typescript file.
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, screen: result.stdout };
}

function bigSource(): { work: string; file: string } {
  const work = temp.make('fcp-progress');
  const file = path.join(work, 'big');
  // Large enough for the copy to outlast several 250 ms progress ticks here.
  writeRandomFile(file, 300 * 1024 * 1024);
  return { work, file };
}

test('a TTY shows a progress line that is redrawn, then one summary line', () => {
  const { work, file } = bigSource();
  const run = onTerminal(['big', 'copy'], work);
  expect(run.code).toBe(0);
  expect(sha256(path.join(work, 'copy'))).toBe(sha256(file));
  const lines = run.screen.match(new RegExp(PROGRESS.source, 'g')) ?? [];
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(run.screen).toContain('files 0/1');
  // The progress line is cleared and one summary line stays, as scp leaves its last meter line.
  const end = run.screen.slice(run.screen.lastIndexOf(CLEAR) + CLEAR.length);
  // A local copy runs in fcp's own process: its streams are not connections (one a CPU, 2 to 4).
  const streams = Math.min(4, Math.max(2, os.availableParallelism()));
  expect(end).toMatch(new RegExp(`^fcp: 1 file, 300\\.0 MiB in \\d+\\.\\d\\d s \\(\\S+ \\S+/s, ${streams} streams in one process\\)\\r?\\n$`));
});

test('-q on a TTY and a stderr that is not a TTY show no progress line', () => {
  const { work } = bigSource();
  const quiet = onTerminal(['-q', 'big', 'quiet'], work);
  expect(quiet.code).toBe(0);
  expect(quiet.screen).not.toMatch(PROGRESS);
  expect(quiet.screen).toBe('');
  const piped = spawnSync(process.execPath, [FCP_BIN, 'big', 'piped'], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  expect(piped.status).toBe(0);
  expect(piped.stderr).toBe('');
});
