/** Which slices of fcp --watch's rescan are whole: every Nth pass, after lost events, always without events. */
import fc from 'fast-check';
import { PassSchedule } from '../../../src/watch/passSchedule';

function kinds(schedule: PassSchedule, count: number, events = true): string {
  return Array.from({ length: count }, () => (schedule.next(events) === 'whole' ? 'W' : 'l')).join('');
}

describe('PassSchedule', () => {
  test('each slice is whole every third pass, the slices taking turns', () => {
    expect(kinds(new PassSchedule(2, 3), 14)).toBe('lllWWllllWWlll');
    expect(kinds(new PassSchedule(1, 3), 7)).toBe('llWllWl');
  });

  test('with as many slices as wholeEvery or more, every pass has its share of whole slices and every slice is whole once in wholeEvery passes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 4 }), (wholeEvery, perTurn) => {
        const slices = wholeEvery * perTurn;
        const schedule = new PassSchedule(slices, wholeEvery);
        const passes = Array.from({ length: 2 * wholeEvery }, () => kinds(schedule, slices));
        for (const pass of passes) expect(pass.split('W').length - 1).toBe(perTurn);
        for (let slice = 0; slice < slices; slice++) {
          const wholeIn = passes.slice(0, wholeEvery).filter((pass) => pass[slice] === 'W');
          expect(wholeIn).toHaveLength(1);
        }
      }),
    );
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
