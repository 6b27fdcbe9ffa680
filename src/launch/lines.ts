/** Reading the first matching line of a child's output, with a deadline. */
import type { Readable } from 'node:stream';
import { FcpError } from '../errors';

/**
 * Resolves with the first line `match` accepts. Every other line goes to `other`. Fails when the
 * stream ends first or the deadline passes, saying `what` was awaited.
 */
export function awaitLine<T>(
  stream: Readable,
  match: (line: string) => T | undefined,
  options: { timeoutMs: number; what: string; other?: (line: string) => void; ended?: () => FcpError },
): Promise<T> {
  return new Promise((resolve, reject) => {
    let pending = '';
    const finish = (error: FcpError | undefined, value?: T): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      if (error) reject(error);
      else resolve(value as T);
    };
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let value: T | undefined;
        try {
          value = match(line);
        } catch (err) {
          return finish(err instanceof FcpError ? err : new FcpError('FCP_ERR_INTERNAL', String(err), { cause: err }));
        }
        if (value !== undefined) return finish(undefined, value);
        options.other?.(line);
      }
      if (pending.length > 64 * 1024) pending = pending.slice(-1024);
    };
    const onEnd = (): void =>
      finish(options.ended?.() ?? new FcpError('FCP_ERR_CONNECT', `ended before ${options.what}`));
    const timer = setTimeout(
      () =>
        finish(
          new FcpError('FCP_ERR_TIMEOUT', `no ${options.what} within ${Math.round(options.timeoutMs / 1000)} s`, {
            hint: 'run again with -v to see what the other side printed',
          }),
        ),
      options.timeoutMs,
    );
    stream.on('data', onData);
    stream.on('end', onEnd);
  });
}
