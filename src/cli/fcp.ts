/** The fcp command: scp-style arguments to copy(), progress and errors to the terminal. */
import { Command } from 'commander';
import { CipherName, copy, CopyOptions } from '../client/copy';
import { parseLocation } from '../client/location';
import { echoJson, echoText } from '../config/echo';
import { CIPHER_CHOICES, cipherOption } from './cipherOption';
import { asFcpError, ExitCode, FcpError, transferExitCode } from '../errors';
import { cryptoThreadCount } from '../wire/cryptoThreads';
import { DEFAULT_CONNECTIONS, MAX_CONNECTIONS, MIN_CONNECTIONS } from '../protocol/constants';
import { TUNE_MAX } from '../session/connectionTuner';
import { commandLineLayer, FcpSettings, loadFcpSettings } from './fcpConfig';
import { argParser, bwlimit, chunkSize, collect, connectionCount, deletionCount, fileSizeLimit, nonEmpty, scpLimit, sshPort, wholeNumber } from './optionValues';
import { Reporter } from './reporter';
import { EXIT_CODES_HELP, SIGNAL_EXIT } from './exitCodes';
import { catchEscapedErrors } from './lastResort';
import { startMemoryGovernor } from './memoryGovernor';
import { parseArgs, timeoutOption } from './parseArgs';
import { startWatchdog } from './watchdog';
import { operandBytes } from './rawArgv';
import { FilterArg, filesFromFile, filterOf, filterOptions } from './filterOptions';
import { version } from './version';
import { MIN_LAUNCH_TIMEOUT_MS } from '../timeouts';
import { loadXxhash } from '../protocol/xxhash';
// What a copy does not run (--watch, --two-way, the job options, --new-token) is loaded when used:
// a local copy then runs 137 of the bundle's modules at start-up instead of 194.
import type * as WatchCommandModule from './watchCommand';
import { DEFAULT_INTERVAL_S, MAX_INTERVAL_S, MIN_INTERVAL_S, SWEEP_SLICES } from '../watch/constants';
import { leaveForNextRun } from '../state/interrupted';
import { reapLaunching } from '../launch/remoteReap';
import type * as NewTokenModule from './newToken';
import { JobCommand, jobCommandOf, JobFlags } from './jobFlags';
import type * as JobsCommandModule from './jobsCommand';
import { KEEP_JOBS_DAYS_LIMIT, MAX_JOBS_LIMIT } from '../jobs/runnerControl';

/**
 * Whether this process's main started a copy: its V8 code cache is then a copy's (src/cli/codeCache.ts).
 * A cache written after `fcp --version` holds half of what a copy compiles, and copies given it
 * compiled the rest at every start (5 ms of a 1-byte local copy): a copy writes it again, once.
 */
let copyStarted = false;
export const startedCopy = (): boolean => copyStarted;

/** --follow-idle: whole seconds, at most what a timer takes (2^31 - 1 ms). */
const MAX_FOLLOW_IDLE_S = 2_147_483;

/**
 * Ctrl-C or SIGTERM: the journals of files being received are flushed and kept (the remote fcpd
 * keeps its own when the connections close), so that running the same command again resumes.
 * With --follow (`following`) the first one stops following instead, and the copy ends as usual
 * (exit 0 when all is in place); a second one interrupts.
 */
function exitOnInterrupt(stderr: NodeJS.WritableStream, following?: AbortController): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const exit = (): void => {
      leaveForNextRun();
      stderr.write(`fcp: interrupted (${signal}); partial files are kept: run the same command again to resume\n`);
      // A remote fcpd not listening yet would outlive fcp (remoteReap.ts); a second Ctrl-C does not wait for that.
      void reapLaunching().finally(() => process.exit(SIGNAL_EXIT[signal]));
    };
    if (!following) {
      process.once(signal, exit);
      continue;
    }
    process.once(signal, () => {
      if (following.signal.aborted) return exit();
      following.abort();
      process.once(signal, exit);
    });
  }
}


/** The sync options: commander's attributes are copy()'s names. */
type SyncFlags = Pick<CopyOptions, 'checksum' | 'sizeOnly' | 'update' | 'ignoreExisting' | 'existing' | 'minSize' | 'maxSize' | 'delete' | 'deleteExcluded' | 'maxDelete' | 'dryRun' | 'itemizeChanges'>;

interface FcpOptions extends SyncFlags, JobFlags {
  /** rsync's other name of --existing. */
  ignoreNonExisting?: boolean;
  port?: number;
  identity?: string[];
  /** -F: the ssh_config file. */
  sshConfig?: string;
  /** --config: fcp's own config.toml. */
  config?: string;
  echoConfig?: boolean;
  newToken?: boolean;
  jump?: string;
  option?: string[];
  ssh?: string;
  fcpdPath?: string;
  tunnel?: boolean;
  sftp?: boolean;
  viaFcpd?: boolean;
  verify: boolean;
  /** --no-install: false. */
  install?: boolean;
  recursive?: boolean;
  /** -a: rsync's archive mode, which is -r here. */
  archive?: boolean;
  connections?: number;
  chunkSize?: number;
  encrypt?: boolean;
  dereference?: boolean;
  hardLinks?: boolean;
  oneFileSystem?: boolean;
  mkpath?: boolean;
  compress?: boolean;
  wholeFile?: boolean;
  backup?: boolean;
  suffix?: string;
  removeSourceFiles?: boolean;
  numericIds?: boolean;
  ignoreTimes?: boolean;
  resume?: boolean;
  partialDir?: string;
  /** The four filter options share one list, in command-line order (filterOptions). */
  exclude?: FilterArg[];
  include?: FilterArg[];
  excludeFrom?: FilterArg[];
  includeFrom?: FilterArg[];
  filter?: FilterArg[];
  maxDepth?: number;
  filesFrom?: string;
  preserve?: boolean;
  quiet?: boolean;
  /** --progress: the progress line also without a terminal. */
  progress?: boolean;
  verbose?: boolean;
  json?: boolean;
  failFast?: boolean;
  /** Milliseconds. */
  timeout?: number;
  cipher?: CipherName | 'none';
  watch?: boolean;
  /** --two-way: with --watch, changes go both ways. */
  twoWay?: boolean;
  /** --interval: seconds. */
  interval?: number;
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
  /** scp's -3: between two remote hosts, through this machine. */
  3?: boolean;
  follow?: boolean;
  /** Seconds. */
  followIdle?: number;
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

const CONFIG_HELP = `
Settings: every option with a default can be set in ~/.config/fcp/config.toml (or
$XDG_CONFIG_HOME/fcp, $FCP_CONFIG, --config FILE), /etc/fcp/config.toml, or FCP_<KEY>
in the environment (FCP_CONNECTIONS=8); keys are long option names with _ for -, per
host in [host."PATTERN"] sections. The command line wins, then the environment, the
user file, the system file. fcp --echo-config [HOST] shows what applies and why.
`;

/** The remote host of a copy's operands (as typed), whose [host."PATTERN"] sections apply. */
function remoteHost(paths: readonly Buffer[]): string | undefined {
  for (const operand of paths) {
    const location = parseLocation(operand);
    if (location.kind === 'remote') return location.host;
  }
  return undefined;
}

export function program(): Command {
  const [exclude, include, excludeFrom, includeFrom, filterRule, depth] = filterOptions([]);
  return new Command('fcp')
    .usage('[options] SOURCE... DEST')
    .description(
      'Copy files and trees over N parallel, authenticated and encrypted connections. ' +
        'Mode, mtime and symlinks are preserved; files appear under their final names only once verified. ' +
        'Sources are placed as rsync places them, not scp: `fcp -r src/ dst` (or src/.) copies the contents of src into dst, ' +
        '`fcp -r src dst` copies src itself into dst/src, dst being created if missing: run again, a copy converges and never nests.',
    )
    .argument(
      '[paths...]',
      'sources, then the destination: local paths, [user@]host:path, or fcp://[user@]host[:port]/MODULE/PATH (a module of a standing fcpd, ' +
        'no SSH: README "Daemon access"); remote paths may start with ~ or ~user, and remote sources may hold patterns (*, ?, [...]), expanded by fcpd without a shell',
    )
    .option('-r, --recursive', 'copy directories and their contents')
    .option('-a, --archive', "the same as -r (rsync -a): fcp always keeps modes, times, symlinks and, as root, owners (rsync -a's devices and special files are skipped)")
    .option('-n, --connections <n>', `data connections (${MIN_CONNECTIONS}-${MAX_CONNECTIONS}); default: tuned while copying, a few and more while throughput grows, up to ${TUNE_MAX} (in a local copy one stream a CPU, 2 to ${DEFAULT_CONNECTIONS}); fcpd may lower it`, argParser(connectionCount))
    .option('--chunk-size <size>', 'unit of scheduling and verification, 64K-64M (default 1M; fcpd may lower it to bound its memory)', argParser(chunkSize))
    .option('--encrypt', 'encrypt even a local copy (default: on when a network is crossed)')
    .option('--no-encrypt', 'do not encrypt (trusted networks); connections are still authenticated')
    .option('--via-fcpd', 'make a local copy through a local fcpd over loopback TCP, as a remote copy runs (default: in this process; --encrypt, -l and --bwlimit imply it)')
    .option('--no-verify', 'local copies in this process: do not hash chunks (no per-chunk xxh64, no whole-file digest); with --sftp: check sizes alone')
    .option('-L, --dereference', 'copy what symlinks inside trees point to instead of the links (symlinks named as sources are always followed)')
    .option('-H, --hard-links', 'keep hard links: files linked to each other within the copy are linked at the destination too (rsync -H)')
    .option('--mkpath', "make the destination's missing directories first, as mkdir -p (rsync --mkpath): DEST itself when written with a trailing / (or with several sources), else the directory DEST is in")
    .option('-x, --one-file-system', 'do not enter a directory on another file system than its source (rsync -x): a mount point is copied as an empty directory')
    .option('-C, --compress', 'deflate chunk data on the wire where it shrinks (scp -C): pays on slow links with compressible files, costs CPU otherwise')
    .option('-z', 'the same as -C (rsync -z)')
    .option('-W, --whole-file', 'send changed files whole (default for a local copy, as rsync)')
    .option('--no-whole-file', 'send a changed file the destination holds an older version of as a delta: only the blocks that differ (default when a host is involved)')
    .option('-b, --backup', 'rename each destination file (or symlink) the copy replaces to its name + suffix first (rsync --backup)')
    .option('--suffix <suffix>', 'the suffix of --backup (default ~; no /)')
    .option('--remove-source-files', 'remove each source file, symlink and hard link once it is in place at the destination, unless it changed since it was read or is the destination itself; never directories (rsync)')
    .option('--numeric-ids', 'keep owners and groups by number, not by name (owners are kept when the receiving side runs as root, as rsync -a)')
    .option('-I, --ignore-times', 'send every file, even one the destination already has with the same size and mtime')
    .option('--checksum', 'sync: a file of the same size is left when its whole-file digest matches (both sides read and digest; no data sent for it)')
    .option('--size-only', 'sync: a file of the same size is left, whatever its mtime (its mtime is updated)')
    .option('-u, --update', 'sync: leave files that are newer at the destination')
    .option('--ignore-existing', 'sync: leave anything already at the destination')
    .option('--existing', 'sync: create nothing new at the destination, only update what is there (rsync; also --ignore-non-existing)')
    .option('--ignore-non-existing', 'the same as --existing')
    .option('--min-size <size>', "sync: leave files smaller than SIZE (rsync's units: 100k, 1.5M, 2GB, 1g-1)", argParser(fileSizeLimit))
    .option('--max-size <size>', "sync: leave files larger than SIZE (rsync's units; 0: only empty files)", argParser(fileSizeLimit))
    .option('--delete', 'sync: delete destination entries the source lacks, inside the copied directories only (never through a symlink)')
    .option('--delete-excluded', 'sync: also delete what the filters exclude (implies --delete)')
    .option('--max-delete <n>', 'sync: delete at most N entries; more to delete is an error (FCP_ERR_MAX_DELETE, exit 8)', argParser(deletionCount))
    .option('--dry-run', 'sync: show what would change (with --itemize-changes, -v or --json) and change nothing on either side')
    .option('--itemize-changes', "sync: one line per change on stdout in rsync's %i format (>f+++++++++ new file, >f.st...... changed, .f...p..... mode only, *deleting)")
    .option('--no-resume', 'discard partial files an interrupted run left and send every file whole (default: check the chunks they hold and send only the rest)')
    .option('--watch', 'sync, then keep syncing: changes are picked up from file-system events and rescans, and sent in rounds over one fcpd (README "Watching"); Ctrl-C or SIGTERM ends it (exit 0)')
    .option('--two-way', 'with --watch: keep A and B the same both ways (fcp --watch --two-way A B): changes and deletions of files, directories and symlinks on either side go to the other, an entry changed on both sides keeps both versions (NAME.conflict-HOST-TIME); a state database per pair (README "Two-way")')
    .option('--interval <seconds>', `--watch: rescan the source every SECONDS, for changes the events missed; a remote source is only rescanned; --two-way: a round every SECONDS, each sweeping a slice of both sides (compared with their records; all of them every ${SWEEP_SLICES} rounds) (${MIN_INTERVAL_S}-${MAX_INTERVAL_S}, default ${DEFAULT_INTERVAL_S})`, argParser(wholeNumber(MIN_INTERVAL_S, MAX_INTERVAL_S)))
    .option('--follow', 'after the copy, keep sending what the files grow by, files rewritten or truncated (again, as a delta) and new files in copied trees; a source that does not exist yet is waited for; Ctrl-C or SIGTERM stops it (exit 0)')
    .option('--follow-idle <seconds>', `with --follow: stop once nothing grew for this many seconds after the copy (1-${MAX_FOLLOW_IDLE_S})`, argParser(wholeNumber(1, MAX_FOLLOW_IDLE_S)))
    .option('--partial-dir <dir>', "keep partial files and their journals in DIR, relative to each destination file's directory (rsync's option; created 0700)")
    .addOption(exclude).addOption(include).addOption(excludeFrom).addOption(includeFrom).addOption(filterRule).addOption(depth)
    .option('--files-from <file>', "copy only the paths FILE lists (- for standard input), relative to the one source directory, each to the same path under DEST with the directories above it (rsync's; blank lines and # or ; comments skipped; a listed directory's contents only with -r; not with --delete)")
    .option('-p, --preserve', 'accepted for scp compatibility: modes and times are always preserved')
    .option('--fail-fast', 'stop at the first file that fails (default: copy the others, list the failures, exit 8)')
    .option('--progress', 'show the progress line also when stderr is not a terminal (on one it is always shown; rsync --progress)')
    .option('--partial', 'accepted for rsync compatibility: partial files are always kept and continued by the next run (--no-resume discards them)')
    .option('-h, --human-readable', 'accepted for rsync compatibility (rsync -avh): sizes and rates are always shown with units; -h alone, as in rsync, shows this help')
    .option('-q, --quiet', 'no progress line, summary line or notices; errors are listed at the end (and the exit code tells)')
    .option('-v, --verbose', 'log the handshake, the parameters and each file')
    .option('--json', 'JSON lines on stdout: start, progress, each file with its digest, summary')
    .option('-P, --port <port>', 'SSH port of the remote host', sshPort)
    .option('-i, --identity <file>', 'SSH identity (private key) file; repeatable', collect)
    .option('-F, --ssh-config <file>', 'ssh_config file to use instead of ~/.ssh/config')
    .option('-J, --jump <hosts>', 'connect through jump hosts: [user@]host[:port][,...]')
    .option('-o, --option <Key=Value>', 'ssh_config option, as ssh -o; repeatable', collect)
    .option('-e, --ssh <program>', 'start fcpd through this ssh program (default: the built-in SSH client)', argParser(nonEmpty))
    .option('--fcpd-path <command>', 'how to start fcpd on the remote host (default: fcpd on its PATH)', argParser(nonEmpty))
    .option('--tunnel', 'carry the data connections through SSH instead of direct TCP')
    .option('--sftp', 'copy over SFTP on SSH sessions instead of fcpd (what fcp does when the remote host has no Node.js 20+); -n pins their count, otherwise it is tuned while copying')
    .option('--no-install', "never copy fcp's own fcpd into ~/.cache/fcp on a host that has Node.js 20+ but no fcpd")
    .option('-l, --limit <Kbit/s>', 'limit the bandwidth, in whole Kbit/s of 1024 bits (scp -l: 8 is 1 KiB/s)', argParser(scpLimit))
    .option('--bwlimit <rate>', 'limit the bandwidth, in KiB/s or with a K, M or G suffix (rsync --bwlimit; default: no limit)', argParser(bwlimit))
    .option('-c, --cipher <name>', `cipher of fcp's data connections: ${CIPHER_CHOICES}`, cipherOption)
    .option('-3', 'between two remote hosts, relay the data through this machine (without it: host to host, relayed only when the source host cannot reach the other)')
    .option('-4', 'connect to IPv4 addresses only (ssh -4)')
    .option('-6', 'connect to IPv6 addresses only (ssh -6)')
    .option('-A', 'forward the SSH agent to the remote session (ssh -A)')
    .option('-B', 'batch mode: never ask for a password or passphrase (ssh -o BatchMode=yes)')
    .option('-S <program>', 'the same as -e (scp -S)', argParser(nonEmpty))
    .option('-T', 'accepted for scp compatibility: fcp always checks the names a server sends')
    .option('-O', "accepted for scp compatibility: fcp speaks its own protocol (SFTP only with --sftp or without Node.js on the remote host)")
    .addOption(timeoutOption(`give up with exit 7 after this many seconds without progress: launch (at least ${MIN_LAUNCH_TIMEOUT_MS / 1000} s), handshake, a silent peer, a hung disk`))
    .option('--background', "hand the copy to your job runner and return at once, printing the job id and the runner's pid (--json: one record); the job survives the terminal")
    .option('--jobs', 'list the background jobs: state, progress, rate, ETA (--json: an array of objects, docs/job.schema.json)')
    .option('--job <id>', 'show one job: progress, or its summary and errors once finished (--json: one object)')
    .option('--attach <id>', "show a job's live progress until it ends, and exit as it did (Ctrl-C detaches; the job goes on)")
    .option('--cancel <id>', 'stop a job, keeping its partial files so that --retry resumes it')
    .option('--discard', 'with --cancel: also remove the partial files the job left at its destination (over SSH for a remote one)')
    .option('--retry <id>', 'run a failed or cancelled job again, resuming from what is already there')
    .option('--check-login <[user@]host>', 'print true (exit 0) if a key or the agent logs in without any prompt (BatchMode), else false with the reason (exit 5)')
    .option('--max-jobs <n>', `the job runner runs at most N jobs at once, the rest queued (1-${MAX_JOBS_LIMIT}, default 2)`, argParser(wholeNumber(1, MAX_JOBS_LIMIT)))
    .option('--keep-jobs <days>', `finished jobs are kept this many days (1-${KEEP_JOBS_DAYS_LIMIT}, default 7)`, argParser(wholeNumber(1, KEEP_JOBS_DAYS_LIMIT)))
    .option('--config <file>', 'fcp settings file (TOML) to read instead of ~/.config/fcp/config.toml (or $FCP_CONFIG)')
    .option('--echo-config', 'print the settings a copy with [HOST] would use, each with where it came from (--json: one object), and exit')
    .option('--new-token', "print a new token for daemon access (fcp://), with the line for fcp's secrets file and the one for fcpd's users file, and exit")
    .version(version(), '-V, --version')
    .helpOption('--help', 'display help for command')
    .addHelpText('after', CONFIG_HELP + EXIT_CODES_HELP)
    .showHelpAfterError('(fcp --help shows the options)');
}

/**
 * copy()'s encrypt and cipher: a cipher from a settings file says which cipher to encrypt with, not
 * that a local copy be encrypted (a -c on the command line does, as before); no cipher when off.
 */
function encryption(settings: FcpSettings, remote: boolean): { encrypt?: boolean; cipher?: CipherName } {
  const cipherSource = settings.cipher.source.kind;
  const encrypt = (settings.encrypt.value as boolean | undefined) ?? (remote || cipherSource === 'flag' ? undefined : false);
  return { encrypt, cipher: encrypt === false || cipherSource === 'default' ? undefined : (settings.cipher.value as CipherName) };
}

/**
 * Runs fcp with argv (node, script, args...); resolves with the exit code. It is the program:
 * an error that escapes it (a bug) is reported like any other and exits 9.
 */
export async function main(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const command = program();
  // rsync's rule for -h: alone it asks for the help; with anything else it is --human-readable,
  // so that `fcp -avh src dst` copies (it printed the help and exited 0 without copying).
  const ended = parseArgs(command, argv.length === 3 && argv[2] === '-h' ? [...argv.slice(0, 2), '--help'] : argv, io);
  if (ended !== undefined) return ended;
  // The hash's WebAssembly compiles off the main thread while the options and settings are read
  // and the copy planned, instead of being awaited after them (5-7 ms of a local copy).
  loadXxhash().catch(() => undefined);
  const paths = operandBytes(command.args, argv);
  const options = command.opts<FcpOptions>();
  const reporter = new Reporter({ json: !!options.json, quiet: !!options.quiet, verbose: !!options.verbose, itemize: !!options.itemizeChanges, progress: !!options.progress, ...io });
  catchEscapedErrors((error) => reporter.error(error));
  let jobCommand: JobCommand | undefined;
  try {
    jobCommand = jobCommandOf(options);
  } catch (err) {
    reporter.error(asFcpError(err));
    return ExitCode.USAGE;
  }
  startMemoryGovernor();
  const followProblem = options.followIdle !== undefined && !options.follow ? '--follow-idle needs --follow'
    : options.follow && jobCommand !== undefined ? `--follow does not go with --${command.options.find((o) => o.attributeName() === jobCommand)?.name()}`
      : undefined;
  if (followProblem) {
    reporter.error(new FcpError('FCP_ERR_USAGE', followProblem, { hint: 'fcp --follow [--follow-idle SECONDS] SOURCE... DEST follows in the foreground until Ctrl-C' }));
    return ExitCode.USAGE;
  }
  const following = options.follow ? new AbortController() : undefined;
  // Ctrl-C during --attach detaches from the job, which goes on.
  // --watch ends on them by itself, with exit 0.
  if (jobCommand !== 'attach' && !options.watch) exitOnInterrupt(io.stderr, following);
  if (options.limit !== undefined && options.bwlimit !== undefined) {
    reporter.error(new FcpError('FCP_ERR_USAGE', '-l and --bwlimit were both given', { hint: 'give one: -l in Kbit/s as scp, or --bwlimit in KiB/s as rsync' }));
    return ExitCode.USAGE;
  }
  if (options.cipher === 'none' && options.encrypt === true) {
    reporter.error(new FcpError('FCP_ERR_USAGE', '-c none and --encrypt were both given', { hint: 'give one of them' }));
    return ExitCode.USAGE;
  }
  try {
    // FCP_CRYPTO_THREADS is read when the first data connection is up: a bad value is told now.
    cryptoThreadCount();
  } catch (err) {
    reporter.error(asFcpError(err));
    return ExitCode.USAGE;
  }
  if (options.newToken) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    io.stdout.write((require('./newToken') as typeof NewTokenModule).newTokenText());
    return ExitCode.OK;
  }
  // Job options other than --background copy nothing: they take no paths.
  const copiesPaths = jobCommand === undefined || jobCommand === 'background';
  if (!copiesPaths && paths.length > 0) {
    reporter.error(new FcpError('FCP_ERR_USAGE', `--${command.options.find((o) => o.attributeName() === jobCommand)?.name()} takes no paths`, { hint: 'copy with fcp [options] SOURCE... DEST, or hand the copy to the job runner with --background' }));
    return ExitCode.USAGE;
  }
  if (copiesPaths && (options.echoConfig ? paths.length > 1 : paths.length < 2)) {
    const usage = options.echoConfig ? 'fcp --echo-config [HOST]' : 'fcp [options] SOURCE... DEST';
    reporter.error(new FcpError('FCP_ERR_USAGE', options.echoConfig ? 'give at most one host' : 'missing arguments: give at least one source and a destination', { hint: `usage: ${usage}` }));
    return ExitCode.USAGE;
  }
  const host = options.echoConfig ? paths[0]?.toString('utf8') : remoteHost(options.checkLogin ? [Buffer.from(`${options.checkLogin}:`)] : paths);
  let loaded: ReturnType<typeof loadFcpSettings>;
  try {
    loaded = loadFcpSettings({ env: process.env, configFile: options.config, host, commandLine: commandLineLayer(command) });
  } catch (err) {
    const error = asFcpError(err);
    reporter.error(error);
    return error.exitCode;
  }
  if (options.echoConfig) {
    const input = { program: 'fcp', ...loaded };
    io.stdout.write(options.json ? `${JSON.stringify(echoJson(input))}\n` : echoText(input));
    return ExitCode.OK;
  }
  const settings = loaded.settings;
  try {
    const request: CopyOptions = {
      sources: paths.slice(0, -1),
      destination: paths[paths.length - 1]!,
      recursive: options.recursive || options.archive,
      followSymlinks: settings.dereference.value as boolean,
      hardLinks: settings.hard_links.value as boolean,
      oneFileSystem: settings.one_file_system.value as boolean,
      mkpath: settings.mkpath.value as boolean,
      compress: settings.compress.value as boolean,
      wholeFile: settings.whole_file.value as boolean | undefined,
      backup: settings.backup.value as boolean,
      backupSuffix: settings.suffix.value as string,
      removeSourceFiles: settings.remove_source_files.value as boolean,
      numericIds: settings.numeric_ids.value as boolean,
      ignoreTimes: settings.ignore_times.value as boolean,
      checksum: options.checksum,
      sizeOnly: options.sizeOnly,
      update: options.update,
      ignoreExisting: options.ignoreExisting,
      existing: (options.existing ?? false) || (options.ignoreNonExisting ?? false),
      minSize: options.minSize,
      maxSize: options.maxSize,
      delete: options.delete,
      deleteExcluded: options.deleteExcluded,
      maxDelete: options.maxDelete,
      dryRun: options.dryRun,
      itemizeChanges: options.itemizeChanges,
      noResume: !(settings.resume.value as boolean),
      partialDir: settings.partial_dir.value as string | undefined,
      filesFrom: options.filesFrom === undefined ? undefined : filesFromFile(options.filesFrom),
      filter: filterOf(options.exclude ?? options.include ?? options.excludeFrom ?? options.includeFrom ?? options.filter ?? [], settings.max_depth.value as number | undefined, settings.filter.value as readonly string[]),
      connections: settings.connections.value as number | undefined,
      chunkSize: settings.chunk_size.value as number,
      ...encryption(settings, host !== undefined),
      bwlimit: settings.bwlimit.value as number | undefined,
      sftp: settings.sftp.value as boolean,
      throughLocal: options[3],
      viaFcpd: settings.via_fcpd.value as boolean,
      verify: settings.verify.value as boolean,
      failFast: settings.fail_fast.value as boolean,
      // Left out when not set, so that fcpd keeps its own default too (no --timeout on its command line).
      timeout: settings.timeout.source.kind === 'default' ? undefined : (settings.timeout.value as number) / 1000,
      ssh: {
        configFile: options.sshConfig,
        port: options.port,
        identityFiles: options.identity,
        jump: options.jump,
        options: [...scpFlagOptions(options, argv), ...(options.option ?? [])],
        program: settings.ssh.value as string | undefined,
        fcpdPath: settings.fcpd_path.value as string | undefined,
        tunnel: settings.tunnel.value as boolean,
        install: settings.install.value as boolean,
      },
      log: (line) => reporter.log(line),
      notice: (line) => reporter.notice(line),
      onEvent: (event) => reporter.event(event),
      ...(following ? { follow: { idleSeconds: options.followIdle, signal: following.signal } } : {}),
    };
    if (options.watch && jobCommand !== undefined) throw new FcpError('FCP_ERR_USAGE', '--watch runs in the foreground, not as a background job', { hint: 'run fcp --watch under nohup or a service manager' });
    startWatchdog({ program: 'fcp', timeoutMs: settings.timeout.value as number, json: !!options.json });
    if (jobCommand !== undefined) {
      const context = { maxJobs: settings.max_jobs.value as number, keepDays: settings.keep_jobs.value as number };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runJobCommand } = require('./jobsCommand') as typeof JobsCommandModule;
      return await runJobCommand(jobCommand, { flags: options, context, reporter, stdout: io.stdout, copy: request, ssh: request.ssh ?? {} });
    }
    if (options.twoWay && !options.watch) throw new FcpError('FCP_ERR_USAGE', '--two-way is a mode of --watch', { hint: 'fcp --watch --two-way A B' });
    if (options.twoWay || options.watch) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runTwoWay, runWatch } = require('./watchCommand') as typeof WatchCommandModule;
      return await (options.twoWay ? runTwoWay : runWatch)(request, settings.interval.value as number, reporter, !!options.json, io.stdout);
    }
    copyStarted = true;
    const summary = await copy({ ...request, fileEvents: reporter.wantsFileEvents });
    reporter.summary(summary);
    return transferExitCode(summary.files, summary.errors);
  } catch (err) {
    const error = asFcpError(err);
    reporter.error(error);
    return error.exitCode;
  }
}
