/** Sizes, rates and shortened names as the progress and summary lines show them. */
import fc from 'fast-check';
import { cutMiddle, formatBytes } from '../../../src/cli/format';

test.each([
  [0, '0 B'],
  [18.24817518248175, '18 B'],
  [1023.6, '1024 B'],
  [1024, '1.00 KiB'],
  [1536 * 1024, '1.50 MiB'],
  [123.4 * 1024 ** 3, '123.4 GiB'],
])('formatBytes(%d) is %s', (bytes, text) => {
  expect(formatBytes(bytes)).toBe(text);
});

describe('cutMiddle', () => {
  test('keeps text that fits, and cuts the middle of text that does not', () => {
    expect(cutMiddle('short', 10)).toBe('short');
    expect(cutMiddle('abcdefghij', 10)).toBe('abcdefghij');
    expect(cutMiddle('abcdefghijk', 10)).toBe('abcde…hijk');
    expect(cutMiddle('ab', 1)).toBe('…');
    expect(cutMiddle('ab', 0)).toBe('');
  });

  test('never exceeds the width, keeps both ends, and never splits a character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 60 }), fc.integer({ min: 2, max: 80 }), (text, width) => {
        const cut = cutMiddle(text, width);
        const chars = Array.from(cut);
        expect(chars.length).toBeLessThanOrEqual(width);
        if (Array.from(text).length <= width) return expect(cut).toBe(text);
        const [head, tail] = cut.split('…') as [string, string];
        expect(text.startsWith(head) && text.endsWith(tail)).toBe(true);
        expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      }),
    );
  });
});
