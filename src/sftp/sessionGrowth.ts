/**
 * The SFTP session count when the user did not pin it (-n): the copy starts on SFTP_INITIAL_SESSIONS
 * and the connection tuner (session/connectionTuner.ts, the one fcpd sessions use) decides over
 * measuring windows whether to double it while goodput grows, up to TUNE_MAX. A fixed 4 lost on a
 * 2-core loopback (1 GiB 2.4x scp's time: four sshds, sftp-servers and logins, and four sessions'
 * ciphers in one Node thread, on the two cores that carry the copy) and won on a long link (4
 * windows of the server's 2 MiB): the tuner finds which it is. It adds only while each session is
 * held by its window (goodput near sessions x window / round trip), whatever the CPUs say: there
 * an addition adds a window; on loopback no session is. A window is measured only once the
 * sessions it added are open: a session's login (the remote user's rc files start its
 * sftp-server) can take longer than several windows.
 */
import { idleMeter } from '../cpuIdle';
import { ForcedTuning, startTuning, TUNE_MAX, tunerLimits, tunerWindowMs, tuneStep } from '../session/connectionTuner';

/** Sessions an untuned SFTP copy starts with: one is scp's own shape, and the floor on a fast link. */
export const SFTP_INITIAL_SESSIONS = 1;
/** The most sessions tuning opens. */
export const SFTP_MAX_SESSIONS = TUNE_MAX;

export interface SessionGrowthOptions {
  /** Sessions open when tuning starts. */
  sessions: number;
  /** A round trip to the server (ms), which sizes the measuring window. */
  rttMs: number;
  /** The most one session keeps in flight (sessionWindowBytes): with rttMs, what a window-bound session carries. */
  windowBytes: number;
  /** Bytes the copy moved so far. */
  bytesMoved(): number;
  /** Opens one more session and hands it to the copy. */
  add(): Promise<void>;
  log(line: string): void;
  /** Replaces the window and the gain an addition must bring (tests: FCP_TEST_TUNER). */
  forced?: ForcedTuning;
}

/**
 * Tunes until done or stopped. `stop` (the copy ended) ends it at once, even in a window or while
 * a session is being opened: `add` closes a session that opens after the copy ended.
 */
export function growSessions(options: SessionGrowthOptions): { stop(): void } {
  const { forced } = options;
  const window = tunerWindowMs(options.rttMs, forced);
  const limits = tunerLimits(SFTP_MAX_SESSIONS, forced, { bytes: options.windowBytes, rttMs: options.rttMs });
  let stopped = false;
  let wake: () => void = () => undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  void (async () => {
    let state = startTuning(options.sessions, limits);
    let lastBytes = options.bytesMoved();
    let lastAt = Date.now();
    const idle = idleMeter();
    let measured = 'nothing measured';
    while (!state.done) {
      await pause(window);
      if (stopped) return;
      const bytes = options.bytesMoved();
      const now = Date.now();
      const rate = ((bytes - lastBytes) * 1000) / Math.max(1, now - lastAt);
      const idleShare = idle();
      const step = tuneStep(state, rate, limits, idleShare);
      state = step.state;
      measured = `${Math.round(rate / 1e6)} MB/s over ${state.connections - step.add} sessions, CPUs ${Math.round(idleShare * 100)} % idle`;
      if (step.add > 0) {
        options.log(`sftp: ${measured}: opening ${step.add} more`);
        const opened = await Promise.allSettled(Array.from({ length: step.add }, () => options.add()));
        const failed = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
        if (failed && !stopped) {
          options.log(`sftp: another session could not be opened (${(failed.reason as Error).message}); going on with those open`);
          return;
        }
        if (stopped) return;
      }
      [lastBytes, lastAt] = [options.bytesMoved(), Date.now()];
      idle();
    }
    options.log(`sftp: sessions tuned: ${state.connections} of at most ${limits.max} (${measured})`);
  })();
  return {
    stop: () => {
      stopped = true;
      wake();
    },
  };
}
