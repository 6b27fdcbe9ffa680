/**
 * The remote digest of a large file an SFTP push writes, taken while it is written instead of
 * after: hashing 1 GiB there took a second more, with every byte already sent. A loop in one of
 * the copy's remote shells (remoteShell.ts: a shell nothing else waits for, so a one-file push
 * starts no second login shell) waits, opening the file at its first count; each time the chunks written in order
 * grow, fcp tells it how many more to read (a line with a count), and `dd` feeds them, from where
 * the last one stopped, to the hash tool. The line that ends the loop leaves the tool to print
 * the digest of exactly the chunks fcp hashed on its side.
 */
import { shellQuote } from '../ssh/remoteCommand';
import { IDLE_TIMEOUT_MS } from '../timeouts';
import type { ShellPool, ShellStream } from './remoteShell';
import { SFTP_CHUNK_BYTES } from './resume';
import { digestInLine, RemoteHashTool } from './verification';

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
/**
 * Lines to the loop are the shell's no-op `:` with a word: should the loop have ended early (the
 * file could not be opened), the shell reads them as commands, and they do nothing.
 */
const line = (word: string | number): string => `: ${word}`;
const END = 'end';

/** What the loop prints when a read failed: the digest printed anyway is of part of the file. */
const READ_FAILED = 'fcp-stream-failed';

/**
 * No digest at all without dd; a file that cannot be opened or read says so, and the digest
 * printed anyway is not used. The file is opened at the first count, not at the start: the loop
 * can start before the file's first write has created it (it did, under load: "cannot open").
 */
function command(tool: RemoteHashTool, path: string): string {
  const failed = `{ echo ${READ_FAILED} >&2; exit 1; }`;
  const read = `{ [ -n "$open" ] || { command exec 3<"$1" && open=1; } || ${failed}; } && dd bs=${SFTP_CHUNK_BYTES} count="$n" <&3 2>/dev/null || ${failed}`;
  const script = `command -v dd >/dev/null || exit 1; open=; while read _ n && [ "$n" != ${END} ]; do ${read}; done | ${tool.tool.command}`;
  return `sh -c ${shellQuote(script)} sh ${shellQuote(path)}`;
}

export class StreamedDigest {
  /** The hex digest, or undefined when the stream failed (the file is then hashed after it is written). */
  private readonly digest: Promise<string | undefined>;
  private readonly stream: ShellStream;
  /** Chunks fed and not yet told to the loop. */
  private unsent = 0;
  /** What the remote side printed besides the digest: why there is none, when there is none. */
  complaint = '';

  constructor(shells: ShellPool, tool: RemoteHashTool, path: string) {
    this.stream = shells.stream(command(tool, path), `the streamed ${tool.tool.command} of ${path}`);
    this.digest = this.stream.output.then(
      (output) => {
        // The tool's line for standard input ends the output; anything before it is a complaint.
        const last = output.replace(/\n$/, '').lastIndexOf('\n') + 1;
        const digest = digestInLine(tool.tool, output.slice(last).replace(/\n$/, ''));
        this.complaint = (digest ? output.slice(0, last) : output).slice(0, MAX_COMPLAINT);
        return output.includes(READ_FAILED) ? undefined : digest;
      },
      () => undefined,
    );
  }

  /** `chunks` more chunks, following the ones fed before, are written and acknowledged. */
  feed(chunks: number): void {
    this.unsent += chunks;
    if (this.unsent >= FEED_CHUNKS) this.send();
  }

  private send(): void {
    if (this.unsent === 0) return;
    this.stream.send(line(this.unsent));
    this.unsent = 0;
  }

  /** The digest of every chunk fed; undefined when the stream failed or did not end in time. */
  async finish(fileBytes: number): Promise<string | undefined> {
    this.send();
    this.stream.send(line(END));
    const timeoutMs = IDLE_TIMEOUT_MS + Math.ceil(fileBytes / SLOWEST_HASH_BYTES_PER_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    try {
      const digest = await Promise.race([this.digest, timedOut]);
      if (digest !== 'late') return digest;
      this.stream.abort();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A stream not finished: its loop is ended, its shell kept. */
  close(): void {
    this.unsent = 0;
    this.stream.send(line(END));
  }
}
