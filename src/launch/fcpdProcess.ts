/**
 * The launch hand-off over a started fcpd's standard streams, whatever started it (a local
 * child, an SSH exec channel, an external ssh): give the secret, read the listen line, relay
 * fcpd's stderr to the log, and turn an early exit into an error that says why.
 */
import type { Readable, Writable } from 'node:stream';
import { FcpError } from '../errors';
import { timeoutsFor } from '../timeouts';
import { trace } from '../trace';
import { Listen, parseListenLine, parsePidLine, parseVersionLine, secretLine } from './handoff';
import { awaitLine, splitLines } from './lines';

export interface FcpdStreams {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Resolves with fcpd's exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

const STDERR_TAIL = 10;
/** Shells say 127 when the command is not found. */
const NOT_FOUND = 127;

/** Relays stderr lines to log and keeps the last few for error messages. */
function followStderr(stderr: Readable, log: (line: string) => void): string[] {
  const tail: string[] = [];
  stderr.on(
    'data',
    splitLines((line) => {
      log(`fcpd: ${line}`);
      tail.push(line);
      if (tail.length > STDERR_TAIL) tail.shift();
    }),
  );
  return tail;
}

/** What fcp writes to a started fcpd first, and the line that says it is running (PROTOCOL.md §9). */
export interface HandOff<T> {
  firstLine: string;
  ready(line: string): T | undefined;
  /** "listen line": what is awaited, for messages. */
  what: string;
  /** Over SSH with installing allowed: pass over an fcpd on the PATH, run this release's (cached or installed). */
  ownReleaseOnly?: boolean;
  /** Also reads fcpd's standard output from the start, every line (fcpd --connect's events). */
  follow?(stdout: Readable): void;
}

/** fcpd --serve: the secret in, the listen line out. */
export function serveHandOff(secret: Buffer): HandOff<Listen> {
  return { firstLine: secretLine(secret), ready: parseListenLine, what: 'listen line' };
}

export interface StartedFcpd<T> {
  ready: T;
  /** fcp's release the fcpd belongs to, from its FCPD-VERSION line (none from an fcpd older than that line). */
  version?: string;
}

/**
 * Hands fcpd its first line and waits for it to say it runs. `where` names it in errors ("on host
 * x"); `command` is what was run, for the not-found message.
 */
export async function startFcpd<T>(
  streams: FcpdStreams,
  handOff: HandOff<T>,
  log: (line: string) => void,
  where: string,
  command: string,
  options: {
    /** fcp's --timeout, if given. */
    timeoutMs?: number;
    /** What an exit code of the command means when it ends before listening (a launch script's answers). */
    exits?: Record<number, () => Error>;
    /**
     * Bytes the command may ask for, behind the first line, by printing `request` before it
     * listens (the launch script's installer); `sent` is called when they went.
     */
    onRequest?: { request: string; bytes: Buffer; sent(): void };
  } = {},
): Promise<StartedFcpd<T>> {
  const tail = followStderr(streams.stderr, log);
  handOff.follow?.(streams.stdout);
  streams.stdin.on('error', () => undefined);
  const { onRequest } = options;
  // Without a possible request stdin ends with the secret; with one, once the request was answered or fcpd listens.
  if (onRequest) streams.stdin.write(handOff.firstLine);
  else streams.stdin.end(handOff.firstLine);
  let version: string | undefined;
  const other = (line: string): void => {
    const said = parseVersionLine(line);
    if (said !== undefined) version = said;
    else if (onRequest && line === onRequest.request && streams.stdin.writable) {
      streams.stdin.end(onRequest.bytes);
      onRequest.sent();
    } else if (parsePidLine(line) === undefined) log(`fcpd: ${line}`); // the pid is remoteReap.ts's
    else trace('launch command started (its pid line)');
  };
  const endedEarly = new FcpError('FCP_ERR_CONNECT', `fcpd ${where} ended before its ${handOff.what}`);
  try {
    const ready = await awaitLine(streams.stdout, handOff.ready, {
      timeoutMs: timeoutsFor(options.timeoutMs).launchMs,
      what: `${handOff.what} from fcpd ${where}`,
      other,
      ended: () => endedEarly,
    });
    trace('fcpd listening (its listen line)');
    return version === undefined ? { ready } : { ready, version };
  } catch (err) {
    if (err !== endedEarly) throw err;
    // stdout ended first: the exit code (and stderr, which may still be arriving) say why. It comes
    // with the channel's end, which a loaded host may send seconds later (a 2 s limit here once
    // took "no Node.js there" for a failed start, and so skipped the SFTP fallback): the launch's
    // own limit bounds the wait.
    let limit: NodeJS.Timeout | undefined;
    const code = await Promise.race([streams.exited, new Promise<undefined>((resolve) => (limit = setTimeout(resolve, timeoutsFor(options.timeoutMs).launchMs, undefined)))]).finally(() => clearTimeout(limit));
    const said = tail.length ? `: ${tail.join(' | ')}` : '';
    const meaning = code === null || code === undefined ? undefined : options.exits?.[code];
    if (meaning) throw meaning();
    if (code === NOT_FOUND) {
      throw new FcpError('FCP_ERR_CONNECT', `fcpd was not found ${where} (ran: ${command})${said}`, {
        hint: 'install fcp there (npm install -g fastcopy, which provides fcpd) or give its path with --fcpd-path',
      });
    }
    throw new FcpError('FCP_ERR_CONNECT', `fcpd ${where} exited${code === undefined ? '' : ` with code ${code}`} before it listened${said}`, {
      hint: 'run with -v to see all of fcpd\'s messages',
    });
  } finally {
    // Without a request, stdin ended with the secret already.
    if (streams.stdin.writable) streams.stdin.end();
  }
}
