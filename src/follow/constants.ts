/** How --follow watches its sources (PROTOCOL.md §7.10); one place for its intervals and sizes. */

/** A followed file is stat'ed this often: an append reaches the receiver within this plus the link's round trip. */
export const FOLLOW_POLL_MS = 100;
/** The sources are walked again for new files every this many polls (a walk of a large tree costs more than stats). */
export const FOLLOW_SCAN_EVERY = 10;
/**
 * A poll (and a walk) may take at most this share of the time between them: a tree of 100,000
 * files is stat'ed less often than every FOLLOW_POLL_MS rather than keeping a core busy.
 */
export const FOLLOW_MAX_LOAD = 0.2;
/** Bytes of one file's growth read in one poll at most: a fast writer does not hold the others up, and memory stays bounded. */
export const FOLLOW_READ_MAX = 4 * 1024 * 1024;
