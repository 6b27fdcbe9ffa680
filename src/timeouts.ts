/** Every wait has a deadline; these are the defaults both fcp and fcpd use. */

/** A connection's handshake (HELLO to AUTH_OK, and SESSION on the control connection). */
export const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Silence on an established connection; keepalives go out at a quarter of it. */
export const IDLE_TIMEOUT_MS = 60_000;
/** fcpd's wait for its client, and fcp's wait for fcpd's listen line. */
export const LAUNCH_TIMEOUT_MS = 30_000;
