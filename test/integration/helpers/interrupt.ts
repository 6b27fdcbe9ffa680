/**
 * For kill tests: acts on a running `fcp --json` once its progress passes a byte count, so that a
 * kill lands mid-transfer at a point the test chose, and reads what the journal left by the
 * interrupted run vouches for.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { XXHashAPI } from '../../../src/protocol/xxhash';
import { parseJournal } from '../../../src/state/chunkJournal';

/** How long fcp may take to reach the byte count before the test gives up on it. */
const REACH_MS = 60_000;

export interface Interrupted {
  /** bytesDone of the progress record that passed the count. */
  progress: number;
  /** How fcp ended. */
  code: number | null;
  stderr: string;
}

/**
 * Reads `child`'s --json records and, the first time a progress record reaches `bytes`, calls
 * `reached` (which kills fcp, or its fcpd). Resolves once fcp has ended; rejects when it ended
 * before getting there, or did not get there within REACH_MS (then it is killed).
 */
export function atProgress(child: ChildProcess, bytes: number, reached: () => void): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    let progress = -1;
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no progress to ${bytes} bytes within ${REACH_MS / 1000} s: ${stderr}`));
    }, REACH_MS);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      pending += s;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const record = JSON.parse(line) as { event: string; bytesDone?: number };
        if (progress >= 0 || record.event !== 'progress' || (record.bytesDone ?? 0) < bytes) continue;
        progress = record.bytesDone!;
        reached();
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (progress < 0) reject(new Error(`fcp ended (exit ${code}) before ${bytes} bytes: ${stderr}`));
      else resolve({ progress, code, stderr });
    });
  });
}

/**
 * The bytes of the chunks that `journal` (of a file of `size` bytes in chunks of `chunkSize`)
 * vouches for: 0 when there is none; an error when it was written for another size.
 */
export function journaledBytes(xxh: XXHashAPI, journal: string, size: number, chunkSize: number): number {
  if (!fs.existsSync(journal)) return 0;
  const parsed = parseJournal(xxh, fs.readFileSync(journal));
  if (parsed?.header.size !== size) throw new Error(`${journal} is for ${parsed?.header.size} bytes, not ${size}`);
  let bytes = 0;
  for (const index of parsed.chunks.keys()) bytes += Math.min(chunkSize, size - index * chunkSize);
  return bytes;
}

/** What resume saved, from the summary record of `fcp --json`'s output. */
export interface ResumeFigures {
  bytesSent: number;
  bytesResumed: number;
}

export function resumeFigures(stdout: string): ResumeFigures {
  const records = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string } & Partial<ResumeFigures>);
  const summary = records.find((record) => record.event === 'summary');
  if (summary?.bytesSent === undefined || summary.bytesResumed === undefined) throw new Error(`no summary with bytesSent and bytesResumed in:\n${stdout}`);
  return { bytesSent: summary.bytesSent, bytesResumed: summary.bytesResumed };
}
