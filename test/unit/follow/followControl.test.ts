/**
 * When --follow stops: --follow-idle's clock starts once every file counted so far has ended (the
 * copy is over), not when the copy starts, and growth restarts it; the abort signal stops at once.
 */
import { followControl } from '../../../src/follow/followControl';
import { fileEvent, TransferEvents } from '../../../src/transfer/link';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const IDLE_S = 5;
const ended = fileEvent(Buffer.from('f'), 1, undefined, undefined);

function controlled(passedOn: TransferEvents = {}): { events: TransferEvents; stops: () => number; dispose(): void } {
  let stops = 0;
  const control = followControl({ idleSeconds: IDLE_S }, passedOn);
  control.attach(() => stops++);
  return { events: control.events, stops: () => stops, dispose: () => control.dispose() };
}

/** The clock runs out IDLE_S after it (re)started, and not a millisecond before. */
function expectStopIdleAfterNow(stops: () => number): void {
  jest.advanceTimersByTime(IDLE_S * 1000 - 1);
  expect(stops()).toBe(0);
  jest.advanceTimersByTime(1);
  expect(stops()).toBe(1);
}

test('a copy that takes longer than --follow-idle is not cut short: the clock starts when its last file ends', () => {
  const { events, stops, dispose } = controlled();
  events.start!(2, 100);
  events.file!(ended);
  jest.advanceTimersByTime(10 * IDLE_S * 1000);
  expect(stops()).toBe(0);
  events.file!(ended);
  expectStopIdleAfterNow(stops);
  dispose();
});

test('growth restarts the clock; a file counted again during the copy (grew) is waited for too', () => {
  const { events, stops, dispose } = controlled();
  events.start!(1, 10);
  events.grew!(1, 10);
  events.file!(ended);
  jest.advanceTimersByTime(2 * IDLE_S * 1000);
  expect(stops()).toBe(0);
  events.file!(ended);
  jest.advanceTimersByTime(IDLE_S * 1000 - 1000);
  events.bytes!(3);
  expectStopIdleAfterNow(stops);
  dispose();
});

test('nothing to copy (a source waited for): following, and its clock, start at once', () => {
  const { events, stops, dispose } = controlled();
  events.start!(0, 0);
  jest.advanceTimersByTime(IDLE_S * 1000);
  expect(stops()).toBe(1);
  dispose();
});

test('the events are passed on, grew included', () => {
  const seen: string[] = [];
  const { events, dispose } = controlled({
    start: (files, bytes) => seen.push(`start ${files} ${bytes}`),
    grew: (files, bytes) => seen.push(`grew ${files} ${bytes}`),
    bytes: (count) => seen.push(`bytes ${count}`),
    file: (event) => seen.push(`file ${event.path.toString()}`),
  });
  events.start!(1, 4);
  events.bytes!(4);
  events.file!(ended);
  events.grew!(0, 7);
  events.bytes!(7);
  expect(seen).toEqual(['start 1 4', 'bytes 4', 'file f', 'grew 0 7', 'bytes 7']);
  dispose();
});

test('the abort signal stops following at once, whatever the clock', () => {
  const abort = new AbortController();
  const control = followControl({ idleSeconds: IDLE_S, signal: abort.signal }, {});
  let stops = 0;
  control.attach(() => stops++);
  control.events.start!(3, 3);
  abort.abort();
  expect(stops).toBe(1);
  control.dispose();
});
