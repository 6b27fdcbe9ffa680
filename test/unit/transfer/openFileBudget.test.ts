/** The process's open-file budget: sizing from /proc/self/limits, turns, and waits when out of descriptors. */
import { FcpError } from '../../../src/errors';
import { budgetFor, DescriptorLine, OpenFileBudget, openFileBudget, outOfDescriptors, softLimitFrom } from '../../../src/transfer/openFileBudget';

const limits = (soft: string, hard = '1048576'): string =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95345                95345                processes ',
    `Max open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');

describe('sizing', () => {
  // 22: what fcp holds when it sizes its budget (Node's own descriptors, stdio, the watchdog's thread).
  test.each([
    ['64', 64, 0, 32],
    ['64', 64, 22, 21],
    ['64', 64, 50, 7],
    ['256', 256, 22, 194],
    ['1024', 1024, 22, 874],
    ['4096', 4096, 22, 3562],
    ['20000', 20000, 22, 8192],
    ['unlimited', Infinity, 22, 8192],
  ])('soft limit %s (%d), %i open: a budget of %i', (soft, limit, open, budget) => {
    expect(softLimitFrom(limits(soft))).toBe(limit);
    expect(budgetFor(limit, open)).toBe(budget);
  });

  test('the budget always leaves a reserve beside what is open, even under a tiny limit', () => {
    for (const open of [0, 22, 100]) {
      for (let limit = open + 2; limit <= 2048; limit++) {
        const budget = budgetFor(limit, open);
        const left = limit - open;
        expect(budget).toBeGreaterThanOrEqual(1);
        expect(left - budget).toBeGreaterThanOrEqual(Math.min(40, left / 2));
        expect(left - budget).toBeGreaterThanOrEqual(Math.min(limit / 8, left / 2));
      }
    }
  });

  test('without /proc (or an unreadable line) there is no limit to read', () => {
    expect(softLimitFrom(undefined)).toBeUndefined();
    expect(softLimitFrom('Max open files  lots')).toBeUndefined();
  });

  test("this process's budget is one object, below its limit", () => {
    expect(openFileBudget()).toBe(openFileBudget());
    expect(openFileBudget().size).toBeGreaterThanOrEqual(1);
    expect(openFileBudget().size).toBeLessThanOrEqual(8192);
  });

  test('EMFILE and ENFILE, bare or as the cause of an FcpError, are out of descriptors; others are not', () => {
    const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    expect(outOfDescriptors(errno('EMFILE'))).toBe(true);
    expect(outOfDescriptors(new FcpError('FCP_ERR_IO', 'x', { cause: errno('ENFILE') }))).toBe(true);
    expect(outOfDescriptors(errno('ENOENT'))).toBe(false);
    expect(outOfDescriptors(undefined)).toBe(false);
  });
});

/** Lines on a budget of `size`; each use is recorded by name in `log`, each line's failure in its `fails`. */
function setUp(size: number, lineCount: number, stallTimeoutMs?: number) {
  const budget = new OpenFileBudget(size, 256, stallTimeoutMs);
  const log: string[] = [];
  const lines = Array.from({ length: lineCount }, () => {
    const fails: FcpError[] = [];
    const l = new DescriptorLine(budget, (use) => use(), (error) => fails.push(error));
    return { l, fails, use: (name: string) => l.take(() => log.push(name)) };
  });
  return { budget, log, lines };
}

/** A use of `l` whose open fails for want of descriptors `failures` times, then logs `name`; counts its tries. */
function failingOpen(l: DescriptorLine, failures: number, log: string[], name = 'opened') {
  const counter = { tries: 0 };
  const open = (): void => {
    if (++counter.tries <= failures) return l.retry(open);
    log.push(name);
  };
  l.take(open);
  return counter;
}

describe('turns', () => {
  test('descriptors are taken at once while free; then uses wait, and a release wakes the next', () => {
    const { budget, log, lines: [a] } = setUp(2, 1);
    for (const name of ['a1', 'a2', 'a3']) a!.use(name);
    expect(log).toEqual(['a1', 'a2']);
    expect(budget.inUse).toBe(2);
    budget.release();
    expect(log).toEqual(['a1', 'a2', 'a3']);
    expect(budget.inUse).toBe(2);
  });

  test('waiting lines take turns, one descriptor each, in the order they came (none starves)', () => {
    const { budget, log, lines: [a, b, c] } = setUp(1, 3);
    for (const name of ['a1', 'a2', 'a3', 'a4']) a!.use(name);
    b!.use('b1');
    b!.use('b2');
    c!.use('c1');
    expect(log).toEqual(['a1']);
    for (let i = 0; i < 6; i++) budget.release();
    expect(log).toEqual(['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4']);
  });

  test('a new use does not pass one that waits', () => {
    const { budget, log, lines: [a, b] } = setUp(1, 2);
    a!.use('a1');
    a!.use('a2');
    budget.release();
    // a2 holds the descriptor; b waits behind nobody but must still wait for a release.
    b!.use('b1');
    expect(log).toEqual(['a1', 'a2']);
    budget.release();
    expect(log).toEqual(['a1', 'a2', 'b1']);
  });

  test('a closed line runs nothing more and gives back a descriptor granted to it', () => {
    const { budget, log, lines: [a, b] } = setUp(1, 2);
    a!.use('a1');
    b!.use('b1');
    b!.l.close();
    a!.use('a2');
    budget.release();
    expect(log).toEqual(['a1', 'a2']);
    expect(budget.inUse).toBe(1);
  });
});

describe('out of descriptors', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('a use whose open failed runs again first once a held descriptor is released', () => {
    const { budget, log, lines: [a] } = setUp(4, 1);
    a!.use('a1');
    failingOpen(a!.l, 1, log);
    a!.use('a3');
    // Out of descriptors with one held: nothing more is granted until it is released.
    expect(log).toEqual(['a1']);
    expect(budget.inUse).toBe(1);
    jest.advanceTimersByTime(5000);
    expect(log).toEqual(['a1']);
    budget.release();
    expect(log).toEqual(['a1', 'opened', 'a3']);
  });

  test('with none held, opens are tried again after a backoff', () => {
    const { log, lines: [a] } = setUp(4, 1);
    const open = failingOpen(a!.l, 3, log);
    expect(open.tries).toBe(1);
    jest.advanceTimersByTime(10_000);
    expect(open.tries).toBe(4);
    expect(log).toEqual(['opened']);
    expect(a!.fails).toEqual([]);
  });

  test('when nothing frees up for the stall timeout, waiting lines fail with FCP_ERR_IO naming the limit', () => {
    const { budget, log, lines: [a, b] } = setUp(4, 2, 30_000);
    const openA = failingOpen(a!.l, Infinity, log);
    const openB = failingOpen(b!.l, Infinity, log);
    jest.advanceTimersByTime(40_000);
    // Tried again and again with a growing backoff (10 ms doubling to 1 s), not in a busy loop.
    expect(openA.tries + openB.tries).toBeGreaterThan(5);
    expect(openA.tries + openB.tries).toBeLessThan(100);
    for (const fails of [a!.fails, b!.fails]) {
      expect(fails).toHaveLength(1);
      expect(fails[0]!.code).toBe('FCP_ERR_IO');
      expect(fails[0]!.message).toMatch(/out of file descriptors.*open-file limit 256/);
      expect(fails[0]!.hint).toMatch(/ulimit -n/);
    }
    // The budget is whole again for transfers that come later.
    expect(budget.inUse).toBe(0);
    b!.use('b2');
    expect(log).toEqual(['b2']);
  });
});
