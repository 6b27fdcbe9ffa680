/**
 * reconnect.test.ts's cases (one data connection cut, reset, corrupted or stalled mid-transfer; one
 * that fails every time; the control connection cut) with crypto threads sealing and opening the
 * data connections' frames on both sides (src/wire/cryptoThreads.ts, FCP_CRYPTO_THREADS): a
 * connection's thread must not outlive it, hold back its loss, or let a corrupted frame through.
 */
import { declareReconnectCases } from './helpers/reconnectCases';

// Read when the first data connection is up: by this process (the client side) and by the fcpd
// it starts (whose environment is this one's).
process.env.FCP_CRYPTO_THREADS = '2';

declareReconnectCases(true);
