/**
 * TWO_WAY_SCOPE's rules (PROTOCOL.md §7.12), property-tested: how fcp asks an fcpd for its
 * listings whatever parts of the second feature word it agreed on (an older fcpd: no SWEEP ever,
 * no TWO_WAY_SCOPE at all without narrowed listings, every SWEEP_SLICES-th sweep whole without
 * sweeps), and which scope messages each end takes: any other is FCP_ERR_UNEXPECTED_MESSAGE.
 */
import fc from 'fast-check';
import { TwoWayScopeEvent } from '../../../src/protocol/constants';
import { SWEEP_SLICES } from '../../../src/watch/constants';
import { clientScopeRefusal, ListingAsk, ListingAsks, ScopeParts, serverScopeRefusal } from '../../../src/watch/scopeRules';

/** Parts as a session can agree on them: sweeps only with narrowed listings. */
const parts: fc.Arbitrary<ScopeParts> = fc.record({ narrow: fc.boolean(), sweep: fc.boolean() }).map(({ narrow, sweep }) => ({ narrow, sweep: narrow && sweep }));
/** A run of rounds' listings: each a rescan's (with a sweep) or one after events. */
const rounds = fc.array(fc.boolean(), { maxLength: 4 * SWEEP_SLICES });
/** An event number: mostly the assigned ones and their neighbours, sometimes any byte. */
const event = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 255 }));

const asksOf = (agreed: ScopeParts, sweeps: readonly boolean[]): ListingAsk[] => {
  const asks = new ListingAsks(agreed);
  return sweeps.map((sweep) => asks.next(sweep));
};

test('a listing is narrowed only where narrowed listings were agreed, and swept only where sweeps were', () => {
  fc.assert(
    fc.property(parts, rounds, (agreed, sweeps) => {
      asksOf(agreed, sweeps).forEach((ask, i) => {
        if (!agreed.narrow) expect(ask).toBe('whole');
        if (ask === 'swept') expect(agreed.sweep && sweeps[i]).toBe(true);
      });
    }),
  );
});

test('with both parts, a rescan sweeps and a round after events is narrowed: never whole', () => {
  fc.assert(
    fc.property(rounds, (sweeps) => {
      expect(asksOf({ narrow: true, sweep: true }, sweeps)).toEqual(sweeps.map((sweep) => (sweep ? 'swept' : 'narrowed')));
    }),
  );
});

test(`without sweeps, every ${SWEEP_SLICES}th rescan lists whole and every other listing is narrowed`, () => {
  fc.assert(
    fc.property(rounds, (sweeps) => {
      const asks = asksOf({ narrow: true, sweep: false }, sweeps);
      let rescans = 0;
      sweeps.forEach((sweep, i) => {
        if (sweep) rescans++;
        expect(asks[i]).toBe(sweep && rescans % SWEEP_SLICES === 0 ? 'whole' : 'narrowed');
      });
      // So every path there is looked at once in SWEEP_SLICES rescans, as a cycle of sweeps would.
      const rescanAsks = asks.filter((_, i) => sweeps[i]);
      for (let start = 0; start + SWEEP_SLICES <= rescanAsks.length; start++) {
        expect(rescanAsks.slice(start, start + SWEEP_SLICES).filter((ask) => ask === 'whole')).toHaveLength(1);
      }
    }),
  );
});

test('fcpd takes PATH, LIST and (agreed) SWEEP without a path in a session with narrowed listings; refuses anything else as FCP_ERR_UNEXPECTED_MESSAGE', () => {
  fc.assert(
    fc.property(event, fc.boolean(), parts, (ev, withPath, agreed) => {
      const takes = agreed.narrow && (ev === TwoWayScopeEvent.PATH || (!withPath && (ev === TwoWayScopeEvent.LIST || (ev === TwoWayScopeEvent.SWEEP && agreed.sweep))));
      const refusal = clientScopeRefusal(ev, withPath, agreed);
      expect(refusal === undefined).toBe(takes);
      if (refusal) {
        expect(refusal.code).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
        expect(refusal.message).toContain(`TWO_WAY_SCOPE ${ev}`);
      }
    }),
  );
});

test('fcp takes PATH and WHOLE within a narrowed listing only; LIST and SWEEP from fcpd, or any outside one, are FCP_ERR_UNEXPECTED_MESSAGE', () => {
  fc.assert(
    fc.property(event, fc.boolean(), (ev, inListing) => {
      const refusal = serverScopeRefusal(ev, inListing);
      expect(refusal === undefined).toBe(inListing && (ev === TwoWayScopeEvent.PATH || ev === TwoWayScopeEvent.WHOLE));
      if (refusal) expect(refusal.code).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
    }),
  );
  expect(serverScopeRefusal(TwoWayScopeEvent.SWEEP, true)?.message).toContain('only PATH and WHOLE');
});
