/**
 * showName, showText and showJson: nothing that can drive a terminal (C0, DEL, C1) or reorder or
 * hide text (bidi and other invisible characters) survives; names are shown reversibly, so two
 * names never look alike; plain names are shown as they are.
 */
import fc from 'fast-check';
import { showJson, showName, showText } from '../../src/showName';
import { numRuns } from './protocol/fuzzRuns';

/** Anything a terminal would act on, or that is invisible or reorders text. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/u;
const C_ESCAPED = 'abtnvfr';
const C_BYTES = [0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d];

/** The bytes a showName display stands for: the inverse that proves the display injective. */
function unshow(shown: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < shown.length; ) {
    if (shown[i] !== '\\') {
      const char = String.fromCodePoint(shown.codePointAt(i)!);
      parts.push(Buffer.from(char, 'utf8'));
      i += char.length;
      continue;
    }
    const kind = shown[i + 1]!;
    if (kind === '\\') {
      parts.push(Buffer.from('\\'));
      i += 2;
    } else if (C_ESCAPED.includes(kind)) {
      parts.push(Buffer.from([C_BYTES[C_ESCAPED.indexOf(kind)]!]));
      i += 2;
    } else if (/^[0-7]{3}$/.test(shown.slice(i + 1, i + 4))) {
      parts.push(Buffer.from([parseInt(shown.slice(i + 1, i + 4), 8)]));
      i += 4;
    } else if (kind === 'u' || kind === 'U') {
      const digits = kind === 'u' ? 4 : 8;
      parts.push(Buffer.from(String.fromCodePoint(parseInt(shown.slice(i + 2, i + 2 + digits), 16)), 'utf8'));
      i += 2 + digits;
    } else {
      throw new Error(`unknown escape at ${i} in ${JSON.stringify(shown)}`);
    }
  }
  return Buffer.concat(parts);
}

/** Bytes that make escaping interesting: controls, UTF-8 lead and continuation bytes, '\', digits, 'u'. */
const edgyByte = fc.oneof(
  fc.constantFrom(0x00, 0x07, 0x0a, 0x1b, 0x5c, 0x7f, 0x80, 0x9b, 0xa0, 0xae, 0xbf, 0xc2, 0xe2, 0xed, 0xf0, 0xf4, 0xff, 0x30, 0x75),
  fc.integer({ min: 0, max: 255 }),
);
const names = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.array(edgyByte, { maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8')),
);

describe('showName', () => {
  test.each([
    ['an ANSI colour and a bell', Buffer.from('a\x1b[31mb\x07'), 'a\\033[31mb\\a'],
    ['C escapes', Buffer.from('\b\t\n\v\f\r'), '\\b\\t\\n\\v\\f\\r'],
    ['other C0 bytes and DEL', Buffer.from([0x00, 0x01, 0x1f, 0x7f]), '\\000\\001\\037\\177'],
    ['a backslash', Buffer.from('a\\033'), 'a\\\\033'],
    ['a C1 CSI as a character (two bytes)', Buffer.from('x\u009by'), 'x\\302\\233y'],
    ['a C1 CSI as a lone byte', Buffer.from([0x78, 0x9b, 0x79]), 'x\\233y'],
    ['a byte that is not UTF-8', Buffer.from([0x66, 0xff, 0x6f]), 'f\\377o'],
    ['a truncated sequence', Buffer.from([0xe2, 0x80]), '\\342\\200'],
    ['an overlong form', Buffer.from([0xc0, 0xaf]), '\\300\\257'],
    ['a surrogate', Buffer.from([0xed, 0xa0, 0x80]), '\\355\\240\\200'],
    ['a lead byte beyond U+10FFFF', Buffer.from([0xfc, 0x80, 0x80, 0x80]), '\\374\\200\\200\\200'],
    ['right-to-left override', Buffer.from('cod\u202Egnp.exe'), 'cod\\u202egnp.exe'],
    ['bidi isolates and marks', Buffer.from('\u2066\u2069\u200e\u200f'), '\\u2066\\u2069\\u200e\\u200f'],
    ['line and paragraph separators', Buffer.from('a\u2028b\u2029'), 'a\\u2028b\\u2029'],
    ['zero-width space and a tag character', Buffer.from('a\u200b\u{e0041}'), 'a\\u200b\\U000e0041'],
    ['printable UTF-8', Buffer.from('ünï cødé 😀 中文'), 'ünï cødé 😀 中文'],
  ])('%s', (_, name, shown) => {
    expect(showName(name)).toBe(shown);
    // The same name as a string, where its bytes are UTF-8 (a string is shown as its UTF-8 bytes).
    const text = name.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(name)) expect(showName(text)).toBe(shown);
  });

  test('a string is shown as its UTF-8 bytes', () => {
    expect(showName('dir/a\x1b]0;title\x07')).toBe('dir/a\\033]0;title\\a');
    expect(showName('plain/name.txt')).toBe('plain/name.txt');
  });

  test('shows no control, C1, invisible or bidi character', () => {
    fc.assert(
      fc.property(names, (name) => {
        expect(showName(name)).not.toMatch(UNSAFE);
      }),
      { numRuns: numRuns(2000) },
    );
  });

  test('is reversible, so different names are shown differently', () => {
    fc.assert(
      fc.property(names, (name) => {
        expect(unshow(showName(name))).toEqual(name);
      }),
      { numRuns: numRuns(2000) },
    );
    fc.assert(
      fc.property(names, names, (a, b) => {
        expect(a.equals(b)).toBe(showName(a) === showName(b));
      }),
      { numRuns: numRuns(2000) },
    );
  });

  test('printable names are shown as they are', () => {
    const printable = fc
      .string({ unit: 'grapheme', maxLength: 30 })
      .filter((s) => !UNSAFE.test(s) && !s.includes('\\'));
    fc.assert(
      fc.property(printable, (name) => {
        expect(showName(name)).toBe(name);
        expect(showName(Buffer.from(name, 'utf8'))).toBe(name);
      }),
      { numRuns: numRuns(2000) },
    );
  });
});

describe('showText', () => {
  test('escapes control and bidi characters, keeps line feeds and backslashes', () => {
    expect(showText('peer said \x1b[2J\x9b1m\u202eok\nnext \\n line')).toBe('peer said \\033[2J\\302\\2331m\\u202eok\nnext \\n line');
  });

  test('leaves what showName shows as it is', () => {
    fc.assert(
      fc.property(names, (name) => {
        const line = `cannot open ${showName(name)}: no such file`;
        expect(showText(line)).toBe(line);
      }),
      { numRuns: numRuns(1000) },
    );
  });

  test('shows no control character but the line feed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        expect(showText(text).replace(/\n/g, '')).not.toMatch(UNSAFE);
      }),
      { numRuns: numRuns(2000) },
    );
  });
});

describe('showJson', () => {
  test('escapes DEL, C1, separators and bidi controls as \\uXXXX', () => {
    expect(showJson({ path: 'a\x1b\x7f\u009b\u2028\u202e\u{e0041}b' })).toBe(
      '{"path":"a\\u001b\\u007f\\u009b\\u2028\\u202e\\udb40\\udc41b"}',
    );
  });

  test('is the same JSON value, with nothing unsafe in the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 }), (path, other) => {
        const value = { event: 'file', path, other, size: 3 };
        const json = showJson(value);
        expect(JSON.parse(json)).toEqual(value);
        expect(json).not.toMatch(UNSAFE);
      }),
      { numRuns: numRuns(2000) },
    );
  });
});
