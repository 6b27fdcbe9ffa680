/** Which slices of fcp --watch's rescan are whole: every Nth pass, after lost events, always without events. */
import { PassSchedule } from '../../../src/watch/passSchedule';

function kinds(schedule: PassSchedule, count: number, events = true): string {
  return Array.from({ length: count }, () => (schedule.next(events) === 'whole' ? 'W' : 'l')).join('');
}

describe('PassSchedule', () => {
  test('every third pass of two slices is whole, from its first slice', () => {
    expect(kinds(new PassSchedule(2, 3), 14)).toBe('llllWWllllWWll');
  });

  test('lost events make the next pass-length of slices whole, wherever the pass stands', () => {
    const schedule = new PassSchedule(3, 10);
    expect(kinds(schedule, 2)).toBe('ll');
    schedule.lost();
    expect(kinds(schedule, 5)).toBe('WWWll');
  });

  test('without events every slice is whole', () => {
    expect(kinds(new PassSchedule(2, 5), 6, false)).toBe('WWWWWW');
  });
});
