/**
 * Whole-file hashes of remote files for SFTP verification, many files per command in the copy's
 * remote shell (remoteShell.ts). One exec per file cost an SSH channel, a shell start and a round
 * trip each (about 2 s a file on a loaded host), so files asked for go together: a command starts
 * when a batch is full, or when its oldest file has waited BATCH_LINGER_MS, never while another
 * runs. Starting one as soon as the last ended, as before, made batches of 20 files in a 10,000-file
 * copy (500 commands, each a fork and exec of the tool: 8-14 ms of CPU on the bench host under
 * load, 4 s in all, on the two cores that also carry the copy); 40 of 256 took a tenth of that.
 * A tool that takes -z hashes the whole batch in one process (`cksum -z -- a b ...`: a NUL-ended
 * line per file it could read, its name unescaped, in order); one that does not is run once per
 * file in a shell loop, each file on standard input, so that the output is one line per file in
 * order.
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import { shellQuote } from '../ssh/remoteCommand';
import { IDLE_TIMEOUT_MS } from '../timeouts';
import type { ShellRunner } from './remoteShell';
import { digestInLine, RemoteHashTool } from './verification';

/**
 * At most this many files in one command: a tool that takes -z hashes them in one process; one
 * that does not runs a process per file, so its batch, which must end within its timeout on a
 * loaded host, is smaller...
 */
export const MAX_BATCH_FILES = { zero: 1024, perFile: 256 } as const;
/** ...this many bytes to hash, so that one batch's wait stays proportionate... */
const MAX_BATCH_BYTES = 1024 * 1024 * 1024;
/**
 * ...and this many bytes of names, which the command carries and -z's output repeats: half the
 * smallest ARG_MAX of the systems SFTP mode meets (128 KiB: Linux before 2.6.23), the environment
 * taking the rest.
 */
const MAX_BATCH_NAME_BYTES = 64 * 1024;
/**
 * How long a file waits for others to join its batch when the batch is not full: long enough that
 * a copy of many small files makes few commands, short beside a copy's time (the last batch waits
 * this long after the last file).
 */
const BATCH_LINGER_MS = 50;
/** The slowest hashing rate a batch's timeout allows for, on top of the idle timeout. */
const SLOWEST_HASH_BYTES_PER_MS = 20 * 1024;
/** What the shell loop prints for a file it could not read. */
const UNREADABLE = '-';

/** A path as the tool's argument: a lone `-` would be standard input. */
const argument = (path: string): string => (path === '-' ? './-' : path);

interface Request {
  path: string;
  size: number;
  /** When it was asked for (Date.now()). */
  since: number;
  resolve(digest: string): void;
  reject(err: unknown): void;
}

export class RemoteHasher {
  private readonly waiting: Request[] = [];
  /** What the waiting requests add up to, so that a full batch is seen at once. */
  private waitingBytes = 0;
  private waitingNameBytes = 0;
  private running = false;
  private lingering: NodeJS.Timeout | undefined;
  private readonly maxFiles: number;

  constructor(
    private readonly shell: ShellRunner,
    private readonly hashTool: RemoteHashTool,
  ) {
    this.maxFiles = hashTool.zero ? MAX_BATCH_FILES.zero : MAX_BATCH_FILES.perFile;
  }

  /** The hex digest of the remote file at `path`, which holds `size` bytes. */
  hash(path: string, size: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ path, size, since: Date.now(), resolve, reject });
      this.waitingBytes += size;
      this.waitingNameBytes += Buffer.byteLength(path);
      this.schedule();
    });
  }

  /** Starts the next batch if none runs and it is full or its oldest file has waited long enough; else waits for that. */
  private schedule(): void {
    if (this.running || this.waiting.length === 0) return;
    const due = this.waiting[0]!.since + BATCH_LINGER_MS - Date.now();
    const full = this.waiting.length >= this.maxFiles || this.waitingBytes >= MAX_BATCH_BYTES || this.waitingNameBytes >= MAX_BATCH_NAME_BYTES;
    if (!full && due > 0) {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.schedule();
      }, due);
      return;
    }
    clearTimeout(this.lingering);
    this.lingering = undefined;
    this.running = true;
    void this.runBatch(this.takeBatch()).finally(() => {
      this.running = false;
      this.schedule();
    });
  }

  private takeBatch(): Request[] {
    let bytes = this.waiting[0]!.size;
    let names = Buffer.byteLength(this.waiting[0]!.path);
    let count = 1;
    for (; count < this.waiting.length && count < this.maxFiles; count++) {
      const next = this.waiting[count]!;
      if (bytes + next.size > MAX_BATCH_BYTES || names + Buffer.byteLength(next.path) > MAX_BATCH_NAME_BYTES) break;
      bytes += next.size;
      names += Buffer.byteLength(next.path);
    }
    this.waitingBytes -= bytes;
    this.waitingNameBytes -= names;
    return this.waiting.splice(0, count);
  }

  private command(batch: Request[]): string {
    const { tool, zero } = this.hashTool;
    const words = batch.map((request) => shellQuote(argument(request.path))).join(' ');
    return zero ? `${tool.command} -z -- ${words}` : `for f in ${words}; do ${tool.command} < "$f" 2>/dev/null || echo ${UNREADABLE}; done`;
  }

  /** Each request's digest, or undefined where the output has none for it. */
  private digests(batch: Request[], stdout: string): (string | undefined)[] {
    const { tool, zero } = this.hashTool;
    if (zero) {
      // A file that could not be read has no line: a line belongs to the next request of its name.
      const lines = stdout.split('\0');
      let next = 0;
      return batch.map((request) => {
        const digest = digestInLine(tool, lines[next] ?? '', argument(request.path));
        if (digest) next++;
        return digest;
      });
    }
    const lines = stdout.split('\n');
    // One line per file and a final newline; anything else cannot be matched to the files.
    if (lines.length !== batch.length + 1) return [];
    return batch.map((_, index) => digestInLine(tool, lines[index]!));
  }

  private async runBatch(batch: Request[]): Promise<void> {
    const bytes = batch.reduce((sum, request) => sum + request.size, 0);
    let digests: (string | undefined)[];
    try {
      const what = `${this.hashTool.tool.command} of ${batch.length} files`;
      const stdout = await this.shell.run(this.command(batch), what, IDLE_TIMEOUT_MS + Math.ceil(bytes / SLOWEST_HASH_BYTES_PER_MS));
      digests = this.digests(batch, stdout);
    } catch (err) {
      for (const request of batch) request.reject(err);
      return;
    }
    batch.forEach((request, index) => {
      const digest = digests[index];
      if (digest) request.resolve(digest);
      else request.reject(new FcpError('FCP_ERR_VERIFY', `${this.hashTool.tool.command} of ${showName(request.path)} failed on ${this.shell.host}`));
    });
  }
}
