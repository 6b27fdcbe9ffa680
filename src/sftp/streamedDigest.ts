/**
 * The remote digest of a large file an SFTP push writes, taken while it is written instead of
 * after: hashing 1 GiB there took a second more, with every byte already sent. One `sh` per file
 * (an exec of its own: the copy's shell runs one command at a time) opens the file and waits; each
 * time the chunks written in order grow, fcp tells it how many more to read (a line with a count),
 * and `dd` feeds them, from where the last one stopped, to the hash tool. Closing its input ends
 * the loop and the tool prints the digest of exactly the chunks fcp hashed on its side.
 */
import type { ClientChannel } from 'ssh2';
import { shellQuote } from '../ssh/remoteCommand';
import type { SshConnection } from '../ssh/sshClient';
import { IDLE_TIMEOUT_MS } from '../timeouts';
import { SFTP_CHUNK_BYTES } from './resume';
import type { RemoteHashTool } from './verification';

/** Files smaller than this are hashed after they are written, many per command (remoteHasher.ts). */
export const STREAMED_DIGEST_MIN_BYTES = 64 * SFTP_CHUNK_BYTES;
/**
 * Chunks told to the loop at once: each count starts a dd, and a process start cost 8 ms of CPU on
 * the bench host (1,024 of them made hashing 1 GiB take 12 CPU seconds instead of 2). What is left
 * when the copy ends, at most this much, is hashed after it.
 */
const FEED_CHUNKS = 32;
/** The slowest hashing rate the final wait allows for (the whole file's, at worst), on top of the idle timeout. */
const SLOWEST_HASH_BYTES_PER_MS = 20 * 1024;
const MAX_COMPLAINT = 200;
/** The digest line is all the output: more (a login script's) is cut, and then matches nothing. */
const MAX_OUTPUT = 1024;
const DIGEST_LINE = /^([0-9a-f]+) {1,2}-\n?$/;

/** What the loop prints on its standard error when a read failed: the digest printed anyway is of part of the file. */
const READ_FAILED = 'fcp-stream-failed';

/** No digest at all without the file or dd; a failed read says so on standard error, and the digest printed anyway is not used. */
function command(tool: RemoteHashTool, path: string): string {
  const read = `dd bs=${SFTP_CHUNK_BYTES} count="$n" <&3 2>/dev/null || { echo ${READ_FAILED} >&2; exit 1; }`;
  const script = `exec 3<"$1" || exit 1; command -v dd >/dev/null || exit 1; while read n; do ${read}; done | ${tool.tool.command}`;
  return `exec sh -c ${shellQuote(script)} sh ${shellQuote(path)}`;
}

export class StreamedDigest {
  /** The hex digest, or undefined when the stream failed (the file is then hashed after it is written). */
  private readonly digest: Promise<string | undefined>;
  private channel: ClientChannel | undefined;
  /** Chunks fed before the channel opened: told as soon as it does. */
  private unsent = 0;
  private ended = false;
  /** The start of what the remote side wrote on standard error: why there is no digest, when there is none. */
  complaint = '';

  constructor(ssh: SshConnection, tool: RemoteHashTool, path: string) {
    this.digest = ssh.exec(command(tool, path)).then(
      (channel) =>
        new Promise<string | undefined>((resolve) => {
          this.channel = channel;
          let out = '';
          let readFailed = false;
          let tail = '';
          channel.stderr.on('data', (data: Buffer) => {
            const text = data.toString('utf8');
            if (this.complaint.length < MAX_COMPLAINT) this.complaint = (this.complaint + text).slice(0, MAX_COMPLAINT);
            tail = (tail + text).slice(-2 * READ_FAILED.length);
            readFailed ||= tail.includes(READ_FAILED);
          });
          channel.on('data', (data: Buffer) => (out = (out + data.toString('latin1')).slice(-MAX_OUTPUT)));
          // Login scripts may write to standard error too: only the loop's own word counts.
          channel.on('close', () => resolve(readFailed ? undefined : DIGEST_LINE.exec(out)?.[1]));
          channel.on('error', () => resolve(undefined));
          if (this.ended) {
            this.send();
            channel.end();
          } else if (this.unsent >= FEED_CHUNKS) {
            this.send();
          }
        }),
      () => undefined,
    );
  }

  /** `chunks` more chunks, following the ones fed before, are written and acknowledged. */
  feed(chunks: number): void {
    this.unsent += chunks;
    if (this.unsent >= FEED_CHUNKS) this.send();
  }

  private send(): void {
    if (!this.channel || this.unsent === 0) return;
    this.channel.write(`${this.unsent}\n`);
    this.unsent = 0;
  }

  /** The digest of every chunk fed; undefined when the stream failed or did not end in time. */
  async finish(fileBytes: number): Promise<string | undefined> {
    this.ended = true;
    this.send();
    this.channel?.end();
    const timeoutMs = IDLE_TIMEOUT_MS + Math.ceil(fileBytes / SLOWEST_HASH_BYTES_PER_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([this.digest, timedOut]);
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  close(): void {
    this.ended = true;
    this.channel?.close();
  }
}
