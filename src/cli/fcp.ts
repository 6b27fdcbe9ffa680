/** The fcp command: scp-style arguments to copy(), progress and errors to the terminal. */
import { Command, InvalidArgumentError } from 'commander';
import { CipherName, copy } from '../client/copy';
import { CIPHER_CHOICES, cipherOption } from './cipherOption';
import { asFcpError, ExitCode, FcpError, transferExitCode } from '../errors';
import { MAX_CONNECTIONS, MIN_CONNECTIONS } from '../protocol/constants';
import { isChunkSize } from '../session/params';
import { parseRate, parseSize } from './format';
import { Reporter } from './reporter';
import { EXIT_CODES_HELP } from './exitCodes';
import { catchEscapedErrors } from './lastResort';
import { startMemoryGovernor } from './memoryGovernor';
import { parseArgs, timeoutOption } from './parseArgs';
import { operandBytes } from './rawArgv';
import { version } from './version';
import { keepAllPartials } from '../state/partialFile';

/** Exit codes of an interrupted fcp: 128 + the signal's number, as shells report it. */
const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Ctrl-C or SIGTERM: the journals of files being received are flushed and kept (the remote fcpd
 * keeps its own when the connections close), so that running the same command again resumes.
 */
function exitOnInterrupt(stderr: NodeJS.WritableStream): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      keepAllPartials();
      stderr.write(`fcp: interrupted (${signal}); partial files are kept: run the same command again to resume\n`);
      process.exit(SIGNAL_EXIT[signal]);
    });
  }
}

function connectionCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_CONNECTIONS || n > MAX_CONNECTIONS) {
    throw new InvalidArgumentError(`must be a whole number from ${MIN_CONNECTIONS} to ${MAX_CONNECTIONS}`);
  }
  return n;
}

function chunkSize(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined || !isChunkSize(bytes)) throw new InvalidArgumentError('must be a power of two from 64K to 64M');
  return bytes;
}

/** scp's -l: Kbit/s (1000 bits), as bytes per second. */
function scpLimit(value: string): number {
  const kbits = Number(value);
  if (!Number.isFinite(kbits) || kbits <= 0) throw new InvalidArgumentError('must be a rate in Kbit/s above 0 (as scp -l)');
  return (kbits * 1000) / 8;
}

function bwlimit(value: string): number {
  const bytes = parseRate(value);
  if (bytes === undefined) throw new InvalidArgumentError('must be a rate in KiB/s, or with a K, M or G suffix, above 0 (as rsync --bwlimit)');
  return bytes;
}

function sshPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number, 1-65535');
  return n;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

interface FcpOptions {
  port?: number;
  identity?: string[];
  config?: string;
  jump?: string;
  option?: string[];
  ssh?: string;
  fcpdPath?: string;
  tunnel?: boolean;
  sftp?: boolean;
  /** --no-install: false. */
  install?: boolean;
  recursive?: boolean;
  connections?: number;
  chunkSize?: number;
  encrypt?: boolean;
  dereference?: boolean;
  ignoreTimes?: boolean;
  resume?: boolean;
  partialDir?: string;
  preserve?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  failFast?: boolean;
  /** Milliseconds. */
  timeout?: number;
  cipher?: CipherName | 'none';
  /** Bytes per second, from -l (Kbit/s) and --bwlimit (KiB/s). */
  limit?: number;
  bwlimit?: number;
  /** scp's -4, -6, -A, -B: ssh options (AddressFamily, ForwardAgent, BatchMode). */
  4?: boolean;
  6?: boolean;
  A?: boolean;
  B?: boolean;
  /** scp's -S: the ssh program, as -e. */
  S?: string;
}

/**
 * scp's flags that are ssh options, as -o options ahead of the user's: with the first value of a
 * key winning, as in ssh, a flag beats an -o for the same key. -4 and -6 together: the last wins.
 */
function scpFlagOptions(options: FcpOptions, argv: string[]): string[] {
  const family = argv.lastIndexOf('-6') > argv.lastIndexOf('-4') ? 'inet6' : 'inet';
  return [
    ...(options[4] || options[6] ? [`AddressFamily=${family}`] : []),
    ...(options.A ? ['ForwardAgent=yes'] : []),
    ...(options.B ? ['BatchMode=yes'] : []),
  ];
}

function program(): Command {
  return new Command('fcp')
    .usage('[options] SOURCE... DEST')
    .description(
      'Copy files and trees over N parallel, authenticated and encrypted connections. ' +
        'Mode, mtime and symlinks are preserved; files appear under their final names only once verified.',
    )
    .argument(
      '<paths...>',
      'sources, then the destination: local paths or [user@]host:path; remote paths may start with ~ or ~user, ' +
        'and remote sources may hold patterns (*, ?, [...]), expanded by fcpd without a shell',
    )
    .option('-r, --recursive', 'copy directories and their contents')
    .option('-n, --connections <n>', `data connections (${MIN_CONNECTIONS}-${MAX_CONNECTIONS}, default 4; fcpd may lower it to bound its memory)`, connectionCount)
    .option('--chunk-size <size>', 'unit of scheduling and verification, 64K-64M (default 1M; fcpd may lower it to bound its memory)', chunkSize)
    .option('--encrypt', 'encrypt even a local copy (default: on when a network is crossed)')
    .option('--no-encrypt', 'do not encrypt (trusted networks); connections are still authenticated')
    .option('-L, --dereference', 'copy what symlinks inside trees point to instead of the links (symlinks named as sources are always followed)')
    .option('-I, --ignore-times', 'send every file, even one the destination already has with the same size and mtime')
    .option('--no-resume', 'discard partial files an interrupted run left and send every file whole (default: check the chunks they hold and send only the rest)')
    .option('--partial-dir <dir>', "keep partial files and their journals in DIR, relative to each destination file's directory (rsync's option; downloads and local copies)")
    .option('-p, --preserve', 'accepted for scp compatibility: modes and times are always preserved')
    .option('--fail-fast', 'stop at the first file that fails (default: copy the others, list the failures, exit 8)')
    .option('-q, --quiet', 'no progress line, summary line or notices; errors are listed at the end (and the exit code tells)')
    .option('-v, --verbose', 'log the handshake, the parameters and each file')
    .option('--json', 'JSON lines on stdout: start, progress, each file with its digest, summary')
    .option('-P, --port <port>', 'SSH port of the remote host', sshPort)
    .option('-i, --identity <file>', 'SSH identity (private key) file; repeatable', collect)
    .option('-F, --config <file>', 'ssh_config file to use instead of ~/.ssh/config')
    .option('-J, --jump <hosts>', 'connect through jump hosts: [user@]host[:port][,...]')
    .option('-o, --option <Key=Value>', 'ssh_config option, as ssh -o; repeatable', collect)
    .option('-e, --ssh <program>', 'start fcpd through this ssh program instead of the built-in SSH client')
    .option('--fcpd-path <command>', 'how to start fcpd on the remote host (default: fcpd on its PATH)')
    .option('--tunnel', 'carry the data connections through SSH instead of direct TCP')
    .option('--sftp', 'copy over SFTP on -n SSH sessions instead of fcpd (what fcp does when the remote host has no Node.js 20+)')
    .option('--no-install', "never copy fcp's own fcpd into ~/.cache/fcp on a host that has Node.js 20+ but no fcpd")
    .option('-l, --limit <Kbit/s>', 'limit the bandwidth, in Kbit/s (scp -l)', scpLimit)
    .option('--bwlimit <rate>', 'limit the bandwidth, in KiB/s or with a K, M or G suffix (rsync --bwlimit)', bwlimit)
    .option('-c, --cipher <name>', `cipher of fcp's data connections: ${CIPHER_CHOICES}`, cipherOption)
    .option('-4', 'connect to IPv4 addresses only (ssh -4)')
    .option('-6', 'connect to IPv6 addresses only (ssh -6)')
    .option('-A', 'forward the SSH agent to the remote session (ssh -A)')
    .option('-B', 'batch mode: never ask for a password or passphrase (ssh -o BatchMode=yes)')
    .option('-S <program>', 'the same as -e (scp -S)')
    .option('-T', 'accepted for scp compatibility: fcp always checks the names a server sends')
    .option('-O', "accepted for scp compatibility: fcp speaks its own protocol (SFTP only with --sftp or without Node.js on the remote host)")
    .addOption(timeoutOption('give up with exit 7 after this many seconds without progress: launch, handshake, a silent peer, a hung disk write'))
    .version(version(), '-V, --version')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(fcp --help shows the options)');
}

/**
 * Runs fcp with argv (node, script, args...); resolves with the exit code. It is the program:
 * an error that escapes it (a bug) is reported like any other and exits 9.
 */
export async function main(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const command = program();
  const ended = parseArgs(command, argv, io);
  if (ended !== undefined) return ended;
  startMemoryGovernor();
  exitOnInterrupt(io.stderr);
  const paths = operandBytes(command.args, argv);
  const options = command.opts<FcpOptions>();
  const reporter = new Reporter({ json: !!options.json, quiet: !!options.quiet, verbose: !!options.verbose, ...io });
  catchEscapedErrors((error) => reporter.error(error));
  if (paths.length < 2) {
    reporter.error(new FcpError('FCP_ERR_USAGE', 'give at least one source and a destination', { hint: 'usage: fcp [options] SOURCE... DEST' }));
    return ExitCode.USAGE;
  }
  if (options.limit !== undefined && options.bwlimit !== undefined) {
    reporter.error(new FcpError('FCP_ERR_USAGE', '-l and --bwlimit were both given', { hint: 'give one: -l in Kbit/s as scp, or --bwlimit in KiB/s as rsync' }));
    return ExitCode.USAGE;
  }
  if (options.cipher === 'none' && options.encrypt === true) {
    reporter.error(new FcpError('FCP_ERR_USAGE', '-c none and --encrypt were both given', { hint: 'give one of them' }));
    return ExitCode.USAGE;
  }
  try {
    const summary = await copy({
      sources: paths.slice(0, -1),
      destination: paths[paths.length - 1]!,
      recursive: options.recursive,
      followSymlinks: options.dereference,
      ignoreTimes: options.ignoreTimes,
      noResume: options.resume === false,
      partialDir: options.partialDir,
      connections: options.connections,
      chunkSize: options.chunkSize,
      encrypt: options.cipher === 'none' ? false : options.encrypt,
      cipher: options.cipher === 'none' ? undefined : options.cipher,
      bwlimit: options.limit ?? options.bwlimit,
      sftp: options.sftp,
      failFast: options.failFast,
      timeout: options.timeout === undefined ? undefined : options.timeout / 1000,
      ssh: {
        configFile: options.config,
        port: options.port,
        identityFiles: options.identity,
        jump: options.jump,
        options: [...scpFlagOptions(options, argv), ...(options.option ?? [])],
        program: options.ssh ?? options.S,
        fcpdPath: options.fcpdPath,
        tunnel: options.tunnel,
        install: options.install,
      },
      log: (line) => reporter.log(line),
      notice: (line) => reporter.notice(line),
      onEvent: (event) => reporter.event(event),
    });
    reporter.summary(summary);
    return transferExitCode(summary.files, summary.errors);
  } catch (err) {
    const error = asFcpError(err);
    reporter.error(error);
    return error.exitCode;
  }
}
