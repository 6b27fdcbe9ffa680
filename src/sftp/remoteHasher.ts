/**
 * Whole-file hashes of remote files for SFTP verification, many files per exec. One
 * `sha256sum` exec per file cost an SSH channel, a shell start and a round trip each (about 2 s
 * a file on a loaded host), so a tree of 10,000 small files took over an hour to verify. Files
 * asked for while an exec runs wait and go together in the next one. Each file is read on
 * standard input, so that the output is one line per file, in order, whatever the names hold.
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import { runRemoteCommand, shellQuote } from '../ssh/remoteCommand';
import type { SshConnection } from '../ssh/sshClient';
import { IDLE_TIMEOUT_MS } from '../timeouts';

export type HashName = 'sha256' | 'md5';

/** At most this many files in one exec (its command line and output stay small)... */
const MAX_BATCH_FILES = 256;
/** ...and this many bytes to hash, so that one batch's wait stays proportionate. */
const MAX_BATCH_BYTES = 1024 * 1024 * 1024;
/** The slowest hashing rate a batch's timeout allows for, on top of the idle timeout. */
const SLOWEST_HASH_BYTES_PER_MS = 20 * 1024;
/** What the shell loop prints for a file it could not read. */
const UNREADABLE = '-';

interface Request {
  path: string;
  size: number;
  resolve(digest: string): void;
  reject(err: unknown): void;
}

export class RemoteHasher {
  private readonly waiting: Request[] = [];
  private running = false;

  constructor(
    private readonly ssh: SshConnection,
    private readonly name: HashName,
  ) {}

  /** The hex digest of the remote file at `path`, which holds `size` bytes. */
  hash(path: string, size: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ path, size, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) await this.runBatch(this.takeBatch());
    this.running = false;
  }

  private takeBatch(): Request[] {
    let bytes = this.waiting[0]!.size;
    let count = 1;
    while (count < this.waiting.length && count < MAX_BATCH_FILES && bytes + this.waiting[count]!.size <= MAX_BATCH_BYTES) {
      bytes += this.waiting[count]!.size;
      count++;
    }
    return this.waiting.splice(0, count);
  }

  private async runBatch(batch: Request[]): Promise<void> {
    const bytes = batch.reduce((sum, request) => sum + request.size, 0);
    const words = batch.map((request) => shellQuote(request.path)).join(' ');
    const command = `for f in ${words}; do ${this.name}sum < "$f" 2>/dev/null || echo ${UNREADABLE}; done`;
    let lines: string[];
    try {
      const { stdout } = await runRemoteCommand(this.ssh, command, IDLE_TIMEOUT_MS + Math.ceil(bytes / SLOWEST_HASH_BYTES_PER_MS));
      lines = stdout.split('\n');
      // One line per file and a final newline; anything else cannot be matched to the files.
      if (lines.length !== batch.length + 1) lines = [];
    } catch (err) {
      for (const request of batch) request.reject(err);
      return;
    }
    batch.forEach((request, index) => {
      const digest = /^([0-9a-f]+) {1,2}-$/.exec(lines[index] ?? '')?.[1];
      if (digest) request.resolve(digest);
      else request.reject(new FcpError('FCP_ERR_VERIFY', `${this.name}sum of ${showName(request.path)} failed on ${this.ssh.name}`));
    });
  }
}
