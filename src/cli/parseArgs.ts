/** Command-line parsing shared by fcp and fcpd: commander's output to our streams, its exits to our codes. */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, ExitCodeValue, FcpError } from '../errors';
import { showText } from '../showName';
import { DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, MIN_TIMEOUT_S } from '../timeouts';
import { argParser, timeoutMs } from './optionValues';
import { errorRecord } from './reporter';

/**
 * Parses argv into `command`; returns the exit code when parsing ended the run (help, version, a
 * usage error). A command with --json that finds --json anywhere on the command line reports a
 * usage error as its one JSON error record on stdout, as it reports every other failure.
 */
export function parseArgs(command: Command, argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): ExitCodeValue | undefined {
  const json = command.options.some((option) => option.long === '--json') && argv.slice(2).includes('--json');
  // Subcommands (fcp-track's) too: commander copies these settings only into commands made after them.
  const configure = (each: Command): void => {
    each.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      // A bad argument is quoted back: with any control character in it escaped.
      writeErr: (s) => io.stderr.write(showText(s)),
      // Usage errors carry their stable code, and the program's name in place of commander's
      // "error:", like every other error fcp shows ("fcp: unknown option ...", as scp's "scp: ...").
      outputError: (s, write) => {
        if (!json) return write(`${s.trimEnd().replace(/^error: /, `${command.name()}: `)} (FCP_ERR_USAGE)\n`);
        const error = new FcpError('FCP_ERR_USAGE', s.trim().replace(/^error: /, ''), { hint: `${command.name()} --help shows the options` });
        io.stdout.write(`${JSON.stringify(errorRecord(error))}\n`);
      },
    });
    // The JSON record carries the pointer to --help; nothing goes to stderr.
    if (json) each.showHelpAfterError(false);
    each.commands.forEach(configure);
  };
  configure(command);
  try {
    command.parse(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    throw err;
  }
}

/** --timeout SECONDS, as fcp and fcpd both take it; its value is in milliseconds. */
export function timeoutOption(description: string): Option {
  return new Option('--timeout <seconds>', `${description} (${MIN_TIMEOUT_S}-${MAX_TIMEOUT_S}, default ${DEFAULT_TIMEOUT_S})`).argParser(argParser(timeoutMs));
}
