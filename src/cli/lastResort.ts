/**
 * The last line of defence of fcp and fcpd. Every failure they know of is an FcpError handled
 * where it happens; an error that escapes every handler is a bug, and is shown as one
 * FCP_ERR_INTERNAL line with exit 9 instead of Node's stack dump. The stack is for -v and
 * FCP_DEBUG=1, where a bug report needs it.
 */
import { asFcpError, ExitCode, FcpError, internalStack } from '../errors';
import { showText } from '../showName';

/** For a bug, where it happened (a stack and a newline) when -v or FCP_DEBUG=1 asks; else ''. */
export function debugStack(error: FcpError, verbose: boolean): string {
  const stack = verbose || process.env.FCP_DEBUG === '1' ? internalStack(error) : undefined;
  return stack ? `${stack}\n` : '';
}

/** An error as the terminal shows it: "program: message (CODE)", the hint, and debugStack. */
export function errorText(program: string, error: FcpError, verbose: boolean): string {
  return `${program}: ${showText(error.describe())}\n${debugStack(error, verbose)}`;
}

/** Reports an uncaught exception or unhandled rejection with `report`, then exits 9. */
export function catchEscapedErrors(report: (error: FcpError) => void): void {
  const escaped = (err: unknown): never => {
    report(asFcpError(err));
    process.exit(ExitCode.INTERNAL);
  };
  process.on('uncaughtException', escaped);
  process.on('unhandledRejection', escaped);
}
