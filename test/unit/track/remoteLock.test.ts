import { isStale, LOCK_STALE_S, LockHolder, parseHolder } from '../../../src/track/remoteLock';

const holder: LockHolder = { at: 1_000_000, who: 'u@h', host: 'h', pid: 42, token: 'ab' };

test('a lock line is read back; anything malformed from the remote host is undefined', () => {
  expect(parseHolder(`${JSON.stringify(holder)}\nmore`)).toEqual(holder);
  for (const text of ['', 'garbage', '{"at":"x","who":"u","host":"h","pid":1,"token":"t"}', '{"at":1,"who":"u","host":"h","pid":1.5,"token":"t"}', 'null']) {
    expect(parseHolder(text)).toBeUndefined();
  }
});

test.each([
  ['renewed lately, elsewhere', holder.at + LOCK_STALE_S, 'other', false, false],
  ['not renewed for longer than the stale time', holder.at + LOCK_STALE_S + 1, 'other', false, true],
  ['taken on this host by a process that is gone', holder.at, 'h', true, true],
  ['taken on this host by a live process', holder.at, 'h', false, false],
  ['a pid elsewhere is never looked up here', holder.at, 'other', true, false],
])('%s', (_name, now, host, gone, stale) => {
  expect(isStale(holder, now, host, () => gone)).toBe(stale);
});
