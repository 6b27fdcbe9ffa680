/** The open-file budget read from /proc/self/limits. */
import { budgetFrom, openFileBudget } from '../../../src/transfer/openFileBudget';

const limits = (soft: string, hard = '1048576'): string =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             95345                95345                processes ',
    `Max open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');

test.each([
  ['1024', 512],
  ['4096', 2048],
  ['20000', 8192],
  ['unlimited', 8192],
  ['300', 256],
])('soft limit %s gives a budget of %i files', (soft, budget) => {
  expect(budgetFrom(limits(soft))).toBe(budget);
});

test('without /proc (or an unreadable line) the budget fits a soft limit of 1024', () => {
  expect(budgetFrom(undefined)).toBe(512);
  expect(budgetFrom('Max open files  lots')).toBe(512);
});

test("this process's budget is half its limit, within 256..8192", () => {
  expect(openFileBudget()).toBeGreaterThanOrEqual(256);
  expect(openFileBudget()).toBeLessThanOrEqual(8192);
});
