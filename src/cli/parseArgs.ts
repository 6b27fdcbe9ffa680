/** Command-line parsing shared by fcp and fcpd: commander's output to our streams, its exits to our codes. */
import { Command, CommanderError } from 'commander';
import { ExitCode, ExitCodeValue } from '../errors';
import { showText } from '../showName';

/** Parses argv into `command`; returns the exit code when parsing ended the run (help, version, a usage error). */
export function parseArgs(command: Command, argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): ExitCodeValue | undefined {
  command.exitOverride().configureOutput({
    writeOut: (s) => io.stdout.write(s),
    // A bad argument is quoted back: with any control character in it escaped.
    writeErr: (s) => io.stderr.write(showText(s)),
    // Usage errors carry their stable code like every other error fcp shows.
    outputError: (s, write) => write(`${s.trimEnd()} (FCP_ERR_USAGE)\n`),
  });
  try {
    command.parse(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    throw err;
  }
}
