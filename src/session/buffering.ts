/**
 * How many whole chunks the transfer engines keep in memory per data connection. A session's
 * buffers are therefore about connections × chunk_size × CHUNKS_PER_CONNECTION, which is what a
 * server bounds when it accepts PARAMS (PROTOCOL.md §5.2). The engines take their numbers from
 * here so that the bound and the buffering cannot drift apart.
 */

/** Sender: chunk buffers each data connection's pump fills and hands to its socket in turn. */
export const SEND_BUFFERS_PER_CONNECTION = 2;

/**
 * Receiver: chunk writes one data connection may have waiting before it is paused. While fewer
 * wait, the chunk being received is the one more, so a connection holds at most this many
 * chunks (and the rest of one socket read): DATA past the end of a chunk is refused.
 */
export const RECEIVE_PAUSE_AT = 4;
/** Receiver: a paused data connection reads on once its waiting writes are down to this. */
export const RECEIVE_RESUME_AT = 2;

/** Whole chunks one data connection may hold, whichever engine runs it. */
export const CHUNKS_PER_CONNECTION = Math.max(SEND_BUFFERS_PER_CONNECTION, RECEIVE_PAUSE_AT);
