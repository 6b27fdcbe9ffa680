/** The fcpd command: serve one session for the fcp that started it. */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ExitCode, FcpError } from '../errors';
import { awaitLine } from '../launch/lines';
import { listenLine, parseSecretLine } from '../launch/handoff';
import { serveSession } from '../server/serveSession';
import { LAUNCH_TIMEOUT_MS } from '../timeouts';
import { EXIT_CODES_HELP } from './fcp';
import { version } from './version';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number, 0-65535');
  return n;
}

interface FcpdOptions {
  serve?: boolean;
  bind: string;
  port: number;
  verbose?: boolean;
}

function program(): Command {
  return new Command('fcpd')
    .description(
      'The fcp server. fcp starts it (locally, or on the remote host) as `fcpd --serve`,\n' +
        'gives it the session secret on standard input and reads its port from standard output.',
    )
    .option('--serve', 'serve one session: read "FCP-SECRET <hex>" on stdin, print "FCPD-LISTEN <port> <addr>"')
    .option('--bind <address>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'port to listen on (0: any free port)', port, 0)
    .option('-v, --verbose', 'log connections and the session on stderr')
    .version(version(), '-V, --version')
    .addHelpText('after', EXIT_CODES_HELP);
}

export async function main(argv: string[], io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const command = program()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  try {
    command.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    throw err;
  }
  const options = command.opts<FcpdOptions>();
  const report = (error: FcpError): number => {
    io.stderr.write(`fcpd: ${error.describe()}\n`);
    return error.exitCode;
  };
  if (!options.serve) {
    return report(new FcpError('FCP_ERR_USAGE', 'nothing to do', { hint: 'fcpd --serve is started by fcp; see fcpd --help' }));
  }
  // fcpd's log lines go to stderr, which fcp shows with -v; the session runs regardless.
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  try {
    const secret = await awaitLine(io.stdin, (line) => parseSecretLine(line), {
      timeoutMs: LAUNCH_TIMEOUT_MS,
      what: 'session secret on standard input',
      ended: () => new FcpError('FCP_ERR_USAGE', 'standard input ended before the session secret', { hint: 'fcpd --serve is started by fcp' }),
    });
    io.stdin.destroy();
    const summary = await serveSession({
      secret,
      bind: options.bind,
      port: options.port,
      log: options.verbose ? log : () => undefined,
      listening: (listenPort, address) => io.stdout.write(listenLine(listenPort, address)),
    });
    if (options.verbose) log(`session done: ${summary.filesOk} files, ${summary.bytes} bytes, ${summary.filesFailed} failed`);
    return summary.errors.length > 0 ? ExitCode.PARTIAL : ExitCode.OK;
  } catch (err) {
    return report(err instanceof FcpError ? err : new FcpError('FCP_ERR_INTERNAL', String((err as Error)?.stack ?? err), { cause: err }));
  }
}
