/**
 * The launch's bound (timeouts.ts): --timeout is an idle limit; the wait for fcpd's listen line and
 * for its client is never below MIN_LAUNCH_TIMEOUT_MS, so that a Node start on a loaded host is
 * not taken for a hung launch, while the other limits follow --timeout exactly.
 */
import { LAUNCH_TIMEOUT_MS, MIN_LAUNCH_TIMEOUT_MS, MIN_TIMEOUT_S, timeoutsFor } from '../../../src/timeouts';

test('a short --timeout leaves the launch its floor; the idle and handshake limits follow it', () => {
  expect(MIN_LAUNCH_TIMEOUT_MS).toBeGreaterThan(MIN_TIMEOUT_S * 1000);
  expect(timeoutsFor(MIN_TIMEOUT_S * 1000)).toEqual({ handshakeMs: 2000, idleMs: 2000, launchMs: MIN_LAUNCH_TIMEOUT_MS });
});

test('a --timeout above the floor bounds the launch too', () => {
  expect(timeoutsFor(60_000)).toEqual({ handshakeMs: 60_000, idleMs: 60_000, launchMs: 60_000 });
  expect(timeoutsFor(MIN_LAUNCH_TIMEOUT_MS).launchMs).toBe(MIN_LAUNCH_TIMEOUT_MS);
});

test('without --timeout, the launch default', () => {
  expect(timeoutsFor(undefined).launchMs).toBe(LAUNCH_TIMEOUT_MS);
});
