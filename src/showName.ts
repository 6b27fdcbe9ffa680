/**
 * How file names and other text are shown on a terminal, in a log and in JSON output. A name may
 * hold any byte but NUL (and '/' between components), and a peer chooses the names it sends:
 * shown raw, ESC, BEL or a C1 CSI would drive the terminal, and a bidi control would reorder or
 * hide the text around it. So every name is shown escaped as `ls -b` does (PROTOCOL.md §4), and
 * every line fcp and fcpd write to stderr or a log passes a last scrub of control characters.
 */

/** showName and showText, which escapeNames returns. */
export interface NameEscapes {
  showName(name: Buffer | string): string;
  showText(text: string): string;
}

/**
 * Makes showName and showText. It refers to nothing outside its own body (but Buffer), because
 * the stall watchdog's worker (src/cli/watchdogThread.ts) runs its source text: the worker shows the
 * file of a stuck call as everything else shows a name, and the main thread records the raw bytes
 * of each file's name instead of escaping every one of them in case a call sticks.
 */
export function escapeNames(): NameEscapes {
  const BACKSLASH = 0x5c;
  const LINE_FEED = 0x0a;
  const DEL = 0x7f;
  /** Code points below this that take two UTF-8 bytes are the C1 controls (U+0080..U+009F). */
  const END_OF_C1 = 0xa0;

  /** The C escapes of `ls -b`; any other control byte is shown in octal. */
  const C_ESCAPES: Readonly<Record<number, string>> = {
    0x07: '\\a',
    0x08: '\\b',
    0x09: '\\t',
    0x0a: '\\n',
    0x0b: '\\v',
    0x0c: '\\f',
    0x0d: '\\r',
  };

  /**
   * Characters that are invisible or move other text: format characters (the bidi controls
   * U+200E/F, U+202A..U+202E, U+2066..U+2069, zero-width characters, ...) and the line and
   * paragraph separators U+2028/U+2029.
   */
  const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;
  /** Only printable ASCII other than the backslash: shown as it is. */
  const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/;

  /** Smallest code point for each UTF-8 sequence length: anything below is an overlong form. */
  const MIN_CODE_POINT = [0, 0, 0x80, 0x800, 0x10000];

  function octal(byte: number): string {
    return `\\${byte.toString(8).padStart(3, '0')}`;
  }

  /** `\uXXXX`, or `\UXXXXXXXX` beyond the BMP (as C's universal character names). */
  function unicodeEscape(codePoint: number): string {
    return codePoint > 0xffff ? `\\U${codePoint.toString(16).padStart(8, '0')}` : `\\u${codePoint.toString(16).padStart(4, '0')}`;
  }

  /** Length of the well-formed UTF-8 sequence of a non-ASCII character at `i`, or 0 when there is none. */
  function sequenceLength(bytes: Buffer, i: number): number {
    const lead = bytes[i]!;
    const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
    if (length === 0 || lead > 0xf4 || i + length > bytes.length) return 0;
    let codePoint = lead & (0x7f >> length);
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) return 0;
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    const surrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
    return codePoint < MIN_CODE_POINT[length]! || codePoint > 0x10ffff || surrogate ? 0 : length;
  }

  /**
   * `bytes` with every control byte, C1 control, invisible character and byte that is not valid
   * UTF-8 escaped. A name (`asText` false) also shows the backslash as `\\` and a line feed as
   * `\n`, which makes the escaping reversible; text keeps both.
   */
  function escape(bytes: Buffer, asText: boolean): string {
    let shown = '';
    for (let i = 0; i < bytes.length; ) {
      const byte = bytes[i]!;
      if (byte < 0x80) {
        const printable = byte >= 0x20 && byte !== DEL;
        if (printable) shown += byte === BACKSLASH && !asText ? '\\\\' : String.fromCharCode(byte);
        else shown += byte === LINE_FEED && asText ? '\n' : (C_ESCAPES[byte] ?? octal(byte));
        i++;
        continue;
      }
      const length = sequenceLength(bytes, i);
      if (length === 0) {
        shown += octal(byte);
        i++;
        continue;
      }
      const char = bytes.toString('utf8', i, i + length);
      const codePoint = char.codePointAt(0)!;
      if (codePoint < END_OF_C1) for (let k = i; k < i + length; k++) shown += octal(bytes[k]!);
      else shown += INVISIBLE.test(char) ? unicodeEscape(codePoint) : char;
      i += length;
    }
    return shown;
  }

  // What showName and showText below say.
  function showName(name: Buffer | string): string {
    // latin1 maps each byte to one character: the plain test sees the bytes themselves.
    const text = typeof name === 'string' ? name : name.toString('latin1');
    if (PLAIN.test(text)) return text;
    return escape(typeof name === 'string' ? Buffer.from(name, 'utf8') : name, false);
  }

  function showText(text: string): string {
    return PLAIN.test(text) ? text : escape(Buffer.from(text, 'utf8'), true);
  }

  return { showName, showText };
}

/** What showJson escapes beyond what JSON.stringify does: DEL, C1 and the invisible characters. */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

const escapes = escapeNames();

/**
 * A file name as a terminal or a log may show it, as `ls -b` does: printable UTF-8 as it is, `\\`
 * for a backslash, C escapes (`\a \b \t \n \v \f \r`), other control bytes, DEL, C1 controls and
 * bytes that are not valid UTF-8 as octal `\ooo` per byte, and invisible or bidi characters as
 * `\uXXXX`. Different names (as bytes) are always shown differently.
 */
export const showName = escapes.showName;

/**
 * Text for a terminal or a log with every control character escaped, so that nothing it holds
 * can drive the terminal: the last scrub of what fcp and fcpd write. Line feeds and backslashes
 * stay (names in it are already shown by showName, and this leaves them as they are).
 */
export const showText = escapes.showText;

/**
 * JSON.stringify whose output also escapes DEL, C1 controls and invisible or bidi characters as
 * `\uXXXX`: still the same JSON value (they only occur inside strings), and safe on a terminal.
 */
export function showJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (char) =>
    Array.from({ length: char.length }, (_, k) => `\\u${char.charCodeAt(k).toString(16).padStart(4, '0')}`).join(''),
  );
}
