/**
 * How bin/fcp and bin/fcpd run a command's main: a reader that goes away (fcp --help | head) is
 * not an error, and `settled` runs once main has resolved (bin/ saves the V8 code cache then, if
 * it has no cache of this `kind` of run: src/cli/codeCache.ts).
 * The command runs without incremental marking (gcFlags.ts), set back before `settled`.
 * fcp exits as soon as its output is flushed: once main resolves the copy is complete and
 * reported, and waiting a round trip for the SSH and data connections to finish closing would
 * only add to its time. fcpd ends when nothing is left to do.
 */
import * as path from 'node:path';
import { asFcpError, FcpError } from '../errors';
import { trace } from '../trace';
import { noDescriptorsError, outOfDescriptors } from '../transfer/openFileBudget';
import { collectOldSpaceWhenFull, defaultMarking } from './gcFlags';
import { errorText } from './lastResort';

/**
 * What fails before main can report it (its reporter not made yet): said as every error is, not
 * as Node's stack trace. Out of descriptors, a process cannot even read its own package.json.
 */
function failedToStart(err: unknown): number {
  const error: FcpError = outOfDescriptors(err) ? noDescriptorsError('cannot start', err as NodeJS.ErrnoException) : asFcpError(err);
  process.stderr.write(errorText(path.basename(process.argv[1] ?? 'fcp'), error, false));
  return error.exitCode;
}

/** Where bin/'s shell line keeps NODE_EXTRA_CA_CERTS while Node starts. */
const CA_CERTS_ASIDE = 'FCP_NODE_EXTRA_CA_CERTS';

export function runCommand(main: (argv: string[]) => Promise<number>, exitWhenFlushed: boolean, settled: () => void = () => {}): void {
  const caCerts = process.env[CA_CERTS_ASIDE];
  if (caCerts !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = caCerts;
    delete process.env[CA_CERTS_ASIDE];
  }
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  collectOldSpaceWhenFull();
  void main(process.argv).catch(failedToStart).then((code) => {
    defaultMarking();
    settled();
    if (!exitWhenFlushed) {
      process.exitCode = code;
      return;
    }
    let pending = 2;
    const flushed = (): void => {
      if (--pending > 0) return;
      trace('exit');
      process.exit(code);
    };
    process.stdout.write('', flushed);
    process.stderr.write('', flushed);
  });
}
