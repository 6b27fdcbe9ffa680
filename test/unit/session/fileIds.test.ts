/**
 * FileIdMap (src/session/fileIds.ts): per-file state by file_id, set in announcement order and
 * deleted in any order, answers as a Map does.
 */
import fc from 'fast-check';
import { FileIdMap } from '../../../src/session/fileIds';

/**
 * What to do next: announce the next file_id (a gap of `skip` ids first) or set one `back` ids
 * older than the next (a file that waited), end the file held at `at` (an index among those held),
 * look one id up, or clear.
 */
type Step = { kind: 'set'; skip: number } | { kind: 'setOlder'; back: number } | { kind: 'delete'; at: number } | { kind: 'probe'; id: number } | { kind: 'clear' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), skip: fc.oneof(fc.constant(0), fc.nat(70)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setOlder' as const), back: fc.integer({ min: 1, max: 150 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(200) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('probe' as const), id: fc.integer({ min: -3, max: 600 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('FileIdMap', () => {
  it('holds what a Map holds, whatever order the files come and end in and however far apart their ids are', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const map = new FileIdMap<string>();
        const model = new Map<number, string>();
        let next = 0;
        for (const s of steps) {
          if (s.kind === 'set') {
            next += s.skip;
            map.set(next, `v${next}`);
            model.set(next, `v${next}`);
            next++;
          } else if (s.kind === 'setOlder') {
            const id = Math.max(0, next - s.back);
            map.set(id, `w${id}`);
            model.set(id, `w${id}`);
          } else if (s.kind === 'delete') {
            const held = [...model.keys()];
            const id = held.length > 0 ? held[s.at % held.length]! : s.at;
            expect(map.delete(id)).toBe(model.delete(id));
            expect(map.delete(id)).toBe(false);
          } else if (s.kind === 'probe') {
            expect(map.get(s.id)).toBe(model.get(s.id));
            expect(map.has(s.id)).toBe(model.has(s.id));
          } else {
            map.clear();
            model.clear();
          }
          expect(map.size).toBe(model.size);
          expect([...map.keys()]).toEqual([...model.keys()].sort((a, b) => a - b));
          expect([...map.values()]).toEqual([...model.keys()].sort((a, b) => a - b).map((id) => model.get(id)));
        }
      }),
    );
  });

  it('takes a value again for an id it holds, and an id older than the oldest it holds', () => {
    const map = new FileIdMap<number>();
    map.set(5, 1).set(6, 2).set(5, 3);
    expect([map.size, map.get(5), map.get(6)]).toEqual([2, 3, 2]);
    map.set(4, 0);
    expect([...map.keys()]).toEqual([4, 5, 6]);
    map.delete(4);
    map.delete(5);
    map.delete(6);
    // Empty, it starts again wherever the next id is.
    map.set(2, 7);
    expect([map.size, map.get(2)]).toEqual([1, 7]);
  });
});
