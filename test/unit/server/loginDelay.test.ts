/** The delay before a failed daemon login is answered: doubling per address, capped, forgotten when quiet. */
import { LOGIN_DELAY_CAP_MS, LOGIN_DELAY_FIRST_MS, LOGIN_DELAY_QUIET_MS, LoginDelay } from '../../../src/server/loginDelay';

function withClock(limits?: ConstructorParameters<typeof LoginDelay>[1]) {
  let now = 1_000_000;
  const delay = new LoginDelay(() => now, limits);
  return { delay, advance: (ms: number) => (now += ms) };
}

test('each failure from one address doubles the delay, up to the cap', () => {
  const { delay } = withClock();
  const delays = Array.from({ length: 8 }, () => delay.failed('10.0.0.1'));
  expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  expect(delays[0]).toBe(LOGIN_DELAY_FIRST_MS);
  expect(Math.max(...delays)).toBe(LOGIN_DELAY_CAP_MS);
});

test('addresses are counted apart', () => {
  const { delay } = withClock();
  delay.failed('10.0.0.1');
  delay.failed('10.0.0.1');
  expect(delay.failed('10.0.0.2')).toBe(LOGIN_DELAY_FIRST_MS);
  expect(delay.failed('10.0.0.1')).toBe(4 * LOGIN_DELAY_FIRST_MS);
});

test('an address quiet for the quiet period starts again; failures within it keep counting', () => {
  const { delay, advance } = withClock();
  delay.failed('::1');
  advance(LOGIN_DELAY_QUIET_MS - 1);
  expect(delay.failed('::1')).toBe(2 * LOGIN_DELAY_FIRST_MS);
  advance(LOGIN_DELAY_QUIET_MS);
  expect(delay.failed('::1')).toBe(LOGIN_DELAY_FIRST_MS);
});

test('the table holds at most its number of addresses, forgetting the ones that failed longest ago', () => {
  const { delay, advance } = withClock({ firstMs: 100, capMs: 10_000, quietMs: 60_000, addresses: 2 });
  delay.failed('a');
  advance(1);
  delay.failed('b');
  advance(1);
  delay.failed('a');
  advance(1);
  delay.failed('c');
  // 'b' failed longest ago and went: it starts again; 'a' is still known.
  expect(delay.failed('a')).toBe(400);
  expect(delay.failed('b')).toBe(100);
});
