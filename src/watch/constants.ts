/** fcp --watch's times and limits, in one place (README "Watching" names them). */

/** --interval's default: seconds between rescans of the source (qsync's loop time). */
export const DEFAULT_INTERVAL_S = 60;
/** --interval's range, in seconds. */
export const MIN_INTERVAL_S = 1;
export const MAX_INTERVAL_S = 86_400;
/** A round starts once no event came for this long (a burst of saves goes as one round). */
export const DEBOUNCE_MS = 200;
/**
 * A change a rescan found while events are on waits this long for more: its event, or the event
 * of the other name of the same rename, may still be held by @parcel/watcher (up to 500 ms, its
 * debounce), and a rename whose two names went in different rounds would arrive as a copy.
 */
export const EVENTS_LATE_MS = 700;
/** ...or at the latest this long after the first change of the batch (a steady stream still goes). */
export const MAX_BATCH_DELAY_MS = 2_000;
/** More changed paths than this in one batch: the round is a whole sync (its quick check skips what did not change). */
export const MAX_NARROWED_PATHS = 1_000;
/** Relaunch after a lost link: the first wait, doubled after each failure up to the cap. */
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 60_000;
/**
 * How long the watch's fcpd (fcpd --serve --reuse) waits for its next session before it exits:
 * this many --intervals (a round, a keep-alive one if nothing changed, comes every interval), and
 * at least MIN_FCPD_IDLE_S.
 */
export const FCPD_IDLE_INTERVALS = 3;
export const MIN_FCPD_IDLE_S = 60;
/**
 * A local source's rescan is cut into slices, one every RESCAN_SLICE_MS (at most MAX_RESCAN_SLICES
 * a pass), so that a pass still takes one --interval and the event loop is never held for a whole
 * tree (snapshot.ts).
 */
export const RESCAN_SLICE_MS = 1_000;
export const MAX_RESCAN_SLICES = 600;
/**
 * Most rescan slices are light (a directory's entries are stat'ed only when its ctime moved:
 * added, removed and renamed entries); each slice is whole (every entry stat'ed) once in this many
 * passes, the slices taking turns (passSchedule.ts), for a change in place whose file-system event
 * was lost. Without events every slice is whole.
 */
export const WHOLE_PASS_EVERY = 10;
/**
 * fcp --watch --two-way: each rescan round (one per --interval) sweeps one of this many slices of
 * each side's paths (each entry compared with the side's own record: sweep.ts), in turn, for a
 * change whose event was lost: every path is swept once in this many intervals, and every minute
 * of an idle watch costs about the same. The rounds after changes list only the paths events
 * named. A side whose events were lost sweeps every path at its next round; the first round and
 * the first after the link came back list both sides whole.
 */
export const SWEEP_SLICES = WHOLE_PASS_EVERY;
/**
 * A directory whose ctime was this close to the moment it was listed is listed again by the next
 * light pass: a change in the same tick of the file system's clock leaves the ctime as it was
 * (2 s: FAT's granularity; a Linux disk file system's is a few ms).
 */
export const RACY_CTIME_MS = 2_000;
