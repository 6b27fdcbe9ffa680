/** An fcp --watch --two-way run in this process, for tests: its rounds' reports, and a stop that waits for its end. */
import type { CopyOptions } from '../../../src/client/copy';
import { TwoWayRoundReport, twoWay } from '../../../src/watch/twoWay';

export interface Running {
  rounds: TwoWayRoundReport[];
  /** Runs `change` right after the next round is reported (before another can start). */
  afterNextRound(change: () => void): void;
  /** Stops the run and waits for its end (rejects with the run's failure). */
  stop(): Promise<void>;
}

/** Starts two-way rounds every second for `copy` with its state in `stateFile`; `onRound` is told of each round too. */
export function startTwoWay(copy: CopyOptions, stateFile: string, onRound?: (report: TwoWayRoundReport) => void): Running {
  const rounds: TwoWayRoundReport[] = [];
  let queued: (() => void) | undefined;
  const abort = new AbortController();
  const ended = twoWay({
    copy,
    intervalS: 1,
    stateFile,
    signal: abort.signal,
    onRound: (report) => {
      rounds.push(report);
      onRound?.(report);
      const change = queued;
      queued = undefined;
      change?.();
    },
  });
  ended.catch(() => undefined);
  return {
    rounds,
    afterNextRound: (change) => (queued = change),
    async stop() {
      abort.abort();
      await ended;
    },
  };
}
