/**
 * The byte-level shell patterns of PULL sources (src/protocol/glob.ts): the examples a shell
 * agrees on, names that are not UTF-8, and, as a property, agreement with a regular expression
 * built from the same pattern for patterns of `*`, `?`, sets and literal bytes.
 */
import fc from 'fast-check';
import { isGlob, matchGlob } from '../../../src/protocol/glob';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

test.each([
  ['*.txt', 'a.txt', true],
  ['*.txt', 'a.txt.bak', false],
  ['*.txt', '.hidden.txt', false],
  ['.*', '.hidden', true],
  ['?', '.', false],
  ['[.]x', '.x', false],
  ['a?c', 'abc', true],
  ['a?c', 'ac', false],
  ['[a-c]x', 'bx', true],
  ['[!a-c]x', 'bx', false],
  ['[^a-c]x', 'dx', true],
  ['[]]x', ']x', true],
  ['[!]]x', ']x', false],
  ['a\\*', 'a*', true],
  ['a\\*', 'ab', false],
  ['*a*b', 'xxaxxb', true],
  ['*a*b', 'xxaxxbc', false],
  ['[ab', '[ab', true],
  ['\xff*', '\xff.bin', true],
  ['[\x80-\xff]', '\xfe', true],
  ['*', 'anything', true],
  ['$(id)*', '$(id)-x', true],
])('%j matches %j: %s', (pattern, name, expected) => {
  expect(matchGlob(bytes(pattern), bytes(name))).toBe(expected);
});

test.each([
  ['*.txt', true],
  ['a?', true],
  ['[ab]', true],
  ['a[b', false],
  ['a\\*b', false],
  ['plain.txt', false],
  ['~', false],
])('isGlob(%j) is %s', (component, expected) => {
  expect(isGlob(bytes(component))).toBe(expected);
});

/** A pattern piece and the regular expression it stands for (latin1: one char per byte). */
const piece = fc.oneof(
  fc.constant(['*', '[^]*']),
  fc.constant(['?', '[^]']),
  fc.constantFrom('a', 'b', '.', '\xff').map((c) => [c, c === '.' ? '\\.' : c]),
  fc.constant(['[ab]', '[ab]']),
  fc.constant(['[!a]', '[^a]']),
);

test('agrees with the regular expression of the same pattern (names without a leading dot)', () => {
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), fc.array(fc.constantFrom('a', 'b', '.', '\xff'), { maxLength: 8 }).map((chars) => chars.join('')), (pieces, name) => {
      const pattern = pieces.map(([glob]) => glob).join('');
      const regex = new RegExp(`^${pieces.map(([, re]) => re).join('')}$`);
      const hidden = name.startsWith('.') && !pattern.startsWith('.');
      expect(matchGlob(bytes(pattern), bytes(name))).toBe(!hidden && regex.test(name));
    }),
  );
});
