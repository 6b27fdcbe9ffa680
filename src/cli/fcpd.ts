/** The fcpd command: serve one session for the fcp that started it. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { asFcpError, ExitCode, FcpError, transferExitCode } from '../errors';
import { cryptoThreadCount } from '../wire/cryptoThreads';
import { NONCE_SIZE } from '../protocol/constants';
import type { Readable } from 'node:stream';
import type * as ConnectPushModule from '../client/connectPush';
import { ConnectOrder, eventLine, parseOrderLine } from '../launch/connectOrder';
import { discardedLine, parseDiscardOrderLine } from '../launch/discardOrder';
import { pipeStdioToSocket } from '../launch/execRelay';
import { awaitLine } from '../launch/lines';
import { listenLine, parseSecretLine, sshServerAddress, versionLine } from '../launch/handoff';
import { packageRoot, packageVersion } from '../launch/packageRoot';
import { echoJson, echoText } from '../config/echo';
import { askDaemon, DEFAULT_DAEMON_PORT, handToDaemon, runDaemon, startDaemon, stopDaemon } from '../server/daemon';
import { discardJobPartials } from '../server/discardJob';
import { AccessPolicy } from '../server/policy';
import { serveSession, serveSessions } from '../server/serveSession';
import { showText } from '../showName';
import { leaveForNextRun } from '../state/interrupted';
import { partialDirProblem } from '../state/partialFile';
import { FCPD_WATCHDOG_DEFER_MS, timeoutsFor } from '../timeouts';
import { loadXxhash } from '../protocol/xxhash';
import { partialDirBytes } from '../transfer/receiver';
import { trace } from '../trace';
import { EXIT_CODES_HELP, SIGNAL_EXIT } from './exitCodes';
import { loadFcpdPolicy } from './fcpdConfig';
import { catchEscapedErrors, errorText } from './lastResort';
import { startMemoryGovernor } from './memoryGovernor';
import { parseArgs, timeoutOption } from './parseArgs';
import { startWatchdog } from './watchdog';
import { version } from './version';

/** fcp checks it too; fcpd trusts no path it is handed. */
function partialDir(value: string): string {
  const problem = partialDirProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number, 0-65535');
  return n;
}

interface FcpdOptions {
  serve?: boolean;
  connect?: boolean;
  discardPartials?: boolean;
  relayPipe?: string;
  daemon?: boolean;
  daemonRun?: boolean;
  status?: boolean;
  stop?: boolean;
  restart?: boolean;
  config?: string;
  echoConfig?: boolean;
  json?: boolean;
  bind?: string;
  port?: number;
  verbose?: boolean;
  /** Milliseconds. */
  timeout?: number;
  partialDir?: string;
  /** --reuse: seconds. */
  reuse?: number;
}

/** --reuse SECONDS: a whole number of seconds, 1 to a day. */
function reuseSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 86_400) throw new InvalidArgumentError('must be a whole number of seconds from 1 to 86400');
  return n;
}

export function program(): Command {
  return new Command('fcpd')
    .description(
      'The fcp server. fcp starts it (locally, or on the remote host) as `fcpd --serve`, ' +
        'gives it the session secret on standard input and reads its port from standard output. ' +
        'When this user runs a standing daemon (fcpd -d), --serve hands the session to it. ' +
        'For a copy between two remote hosts fcp starts `fcpd --connect` on the source host, which copies to the other host\'s fcpd.',
    )
    .option('--serve', 'serve one session: read "FCP-SECRET <hex>" on stdin, print "FCPD-LISTEN <port> <addr> ..." (PROTOCOL.md §9)')
    .option('--connect', 'copy to another host\'s fcpd as its client: read "FCP-CONNECT {...}" on stdin, print "FCP-EVENT {...}" lines (PROTOCOL.md §9.1)')
    .option('--discard-partials', 'remove the partial files a cancelled fcp job left here: read "FCP-DISCARD {...}" on stdin, print "FCP-DISCARDED {...}" (PROTOCOL.md §9.2)')
    .option('--relay-pipe <socket>', 'join stdin and stdout to fcpd --connect\'s relay socket: one relayed connection of a copy between two remote hosts, started by fcp (PROTOCOL.md §9.1)')
    .option('-d, --daemon', `start the standing per-user daemon in the background (port ${DEFAULT_DAEMON_PORT} unless --port)`)
    .option('--status', 'show whether the daemon runs (exit 0) or not (exit 6)')
    .option('--stop', 'stop the daemon')
    .option('--restart', 'stop the daemon if it runs, then start it (-d) with these options: how a changed policy file takes effect')
    .option('--config <file>', 'policy file (TOML) to read instead of ~/.config/fcp/fcpd.toml; /etc/fcp/fcpd.toml is read after it. With --serve, the session is served by this process, never handed to a daemon')
    .option('--echo-config', 'print the policy, each value with where it came from (--json: one object), and exit')
    .option('--json', 'with --echo-config: one JSON object')
    .addOption(new Option('--daemon-run').hideHelp())
    .option('--bind <address>', 'address to listen on (default: every address, IPv6 and IPv4)')
    .option('--port <port>', `port to listen on (--serve: any free port; -d: ${DEFAULT_DAEMON_PORT})`, port)
    .option('-v, --verbose', 'log connections and the session on stderr')
    .option('--partial-dir <dir>', '--serve: keep partial files and their journals in this directory (relative, without ..) under each destination directory; fcp passes its own', partialDir)
    .option('--reuse <seconds>', '--serve for fcp --watch: serve one session after another with the same secret (a round each), and exit once none has run for SECONDS; never handed to a daemon', reuseSeconds)
    .addOption(timeoutOption('--serve: end the session after this many seconds without progress; fcp passes its own. -d: the same limit for every session the daemon serves, its login (handshake) included'))
    .version(version(), '-V, --version')
    .addHelpText('after', EXIT_CODES_HELP);
}

/**
 * The script the daemon runs as: this one (bin/fcpd, or the self-contained fcpd.js that fcp installed
 * on a host), so that fcpd -d works wherever fcpd itself was started from.
 */
function daemonProgram(argv: string[]): string {
  return argv[1] ? path.resolve(argv[1]) : path.join(packageRoot(), 'bin', 'fcpd');
}

/** fcpd --connect: the source side of a copy between two remote hosts. */
async function connect(io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }, options: FcpdOptions, report: (error: FcpError) => number): Promise<number> {
  io.stdout.write(versionLine(packageVersion()));
  let order: ConnectOrder;
  try {
    order = await awaitLine(io.stdin as Readable, parseOrderLine, {
      timeoutMs: timeoutsFor(options.timeout).launchMs,
      what: 'connect order on standard input',
      ended: () => new FcpError('FCP_ERR_USAGE', 'standard input ended before the connect order', { hint: 'fcpd --connect is started by fcp' }),
    });
  } catch (err) {
    return report(asFcpError(err));
  }
  (io.stdin as Readable).destroy();
  const log = (line: string): void => {
    if (options.verbose) io.stderr.write(`${showText(line)}\n`);
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runConnectPush } = require('../client/connectPush') as typeof ConnectPushModule;
  return runConnectPush(order, (event) => io.stdout.write(eventLine(event)), log, options.timeout);
}

/** fcpd --discard-partials: fcp --cancel ID --discard for a job that wrote to this host. */
async function discard(io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream }, options: FcpdOptions, access: AccessPolicy): Promise<number> {
  io.stdout.write(versionLine(packageVersion()));
  const order = await awaitLine(io.stdin as Readable, parseDiscardOrderLine, {
    timeoutMs: timeoutsFor(options.timeout).launchMs,
    what: 'discard order on standard input',
    ended: () => new FcpError('FCP_ERR_USAGE', 'standard input ended before the discard order', { hint: 'fcpd --discard-partials is started by fcp --cancel ID --discard' }),
  });
  (io.stdin as Readable).destroy();
  io.stdout.write(discardedLine(await discardJobPartials(order, partialDirBytes(options.partialDir), access)));
  return ExitCode.OK;
}

export async function main(argv: string[], io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const command = program();
  const ended = parseArgs(command, argv, io);
  if (ended !== undefined) return ended;
  startMemoryGovernor();
  const options = command.opts<FcpdOptions>();
  const report = (error: FcpError): number => {
    io.stderr.write(errorText('fcpd', error, !!options.verbose));
    return error.exitCode;
  };
  catchEscapedErrors(report);
  const print = (line: string): number => {
    io.stdout.write(`${line}\n`);
    return ExitCode.OK;
  };
  // Resolved now: the daemon runs from the home directory.
  const config = options.config === undefined ? undefined : path.resolve(options.config);
  const start = { port: options.port ?? DEFAULT_DAEMON_PORT, bind: options.bind, config, timeoutMs: options.timeout, program: daemonProgram(argv) };
  let loaded: ReturnType<typeof loadFcpdPolicy>;
  try {
    // --stop and --status work whatever the policy file says: a broken one must not keep a daemon up.
    if (options.stop) return print(await stopDaemon());
    if (options.status) {
      const status = await askDaemon({ op: 'status' });
      if (!status?.ok) {
        io.stdout.write('fcpd daemon is not running\n');
        return ExitCode.CONNECTION;
      }
      return print(`fcpd daemon running: pid ${status.pid}, port ${status.port}, ${status.sessions} active sessions, since ${status.since}`);
    }
    // Everything else reads it first: a mistake in it stops a start, before anything runs.
    loaded = loadFcpdPolicy(process.env, config);
    // As is FCP_CRYPTO_THREADS, read when the first data connection is up.
    cryptoThreadCount();
    if (options.echoConfig) {
      const input = { program: 'fcpd', ...loaded };
      io.stdout.write(options.json ? `${JSON.stringify(echoJson(input))}\n` : echoText(input));
      return ExitCode.OK;
    }
    if (options.restart) return print(`${await stopDaemon()}\n${await startDaemon(start)}`);
    if (options.daemon) return print(await startDaemon(start));
    if (options.daemonRun) {
      await runDaemon({ ...start, policy: loaded.policy });
      return ExitCode.OK;
    }
  } catch (err) {
    return report(asFcpError(err));
  }
  if (options.connect) return connect(io, options, report);
  if (options.discardPartials) return discard(io, options, new AccessPolicy(loaded.policy, () => undefined)).catch((err) => report(asFcpError(err)));
  if (options.relayPipe !== undefined) return pipeStdioToSocket(options.relayPipe, io.stdin, io.stdout).catch((err) => report(asFcpError(err)));
  if (!options.serve) {
    return report(new FcpError('FCP_ERR_USAGE', 'nothing to do', { hint: 'fcpd --serve is started by fcp; see fcpd --help' }));
  }
  // fcpd's log lines go to stderr, which fcp shows with -v; the session runs regardless.
  // Control characters are escaped (names in them already are): nothing in a log drives a terminal.
  const log = (line: string): void => {
    io.stderr.write(`${showText(line)}\n`);
  };
  const sessionLog = options.verbose ? log : () => undefined;
  // Stopped (fcp's Ctrl-C reaches a local fcpd too), the session ends where it is, as fcp's own does.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      leaveForNextRun();
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
  // The hash's WebAssembly compiles off the main thread while the secret is read, rather than
  // ahead of listening (serveSession awaits it before the listen line).
  loadXxhash().catch(() => undefined);
  try {
    const secret = await awaitLine(io.stdin, (line) => parseSecretLine(line), {
      timeoutMs: timeoutsFor(options.timeout).launchMs,
      what: 'session secret on standard input',
      ended: () => new FcpError('FCP_ERR_USAGE', 'standard input ended before the session secret', { hint: 'fcpd --serve is started by fcp' }),
    });
    io.stdin.destroy();
    trace('secret read');
    // The control connection's server nonce goes to fcp in the listen line, so that its first
    // packet can already authenticate (PROTOCOL.md §5.1).
    const nonce = randomBytes(NONCE_SIZE);
    // A session under a policy named with --config is served here, under that policy.
    // A reused launch (fcp --watch) is served here too: the daemon takes one session a launch.
    const daemon = config === undefined && options.reuse === undefined ? await handToDaemon(secret, nonce) : undefined;
    // Which release answers: fcp replaces an fcpd of another one with its own (PROTOCOL.md §9).
    io.stdout.write(versionLine(packageVersion()));
    if (daemon) {
      io.stdout.write(listenLine({ ...daemon, reached: sshServerAddress() }));
      return ExitCode.OK;
    }
    const serve = {
      secret,
      nonce,
      bind: options.bind,
      port: options.port ?? 0,
      access: new AccessPolicy(loaded.policy, sessionLog),
      timeoutMs: options.timeout,
      partialDir: options.partialDir,
      log: sessionLog,
      // Under sshd, also say which of our addresses the client's SSH connection reached: the
      // client's first choice for direct data connections when fcpd listens on every address.
      listening: (listenPort: number, address: string) => {
        io.stdout.write(listenLine({ port: listenPort, address, reached: sshServerAddress(), nonce }));
        trace('listen line written');
        // Up to here the main thread made no disk call; a session shorter than
        // FCPD_WATCHDOG_DEFER_MS never pays for the watchdog's thread.
        setTimeout(() => startWatchdog({ program: 'fcpd', timeoutMs: options.timeout, json: false }), FCPD_WATCHDOG_DEFER_MS).unref();
      },
    };
    if (options.reuse !== undefined) {
      await serveSessions({ ...serve, idleMs: options.reuse * 1000 });
      return ExitCode.OK;
    }
    const summary = await serveSession(serve);
    trace('session done');
    if (options.verbose) {
      // maxRSS is in KiB: the peak shows that the memory bound held (PROTOCOL.md §5.2).
      const peak = Math.round(process.resourceUsage().maxRSS / 1024);
      log(`session done: ${summary.filesOk} files, ${summary.bytes} bytes, ${summary.filesFailed} failed, ${summary.entriesFailed} other entries failed, peak RSS ${peak} MiB`);
    }
    return transferExitCode(summary.filesOk, summary.errors);
  } catch (err) {
    return report(asFcpError(err));
  }
}
