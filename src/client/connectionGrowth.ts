/**
 * Runs the connection tuner (src/session/connectionTuner.ts) for a session with feature GROW:
 * measures the goodput of the data connections over each window and opens the connections the
 * tuner asks for, until it is done or the transfer ends.
 */
import { idleMeter } from '../cpuIdle';
import { FcpError } from '../errors';
import { ForcedTuning, startTuning, tunerLimits, tunerWindowMs, tuneStep } from '../session/connectionTuner';

/**
 * For tests only: `WINDOW_MS:MIN_GAIN` replaces the measuring window and the gain an addition
 * must bring (`50:-1` adds at every 50 ms window that moved a byte, whatever the goodput), so that a short copy on
 * loopback grows. Not a user setting: the defaults are what the benchmarks measured.
 */
export const TEST_TUNER_ENV = 'FCP_TEST_TUNER';

export interface GrowthOptions {
  /** Data connections open or being opened when tuning starts. */
  connections: number;
  /** The accepted PARAMS connections. */
  max: number;
  /** Round trip measured when the control connection was dialled. */
  rttMs: number;
  /** fcpd runs on this machine (the launcher's sameHost): both ends share its CPUs. */
  sameHost: boolean;
  /** Bytes the data connections carried so far, all together. */
  bytesMoved(): number;
  /** Opens `count` more data connections. */
  add(count: number): void;
  log(line: string): void;
  /** FCP_TEST_TUNER's window and gain, in place of the measured ones. */
  forced?: ForcedTuning;
}

/** What FCP_TEST_TUNER forces, or undefined when it is not set; a malformed value is FCP_ERR_USAGE. */
export function forcedTuning(env: NodeJS.ProcessEnv = process.env): ForcedTuning | undefined {
  const value = env[TEST_TUNER_ENV];
  if (value === undefined) return undefined;
  const match = /^([0-9]+):(-?[0-9.]+)$/.exec(value);
  if (!match || Number(match[1]) < 1 || !Number.isFinite(Number(match[2]))) {
    throw new FcpError('FCP_ERR_USAGE', `${TEST_TUNER_ENV} must be WINDOW_MS:MIN_GAIN (e.g. 50:-1), not ${JSON.stringify(value)}`);
  }
  return { windowMs: Number(match[1]), minGain: Number(match[2]) };
}

/** Starts tuning; the returned function stops it (the transfer ended). */
export function growConnections(options: GrowthOptions): () => void {
  const { forced } = options;
  const window = tunerWindowMs(options.rttMs, forced);
  const limits = tunerLimits(options.max, forced, undefined, options.sameHost);
  let state = startTuning(options.connections, limits);
  if (state.done) return () => undefined;
  let lastBytes = options.bytesMoved();
  let lastAt = Date.now();
  const idle = idleMeter();
  const timer = setInterval(() => {
    const bytes = options.bytesMoved();
    const now = Date.now();
    const rate = ((bytes - lastBytes) * 1000) / Math.max(1, now - lastAt);
    [lastBytes, lastAt] = [bytes, now];
    const idleShare = idle();
    const step = tuneStep(state, rate, limits, idleShare);
    state = step.state;
    const measured = `${Math.round(rate / 1e6)} MB/s over ${state.connections - step.add} data connections, CPUs ${Math.round(idleShare * 100)} % idle`;
    if (step.add > 0) {
      options.log(`${measured}: opening ${step.add} more`);
      options.add(step.add);
    }
    if (state.done) {
      clearInterval(timer);
      options.log(`data connections tuned: ${state.connections} of at most ${limits.max} (${measured})`);
    }
  }, window);
  timer.unref();
  return () => clearInterval(timer);
}
