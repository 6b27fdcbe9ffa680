/**
 * Which whole-file hash an SFTP copy can compare: SFTP itself has none, so the remote side must
 * run `cksum` or a coreutils-style `*sum` tool in a shell (remoteShell.ts). Asked once per copy, with the
 * empty input, whose digest is known: first with -z (one process hashes a whole batch of files,
 * their names in the output), then without (one process per file, busybox and old coreutils).
 */
import { CKSUM } from './cksum';
import { IDLE_TIMEOUT_MS } from '../timeouts';
import type { ShellRunner } from './remoteShell';

/**
 * The probe's first command waits for the shell's login (the user's rc files), which took more
 * than 10 s on the loaded bench host: the copy goes on meanwhile (mover.ts), so the probe may wait
 * as long as any other command before sizes alone are checked.
 */
const PROBE_TIMEOUT_MS = IDLE_TIMEOUT_MS;

export interface HashTool {
  /** The name in the summary's verification. */
  name: 'crc' | 'blake2b' | 'sha256' | 'md5';
  /** The same hash on this machine: Node's name for it, or CKSUM (cksum.ts). */
  node: string;
  command: string;
  /** Its digest of the empty input. */
  empty: string;
  /**
   * What comes before the file's name in a line it prints (after the digest, group 1): a file
   * read from standard input is named `-` by the *sum tools and not at all by cksum.
   */
  line: RegExp;
  /** The name of standard input in its lines, after `line`. */
  stdinName: string;
}

/** The *sum tools: the digest, a space and a mode character (busybox's print only the space). */
const SUM_LINE = /^([0-9a-f]+) [ *]?/;

/**
 * Cheapest first, by CPU seconds per GiB on both sides together, measured on the bench machine
 * (coreutils 9.1, Node 20, SHA extensions; 2026-12-05): POSIX cksum's CRC 0.2 s in cksum and 0.8
 * s here (cksum.ts); BLAKE2b-512 1.2 s in b2sum and 2.7 s in Node; SHA-256 2.8 s in sha256sum
 * (coreutils does not use the SHA extensions) and 0.7 s in Node. MD5 is the last resort of hosts
 * with none of these: cksum is POSIX, so every host should have it.
 */
export const HASH_TOOLS: readonly HashTool[] = [
  { name: 'crc', node: CKSUM, command: 'cksum', empty: '4294967295', line: /^([0-9]+) [0-9]+(?: |$)/, stdinName: '' },
  {
    name: 'blake2b',
    node: 'blake2b512',
    command: 'b2sum',
    empty: '786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce',
    line: SUM_LINE,
    stdinName: '-',
  },
  { name: 'sha256', node: 'sha256', command: 'sha256sum', empty: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', line: SUM_LINE, stdinName: '-' },
  { name: 'md5', node: 'md5', command: 'md5sum', empty: 'd41d8cd98f00b204e9800998ecf8427e', line: SUM_LINE, stdinName: '-' },
];

/**
 * The digest in one line of `tool`'s output (without its end) for the file named `name` there, or
 * for standard input when `name` is undefined; undefined when the line is not that.
 */
export function digestInLine(tool: HashTool, line: string, name?: string): string | undefined {
  const match = tool.line.exec(line);
  if (!match) return undefined;
  return line.slice(match[0].length) === (name ?? tool.stdinName) ? match[1] : undefined;
}

/** A tool the remote host runs, and whether it takes -z (NUL-ended lines, names unescaped). */
export interface RemoteHashTool {
  tool: HashTool;
  zero: boolean;
}

/** What an SFTP copy verifies: sizes always, a hash when the server can compute one. */
export type Verification = 'size' | `size+${HashTool['name']}`;

/** The first tool that hashes the empty input right; none when the shell itself does not run. */
export async function remoteHash(shell: ShellRunner, log: (line: string) => void): Promise<RemoteHashTool | undefined> {
  try {
    for (const tool of HASH_TOOLS) {
      for (const zero of [true, false]) {
        const command = `${tool.command}${zero ? ' -z' : ''}`;
        const stdout = await shell.run(command, command, PROBE_TIMEOUT_MS);
        const end = zero ? '\0' : '\n';
        if (stdout.endsWith(end) && digestInLine(tool, stdout.slice(0, -1)) === tool.empty) return { tool, zero };
      }
      log(`sftp: ${tool.command} does not run on ${shell.host}`);
    }
  } catch (err) {
    log(`sftp: no shell on ${shell.host} (${(err as Error).message}): sizes alone are checked`);
  }
  return undefined;
}
