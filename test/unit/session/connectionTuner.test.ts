/**
 * The connection tuner's decisions (src/session/connectionTuner.ts), over arbitrary goodput
 * series: it never goes past the maximum, never adds once goodput stopped growing, and adds while
 * goodput keeps growing.
 */
import fc from 'fast-check';
import {
  firstDials,
  initialConnections,
  startTuning,
  TUNE_INITIAL,
  TUNE_SAME_HOST,
  TUNE_MAX_WINDOW_MS,
  TUNE_MIN_GAIN,
  TUNE_MIN_IDLE,
  TUNE_MIN_RATE,
  TUNE_MIN_WINDOW_MS,
  TUNE_WINDOW_BOUND_SHARE,
  tunerLimits,
  TunerLimits,
  TunerState,
  TunerStep,
  tuneStep,
  windowBound,
  windowMs,
} from '../../../src/session/connectionTuner';
import { Feature, MAX_CONNECTIONS, MIN_CONNECTIONS } from '../../../src/protocol/constants';

const limitsArb: fc.Arbitrary<TunerLimits> = fc.record({
  max: fc.integer({ min: MIN_CONNECTIONS, max: MAX_CONNECTIONS }),
  minGain: fc.double({ min: 0, max: 2, noNaN: true }),
  minRate: fc.constantFrom(0, TUNE_MIN_RATE),
  minIdle: fc.constantFrom(0, TUNE_MIN_IDLE),
});
/** Goodput of a window in bytes/s: nothing moved, or anything up to 10 GB/s. */
const rateArb = fc.oneof(fc.constant(0), fc.double({ min: 1, max: 1e10, noNaN: true }));

/** Runs the tuner over `rates` from `initial` connections: every step and the state before it. */
function run(initial: number, limits: TunerLimits, rates: number[]): { before: TunerState; rate: number; add: number; after: TunerState }[] {
  let state = startTuning(Math.min(initial, limits.max), limits);
  return rates.map((rate) => {
    const step = tuneStep(state, rate, limits);
    const record = { before: state, rate, add: step.add, after: step.state };
    state = step.state;
    return record;
  });
}

describe('tuneStep', () => {
  it('never goes past the maximum, and counts what it adds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CONNECTIONS }), limitsArb, fc.array(rateArb, { maxLength: 40 }), (initial, limits, rates) => {
        for (const { before, add, after } of run(initial, limits, rates)) {
          expect(add).toBeGreaterThanOrEqual(0);
          expect(after.connections).toBe(before.connections + add);
          expect(after.connections).toBeLessThanOrEqual(limits.max);
        }
      }),
    );
  });

  it('never adds once goodput grew less than minGain with an addition, whatever comes after', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CONNECTIONS }), limitsArb, fc.array(rateArb, { maxLength: 40 }), (initial, limits, rates) => {
        let stalled = false;
        for (const { before, rate, add } of run(initial, limits, rates)) {
          if (stalled) expect(add).toBe(0);
          // A measured window after an addition whose goodput did not grow enough.
          if (before.settling === 0 && rate > 0 && rate >= limits.minRate && before.before !== undefined && rate < before.before * (1 + limits.minGain)) {
            expect(add).toBe(0);
            stalled = true;
          }
        }
      }),
    );
  });

  it('adds only on a measured window that moved at least minRate, at most doubling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CONNECTIONS }), limitsArb, fc.array(rateArb, { maxLength: 40 }), (initial, limits, rates) => {
        for (const { before, rate, add } of run(initial, limits, rates)) {
          if (add === 0) continue;
          expect(before.settling).toBe(0);
          expect(rate).toBeGreaterThan(0);
          expect(rate).toBeGreaterThanOrEqual(limits.minRate);
          expect(add).toBeLessThanOrEqual(before.connections);
        }
      }),
    );
  });

  it('grows to the maximum while goodput keeps growing with each addition', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CONNECTIONS }), fc.integer({ min: 1, max: MAX_CONNECTIONS }), (initial, max) => {
        const limits = { max, minGain: TUNE_MIN_GAIN, minRate: TUNE_MIN_RATE, minIdle: TUNE_MIN_IDLE };
        let state = startTuning(Math.min(initial, max), limits);
        // Goodput proportional to the connections: every addition pays in full.
        for (let i = 0; i < 40 && !state.done; i++) state = tuneStep(state, state.connections * 1e6, limits).state;
        expect(state.connections).toBe(max);
        expect(state.done).toBe(true);
      }),
    );
  });

  it('adds nothing for windows that moved only handshakes and keep-alives (a re-sync that sends no data)', () => {
    const limits = { max: 8, minGain: TUNE_MIN_GAIN, minRate: TUNE_MIN_RATE, minIdle: TUNE_MIN_IDLE };
    let state = startTuning(4, limits);
    // 4 data connections' handshakes (about 300 bytes each way) in a 300 ms window, then keep-alives.
    for (const rate of [8000, 4000, 200, 200, 200, 200]) {
      const step = tuneStep(state, rate, limits);
      expect(step.add).toBe(0);
      state = step.state;
    }
    expect(state).toEqual({ connections: 4, settling: 0, done: false });
  });

  it('stops at the first addition that does not pay on a full link', () => {
    const limits = { max: 32, minGain: TUNE_MIN_GAIN, minRate: TUNE_MIN_RATE, minIdle: TUNE_MIN_IDLE };
    // A link that carries 100 MB/s with 8 connections or more, 15 MB/s per connection below.
    const linkRate = (connections: number): number => Math.min(100e6, connections * 15e6);
    let state = startTuning(4, limits);
    const added: number[] = [];
    for (let i = 0; i < 20 && !state.done; i++) {
      const step = tuneStep(state, linkRate(state.connections), limits);
      if (step.add > 0) added.push(step.add);
      state = step.state;
    }
    // 4 connections carry 60 MB/s (the first measurement: add 4), 8 carry 100 MB/s (grew by more than 20 %: add 8),
    // 16 carry 100 MB/s too: stopped at 16, below the maximum.
    expect(added).toEqual([4, 8]);
    expect(state).toEqual({ connections: 16, before: 100e6, settling: 0, done: true });
  });
});

describe('tuneStep and the CPUs', () => {
  it('adds nothing once a measured window found the CPUs full, whatever comes after; with CPU to spare it adds as before', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_CONNECTIONS }),
        limitsArb,
        fc.array(fc.tuple(rateArb, fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 40 }),
        (initial, limits, windows) => {
          let state = startTuning(Math.min(initial, limits.max), limits);
          let spare = startTuning(Math.min(initial, limits.max), limits);
          let full = false;
          for (const [rate, idle] of windows) {
            const step = tuneStep(state, rate, limits, idle);
            const measured = !state.done && state.settling === 0 && rate > 0 && rate >= limits.minRate;
            if (full) expect(step.add).toBe(0);
            if (measured && idle < limits.minIdle) {
              expect(step).toEqual({ state: { ...state, done: true }, add: 0 });
              full = true;
            }
            state = step.state;
            // The same windows with every CPU idle decide as the tuner without the rule did.
            spare = tuneStep(spare, rate, limits, 1).state;
          }
          if (!full) expect(state).toEqual(spare);
        },
      ),
    );
  });

  it('stays at the first count on loopback, where the cores are the limit (both ends on one 2-core machine)', () => {
    const limits = { max: 8, minGain: TUNE_MIN_GAIN, minRate: TUNE_MIN_RATE, minIdle: TUNE_MIN_IDLE };
    let state = startTuning(4, limits);
    // Settling, then 1 GB/s with 3 % of the CPU time idle.
    for (const rate of [900e6, 1e9]) state = tuneStep(state, rate, limits, 0.03).state;
    expect(state).toEqual({ connections: 4, settling: 0, done: true });
  });

  it('asks the CPUs only where both ends share them: to another host, windows with the CPUs full decide as with them idle', () => {
    expect(tunerLimits(8).minIdle).toBe(TUNE_MIN_IDLE);
    expect(tunerLimits(8, undefined, undefined, true).minIdle).toBe(TUNE_MIN_IDLE);
    const remote = tunerLimits(8, undefined, undefined, false);
    expect(remote.minIdle).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.tuple(rateArb, idleArb), { maxLength: 40 }), (initial, windows) => {
        let state = startTuning(initial, remote);
        let spare = startTuning(initial, remote);
        for (const [rate, idle] of windows) {
          state = tuneStep(state, rate, remote, idle).state;
          spare = tuneStep(spare, rate, remote, 1).state;
          expect(state).toEqual(spare);
        }
      }),
    );
    // The emulated 50 ms WAN (its delay line on the same 2 cores): settling, then 89 MB/s over 4
    // connections with 7 % of the CPU time idle: to another host it doubles; sharing the CPUs it stays.
    const wan = [
      [40e6, 0.5],
      [89e6, 0.07],
    ] as const;
    let state = startTuning(4, remote);
    let shared = startTuning(4, tunerLimits(8));
    for (const [rate, idle] of wan) {
      state = tuneStep(state, rate, remote, idle).state;
      shared = tuneStep(shared, rate, tunerLimits(8), idle).state;
    }
    expect(state.connections).toBe(8);
    expect(shared).toEqual({ connections: 4, settling: 0, done: true });
  });
});

/** tuneStep as it was before the window-bound rule: the fcpd path (no windowRate) must decide as it did. */
function tuneStepBefore(state: TunerState, rate: number, limits: TunerLimits, idle: number): TunerStep {
  if (state.done) return { state, add: 0 };
  if (state.settling > 0) return { state: { ...state, settling: state.settling - 1 }, add: 0 };
  if (!(rate > 0) || rate < limits.minRate) return { state, add: 0 };
  if (idle < limits.minIdle) return { state: { ...state, done: true }, add: 0 };
  if (state.before !== undefined && rate < state.before * (1 + limits.minGain)) return { state: { ...state, done: true }, add: 0 };
  const add = Math.max(0, Math.min(state.connections, limits.max - state.connections));
  const connections = state.connections + add;
  return { state: { connections, before: rate, settling: 1, done: connections >= limits.max }, add };
}

const idleArb = fc.double({ min: 0, max: 1, noNaN: true });
/** What one connection's window carries: 2 MiB over 0.05 ms (loopback) to 500 ms. */
const windowRateArb = fc.double({ min: 4e6, max: 4e10, noNaN: true });

describe('tuneStep with a known window (SFTP)', () => {
  it('without a window (the fcpd path) decides exactly as before the window-bound rule', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_CONNECTIONS }), limitsArb, fc.array(fc.tuple(rateArb, idleArb), { maxLength: 40 }), (initial, limits, windows) => {
        let state = startTuning(Math.min(initial, limits.max), limits);
        let before = state;
        for (const [rate, idle] of windows) {
          const step = tuneStep(state, rate, limits, idle);
          const old = tuneStepBefore(before, rate, limits, idle);
          expect(step).toEqual(old);
          [state, before] = [step.state, old.state];
        }
      }),
    );
  });

  /** Tunes over arbitrary windows with a known session window, calling `check` for each window that is measured and follows an addition that paid (or none). */
  function eachPaidWindow(check: (state: TunerState, step: TunerStep, bound: boolean, limits: TunerLimits) => void): void {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_CONNECTIONS }),
        limitsArb,
        windowRateArb,
        fc.array(fc.tuple(rateArb, idleArb), { maxLength: 40 }),
        (initial, bare, windowRate, windows) => {
          const limits = { ...bare, windowRate };
          let state = startTuning(Math.min(initial, limits.max), limits);
          for (const [rate, idle] of windows) {
            const step = tuneStep(state, rate, limits, idle);
            const measured = !state.done && state.settling === 0 && rate > 0 && rate >= limits.minRate;
            const paid = state.before === undefined || rate >= state.before * (1 + limits.minGain);
            if (measured && paid) check(state, step, windowBound(rate, state.connections, limits), limits);
            expect(step.state.connections).toBeLessThanOrEqual(limits.max);
            state = step.state;
          }
        },
      ),
    );
  }

  it('a measured window-bound window adds whatever the CPUs say, unless the last addition did not pay', () => {
    eachPaidWindow((state, step, bound, limits) => {
      if (bound) expect(step.add).toBe(Math.min(state.connections, limits.max - state.connections));
    });
  });

  it('a window that is not window-bound adds nothing and does not end tuning, whatever the CPUs say', () => {
    eachPaidWindow((state, step, bound) => {
      if (!bound) expect(step).toEqual({ state, add: 0 });
    });
  });

  it('on the 50 ms WAN grows a push past one session with the CPUs full; on loopback stays at one, even with CPU to spare', () => {
    const wan = tunerLimits(8, undefined, { bytes: 2 * 1024 * 1024, rttMs: 55 });
    let state = startTuning(1, wan);
    // Settling, the start (a login shell fills the CPUs, 3 MB/s), then one session at its window's 38 MB/s.
    const steps = [0, 3e6, 37e6].map((rate) => {
      const step = tuneStep(state, rate, wan, 0.02);
      state = step.state;
      return step.add;
    });
    expect(steps).toEqual([0, 0, 1]);
    expect(state.connections).toBe(2);
    // Loopback: the same window over 0.2 ms carries 10 GB/s; one session ramps up with CPU to spare
    // (35 % idle at 45 MB/s: the CPU rule would have added), then pushes 400 MB/s with the CPUs full.
    const loopback = tunerLimits(8, undefined, { bytes: 2 * 1024 * 1024, rttMs: 0.2 });
    state = startTuning(1, loopback);
    for (const [rate, idle] of [[0, 0], [45e6, 0.35], [120e6, 0.28], [400e6, 0.01], [390e6, 0.05], [410e6, 0]]) {
      const step = tuneStep(state, rate!, loopback, idle);
      expect(step.add).toBe(0);
      state = step.state;
    }
    expect(state).toEqual({ connections: 1, settling: 0, done: false });
  });

  it('knows a window only from a measured round trip, never under FCP_TEST_TUNER', () => {
    expect(tunerLimits(8).windowRate).toBeUndefined();
    expect(tunerLimits(8, undefined, { bytes: 1e6, rttMs: 0 }).windowRate).toBeUndefined();
    expect(tunerLimits(8, { windowMs: 30, minGain: 0 }, { bytes: 1e6, rttMs: 50 }).windowRate).toBeUndefined();
    expect(tunerLimits(8, undefined, { bytes: 1e6, rttMs: 50 }).windowRate).toBe(2e7);
    expect(windowBound(TUNE_WINDOW_BOUND_SHARE * 3 * 2e7, 3, { max: 8, minGain: 0, minRate: 0, minIdle: 0, windowRate: 2e7 })).toBe(true);
    expect(windowBound(TUNE_WINDOW_BOUND_SHARE * 3 * 2e7 * 0.99, 3, { max: 8, minGain: 0, minRate: 0, minIdle: 0, windowRate: 2e7 })).toBe(false);
  });
});

describe('initialConnections and windowMs', () => {
  it('sizes the start for the round trip within TUNE_INITIAL..max, and more for a longer round trip', () => {
    expect(initialConnections(0, 16)).toBe(TUNE_INITIAL);
    expect(initialConnections(50, 16)).toBe(TUNE_INITIAL);
    expect(initialConnections(200, 16)).toBe(6);
    expect(initialConnections(2000, 16)).toBe(16);
    expect(initialConnections(200, 2)).toBe(2);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 1e5, noNaN: true }), fc.integer({ min: 1, max: MAX_CONNECTIONS }), (a, b, max) => {
        const [short, long] = a < b ? [a, b] : [b, a];
        expect(initialConnections(short, max)).toBeLessThanOrEqual(initialConnections(long, max));
        expect(initialConnections(long, max)).toBeLessThanOrEqual(max);
        expect(initialConnections(short, max)).toBeGreaterThanOrEqual(Math.min(TUNE_INITIAL, max));
      }),
    );
  });

  it('starts with TUNE_SAME_HOST where fcpd runs on this machine, more only for a round trip that needs them', () => {
    expect(TUNE_SAME_HOST).toBeLessThan(TUNE_INITIAL);
    expect(initialConnections(0, 16, true)).toBe(TUNE_SAME_HOST);
    expect(initialConnections(0.2, 16, true)).toBe(TUNE_SAME_HOST);
    expect(initialConnections(200, 16, true)).toBe(initialConnections(200, 16));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.integer({ min: 1, max: MAX_CONNECTIONS }), (rtt, max) => {
        expect(initialConnections(rtt, max, true)).toBeLessThanOrEqual(initialConnections(rtt, max));
        expect(initialConnections(rtt, max, true)).toBeGreaterThanOrEqual(Math.min(TUNE_SAME_HOST, max));
      }),
    );
  });

  it('dials the least start with the control connection for a tuned offer, and every offered connection for a pinned one', () => {
    const tuned = { connections: 8, features: Feature.GROW };
    expect([firstDials(tuned), firstDials(tuned, true)]).toEqual([TUNE_INITIAL, TUNE_SAME_HOST]);
    expect(firstDials({ connections: 3, features: 0 }, true)).toBe(3);
    expect(firstDials({ connections: 1, features: Feature.GROW })).toBe(1);
  });

  it('keeps a window within its bounds', () => {
    expect(windowMs(0)).toBe(TUNE_MIN_WINDOW_MS);
    expect(windowMs(100)).toBe(600);
    expect(windowMs(1e6)).toBe(TUNE_MAX_WINDOW_MS);
  });
});
