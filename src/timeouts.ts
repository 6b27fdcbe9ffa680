/**
 * Every wait has a deadline; these are the defaults both fcp and fcpd use. `fcp --timeout
 * SECONDS` (and fcpd's, which fcp passes on when it launches it) sets the idle, handshake, launch
 * and disk limits at once: all of them are "this long without progress"; the launch's never less
 * than MIN_LAUNCH_TIMEOUT_MS.
 */

/** The default of --timeout, in seconds. */
export const DEFAULT_TIMEOUT_S = 30;
/** --timeout's range: at least two keepalive intervals, at most a day. */
export const MIN_TIMEOUT_S = 2;
export const MAX_TIMEOUT_S = 86_400;

/** A connection's handshake (HELLO to AUTH_OK, and SESSION on the control connection). */
export const HANDSHAKE_TIMEOUT_MS = DEFAULT_TIMEOUT_S * 1000;
/** How long fcp waits, at most, for the control connection to say why a data connection was refused. */
export const CAUSE_WAIT_MS = 1000;
/**
 * Silence on an established connection, and a disk write that does not complete: either fails
 * the session with FCP_ERR_TIMEOUT.
 */
export const IDLE_TIMEOUT_MS = DEFAULT_TIMEOUT_S * 1000;
/** fcpd's wait for its client, and fcp's wait for fcpd's listen line. */
export const LAUNCH_TIMEOUT_MS = 30_000;
/**
 * The least a launch waits, whatever --timeout says: the launch's default. --timeout is an idle
 * limit (as rsync's); a launch waits for a Node start and its bundle, which a loaded host takes
 * seconds over without anything being wrong (fcp --timeout 2 through a local fcpd failed so, "no
 * listen line from fcpd within 2 s", while the machine ran a build; at load 18 on 2 cores a
 * floor of 10 s was not enough either): the launch has its own bound, as ssh's ConnectTimeout and
 * rsync's --contimeout are apart from their idle limits. A longer --timeout lengthens it.
 */
export const MIN_LAUNCH_TIMEOUT_MS = LAUNCH_TIMEOUT_MS;
/**
 * Ending a remote launch that failed (src/launch/remoteReap.ts): the second command that signals
 * it, login included with an external ssh. Fixed: it runs on the way out, whatever --timeout says.
 */
export const REMOTE_REAP_TIMEOUT_MS = 5000;
/**
 * The longest a healthy connection goes without writing: it ticks twice in this time and sends
 * KEEPALIVE at a tick when it wrote nothing since the one before (a write just after a tick is
 * followed by one within two ticks), and its idle check runs at each tick. Fixed, not a fraction
 * of our own timeout: the peer's timeout may be shorter (each side sets its own), and at
 * MIN_TIMEOUT_S it still hears from us twice. (Ticking at this interval let a write just after a
 * tick be the last for two intervals, all of a peer's --timeout 2.)
 */
export const KEEPALIVE_INTERVAL_MS = 1000;
/** How often a connection ticks: see KEEPALIVE_INTERVAL_MS. */
export const CONNECTION_TICK_MS = KEEPALIVE_INTERVAL_MS / 2;

/** How often the main thread ticks for the stall watchdog, and how often the watchdog looks (src/cli/watchdog.ts). */
export const HEARTBEAT_MS = 500;
/**
 * How long fcpd serves a session before it starts its stall watchdog's thread. A worker thread
 * costs 25-50 ms of CPU to start, Node's own bootstrap whatever it runs (3-4 % of a sub-second
 * copy where both sides share two cores: the loopback tree, 0.740 s against 0.726 deferred). The
 * session's fcp watches fcpd all along and reports a silent fcpd first (STALL_GRACE_MS); the
 * thread ends a stuck fcpd. A session stuck before this is reported as ever, and its fcpd ends
 * when the stuck call returns, as it would without a thread.
 */
export const FCPD_WATCHDOG_DEFER_MS = 1000;
/**
 * A process whose main thread is stuck (a disk call that never returns) ends itself this long
 * after its idle timeout: its peer, which has heard nothing since, reports its own FCP_ERR_TIMEOUT
 * first (it looks each CONNECTION_TICK_MS), so that the copy ends with exit 7 whichever side
 * hung, never with a lost connection that depends on timing.
 */
export const STALL_GRACE_MS = 2 * KEEPALIVE_INTERVAL_MS;

/** A side's limits, from its --timeout (milliseconds; undefined: the defaults). */
export interface Timeouts {
  handshakeMs: number;
  idleMs: number;
  launchMs: number;
}

export function timeoutsFor(timeoutMs: number | undefined): Timeouts {
  if (timeoutMs === undefined) return { handshakeMs: HANDSHAKE_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS, launchMs: LAUNCH_TIMEOUT_MS };
  return { handshakeMs: timeoutMs, idleMs: timeoutMs, launchMs: Math.max(timeoutMs, MIN_LAUNCH_TIMEOUT_MS) };
}

/** Whether `seconds` is a --timeout fcp and fcpd accept. */
export function isTimeoutSeconds(seconds: number): boolean {
  return Number.isFinite(seconds) && seconds >= MIN_TIMEOUT_S && seconds <= MAX_TIMEOUT_S;
}
