/**
 * Lost data connections (feature RECONNECT, PROTOCOL.md §7.3): one data connection cut, reset,
 * corrupted or stalled mid-transfer costs only its chunks in flight; they go over the other
 * connections, the client opens a replacement, and the copy is exact. A connection that keeps
 * failing is given up after a few replacements; when no data connection is left, or the control
 * connection is lost, the copy fails with FCP_ERR_CONNECTION_LOST (exit 6) naming the host.
 */
import { declareReconnectCases } from './helpers/reconnectCases';

declareReconnectCases();
