/**
 * When --follow stops (PROTOCOL.md §7.10): on the abort signal (fcp's Ctrl-C or SIGTERM), or after
 * --follow-idle seconds in which nothing grew (no byte sent or received). Either way the engine is
 * asked to stop following, and the session then ends as a copy does: exit 0 when all is in place.
 *
 * The idle clock starts when following begins, not with the copy: once every file counted so far
 * (start()'s and those following counted since, grew()) has ended. A long first copy, or a file
 * sent again while it runs, does not use up the idle time.
 */
import type { TransferEvents } from '../transfer/link';

export interface FollowOptions {
  /** Stop after this many seconds without growth; undefined: until the signal. */
  idleSeconds?: number;
  /** Stop when aborted. */
  signal?: AbortSignal;
}

export interface FollowControl {
  /** `events` with growth (bytes) restarting the idle clock, and the files counted and ended starting it. */
  readonly events: TransferEvents;
  /** The engine to stop, once it exists: a stop asked for before is passed on at once. */
  attach(stop: () => void): void;
  dispose(): void;
}

export function followControl(options: FollowOptions, events: TransferEvents): FollowControl {
  let stop: (() => void) | undefined;
  let asked = false;
  const ask = (): void => {
    asked = true;
    stop?.();
  };
  let idle: NodeJS.Timeout | undefined;
  /** Files counted (undefined: not yet, before start()) and files ended. */
  let counted: number | undefined;
  let ended = 0;
  const startClockIfFollowing = (): void => {
    if (idle === undefined && options.idleSeconds !== undefined && counted !== undefined && ended >= counted) idle = setTimeout(ask, options.idleSeconds * 1000);
  };
  options.signal?.addEventListener('abort', ask);
  return {
    events: {
      ...events,
      start(files, bytes) {
        counted = files;
        events.start?.(files, bytes);
        startClockIfFollowing();
      },
      grew(files, bytes) {
        counted = (counted ?? 0) + files;
        events.grew?.(files, bytes);
      },
      file(event) {
        ended++;
        events.file?.(event);
        startClockIfFollowing();
      },
      bytes(count) {
        idle?.refresh();
        events.bytes?.(count);
      },
    },
    attach(engineStop) {
      stop = engineStop;
      if (asked || options.signal?.aborted) ask();
    },
    dispose() {
      clearTimeout(idle);
      options.signal?.removeEventListener('abort', ask);
    },
  };
}
