/**
 * How many data connections a session runs with when the user did not pin the count (feature
 * GROW, PROTOCOL.md §5.3): a few at the start, more from the round trip the control connection
 * measured, then, like TCP's slow start, twice as many each time the goodput measured over a
 * window grew enough with the last addition, up to the accepted maximum. Adding stops for good at
 * the first addition that did not pay: the link (or a CPU) is full, and more connections would
 * only take memory. Where both ends share this machine's CPUs (loopback, a local fcpd), nor does
 * it add while they were all but full over the window: a connection carries more only where a
 * CPU is free to drive it. Where the most a connection keeps in flight is fixed (SFTP: the server's channel
 * window), it adds only on a window whose goodput is near what the open connections' windows
 * carry over the round trip (window-bound): an addition adds a window, whatever the CPUs say.
 * Pure: the client session measures and dials; this decides.
 */
import { Feature } from '../protocol/constants';
import type { ParamsMessage } from '../protocol/messages';

/** Data connections dialled with the control connection, before any round trip is known. */
export const TUNE_INITIAL = 4;
/**
 * The same where fcpd runs on this machine (the launcher's sameHost: a local fcpd, or one reached
 * at a loopback address): both ends of every connection share its CPUs, so on a machine with few
 * cores a connection more is CPU, not throughput. On the 2-core bench host a 1 GiB copy over the
 * loopback sshd ran faster with one connection than with four both ways (the lead's runs of
 * 2026-12-05: push 3.24 s against 3.33, pull 3.76 against 4.52). The tuner still adds while the
 * CPUs have room and the goodput grows.
 */
export const TUNE_SAME_HOST = 1;
/**
 * The most data connections a tuned session may grow to (what the client offers in PARAMS): 16
 * ran slower than 8 on the emulated WAN at 50 and 200 ms RTT in the same runs (the tuner had grown
 * to 16 at 200 ms, 79 % of iperf3 -P 8; capped at 8, 105 %).
 */
export const TUNE_MAX = 8;
/** Goodput must grow by this fraction with an addition for the tuner to add again. */
export const TUNE_MIN_GAIN = 0.2;
/**
 * A window that moved less than this (bytes/s) measured no data, only the connections' own
 * handshakes and keep-alives (a few hundred bytes each): a re-sync that sends nothing, a walk.
 * Four connections at 200 ms with 0.1 % loss still move about 1 MB/s, well above it.
 */
export const TUNE_MIN_RATE = 256 * 1024;
/**
 * The least share of the machine's CPU time that must have been idle over a window for the tuner
 * to add where both ends run on this machine: below it the cores are the limit. On the 2-core
 * bench host a 1 GiB copy with 4 connections left 7-9 % idle pushing and 10-15 % pulling over the
 * loopback sshd, and 8 connections were slower than 4 there both ways. To a peer on another host
 * the rule is not asked: this machine's idle share says nothing of the link, and on the emulated
 * 50 ms WAN (both namespaces and the delay line, which alone took 0.9 of a core, on these 2 cores)
 * it held the default at 4 connections with the CPUs 5-20 % idle, where 8 pushed 1 GiB in 11.44 s
 * against 12.61 s and pulled it in 11.46 s against 12.19 s (round robin of 3, 2026-12-05 20:40 UTC).
 */
export const TUNE_MIN_IDLE = 0.2;
/**
 * A window is window-bound when its goodput is at least this share of connections x windowRate.
 * Measured on the emulated 50 ms WAN (2026-12-05, load 5-8, CPUs 0-1 % idle all along): one SFTP
 * session pushed 38-40 MB/s against the 38 MB/s its server's 2 MiB window carries per round trip
 * (the share: 1.0), and pulled 50-52 MB/s with 4 MiB of reads in flight (0.65: the link's
 * serialization of 4 MiB, 34 ms at 1 Gbit/s, lengthens the round trip the reads wait); 4 sessions
 * pushed 69-71 MB/s. On loopback a session's window carries gigabytes per second over its
 * sub-millisecond round trip, a share of a few per cent.
 */
export const TUNE_WINDOW_BOUND_SHARE = 0.5;
/**
 * What one TCP connection can keep in flight: Linux's default largest send buffer (tcp_wmem),
 * so a connection carries at most about this much per round trip.
 */
export const TUNE_WINDOW_BYTES = 4 * 1024 * 1024;
/** The link rate the first count is sized for (1 Gbit/s), before any goodput is measured. */
export const TUNE_REFERENCE_RATE = 125_000_000;
/** A measuring window is this many round trips (a new connection's slow start fits in one)... */
export const TUNE_WINDOW_RTTS = 6;
/** ...and lasts at least and at most this long. */
export const TUNE_MIN_WINDOW_MS = 300;
export const TUNE_MAX_WINDOW_MS = 2000;

/** The fewest data connections a tuned session starts with: TUNE_SAME_HOST where fcpd runs on this machine, else TUNE_INITIAL. */
const leastStart = (sameHost: boolean): number => (sameHost ? TUNE_SAME_HOST : TUNE_INITIAL);

/** Data connections dialled with the control connection: the least start for a tuned offer (GROW), else all it offers. */
export function firstDials(offer: Pick<ParamsMessage, 'connections' | 'features'>, sameHost = false): number {
  return offer.features & Feature.GROW ? Math.min(leastStart(sameHost), offer.connections) : offer.connections;
}

export interface TunerLimits {
  /** The most data connections: the connections PARAMS accepted. */
  max: number;
  /** The fraction goodput must grow by with an addition for another to follow (TUNE_MIN_GAIN). */
  minGain: number;
  /** The least goodput (bytes/s) a window must show to be measured at all (TUNE_MIN_RATE). */
  minRate: number;
  /** The least idle share of the machine's CPUs over a window for an addition (TUNE_MIN_IDLE where both ends share them, else 0), where windowRate is not known. */
  minIdle: number;
  /**
   * Bytes/s one connection's window carries (the most it keeps in flight over the round trip),
   * where that is fixed (SFTP); undefined where TCP's own window grows with the link (fcpd's data
   * connections): no window-bound rule.
   */
  windowRate?: number;
}

export interface TunerState {
  /** Data connections open or being opened. */
  connections: number;
  /** Goodput (bytes/s) measured before the last addition; undefined until one was measured. */
  before?: number;
  /** Windows still to pass before one is measured: the connections just added are ramping up. */
  settling: number;
  /** No connection will be added any more: the maximum is reached or the last addition did not pay. */
  done: boolean;
}

export interface TunerStep {
  state: TunerState;
  /** Data connections to open now. */
  add: number;
}

/**
 * Data connections worth opening at the start for a round trip of rttMs: enough windows in flight
 * to fill TUNE_REFERENCE_RATE, at least the least start (TUNE_INITIAL, or TUNE_SAME_HOST where
 * fcpd runs on this machine), at most max.
 */
export function initialConnections(rttMs: number, max: number, sameHost = false): number {
  const filling = Math.ceil((TUNE_REFERENCE_RATE * Math.max(0, rttMs)) / 1000 / TUNE_WINDOW_BYTES);
  return Math.min(max, Math.max(leastStart(sameHost), filling));
}

/** How long one measuring window lasts for a round trip of rttMs. */
export function windowMs(rttMs: number): number {
  return Math.min(TUNE_MAX_WINDOW_MS, Math.max(TUNE_MIN_WINDOW_MS, TUNE_WINDOW_RTTS * Math.max(0, rttMs)));
}

/**
 * What tests force in place of the measured window and gain (FCP_TEST_TUNER): with it, every
 * window that moved a byte is measured and the CPUs' idle share is not asked.
 */
export interface ForcedTuning {
  windowMs: number;
  minGain: number;
}

/** A connection that keeps at most `bytes` in flight: its window, and the round trip (ms) measured. */
export interface ConnectionWindow {
  bytes: number;
  rttMs: number;
}

/**
 * The limits of a tuner that may grow to `max`, as measured or as a test forces them; `window`
 * gives the window-bound rule its rate (none for a round trip too short to measure); the CPU rule
 * (TUNE_MIN_IDLE) holds where both ends share this machine's CPUs (`sharedCpus`).
 */
export function tunerLimits(max: number, forced?: ForcedTuning, window?: ConnectionWindow, sharedCpus = true): TunerLimits {
  if (forced) return { max, minGain: forced.minGain, minRate: 0, minIdle: 0 };
  const limits: TunerLimits = { max, minGain: TUNE_MIN_GAIN, minRate: TUNE_MIN_RATE, minIdle: sharedCpus ? TUNE_MIN_IDLE : 0 };
  if (window && window.rttMs > 0) limits.windowRate = (window.bytes * 1000) / window.rttMs;
  return limits;
}

/** The measuring window for a round trip of rttMs, or the one a test forces. */
export function tunerWindowMs(rttMs: number, forced?: ForcedTuning): number {
  return forced ? forced.windowMs : windowMs(rttMs);
}

/** The tuner of a session that starts with `connections` data connections (they are ramping up). */
export function startTuning(connections: number, limits: TunerLimits): TunerState {
  return { connections, settling: 1, done: connections >= limits.max };
}

/** Whether `rate` over `connections` is near what their windows carry (TUNE_WINDOW_BOUND_SHARE). */
export function windowBound(rate: number, connections: number, limits: TunerLimits): boolean {
  return limits.windowRate !== undefined && rate >= TUNE_WINDOW_BOUND_SHARE * connections * limits.windowRate;
}

/**
 * One window passed, in which the data connections moved `rate` bytes/s while `idle` (0..1) of
 * the machine's CPU time went unused: whether to add connections, and how many. Nothing is
 * decided on a window that is settling or moved less than minRate (the walk, a pause between
 * files, handshakes only): neither tells what the connections can carry. A measured window
 * after an addition that did not pay ends tuning. Where the window is known (windowRate), only a
 * window-bound window adds, whatever the CPUs say, and any other adds nothing but ends nothing:
 * the CPUs' idle share misleads there, for a copy's first second ramps up with CPU to spare (on
 * loopback 35 % idle at 35-45 MB/s: the rule added a session, and two pushed 280 MB/s where one
 * pushes 400) and a copy's start fills them (the logins, the shell that hashes) while one session
 * on a long link is held by its window. Elsewhere a measured window with the CPUs full ends tuning
 * where it is.
 */
export function tuneStep(state: TunerState, rate: number, limits: TunerLimits, idle = 1): TunerStep {
  if (state.done) return { state, add: 0 };
  if (state.settling > 0) return { state: { ...state, settling: state.settling - 1 }, add: 0 };
  if (!(rate > 0) || rate < limits.minRate) return { state, add: 0 };
  if (state.before !== undefined && rate < state.before * (1 + limits.minGain)) return { state: { ...state, done: true }, add: 0 };
  if (limits.windowRate !== undefined) {
    if (!windowBound(rate, state.connections, limits)) return { state, add: 0 };
  } else if (idle < limits.minIdle) {
    return { state: { ...state, done: true }, add: 0 };
  }
  const add = Math.max(0, Math.min(state.connections, limits.max - state.connections));
  const connections = state.connections + add;
  return { state: { connections, before: rate, settling: 1, done: connections >= limits.max }, add };
}
