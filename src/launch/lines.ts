/** Reading a child's output line by line: every line, or the first matching one with a deadline. */
import type { Readable } from 'node:stream';
import { asFcpError, FcpError } from '../errors';

/** A peer that never ends a line cannot grow the pending text past this. */
const MAX_PENDING = 64 * 1024;

/** A 'data' handler that calls onLine for every complete line of UTF-8 text. */
export function splitLines(onLine: (line: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
    }
    if (pending.length > MAX_PENDING) pending = pending.slice(-1024);
  };
}

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
    let settled = false;
    const finish = (error: FcpError | undefined, value?: T): void => {
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      if (error) reject(error);
      else resolve(value as T);
    };
    const onData = splitLines((line) => {
      if (settled) return;
      let value: T | undefined;
      try {
        value = match(line);
      } catch (err) {
        return finish(asFcpError(err));
      }
      if (value !== undefined) return finish(undefined, value);
      options.other?.(line);
    });
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
