/** Settings files: TOML with lines, host sections as ssh_config's Host, precedence, errors naming file:line. */
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import { fileLayer, firstSet, Layer, listKey, resolve, switchKey, textKey } from '../../../src/config/settings';
import { parseTomlDocument } from '../../../src/config/toml';

const SCHEMA = {
  count: textKey((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error('must be a whole number above 0');
    return n;
  }, (n: number) => n),
  fast: switchKey,
  names: listKey(),
};

function thrown(run: () => unknown): FcpError {
  try {
    run();
  } catch (err) {
    return err as FcpError;
  }
  throw new Error('nothing was thrown');
}

describe('parseTomlDocument', () => {
  test('knows the line of every key and table header, quoted and dotted keys too', () => {
    const doc = parseTomlDocument(
      ['# top', 'count = 3', '', '[host."*.lan"]', 'fast = true', '"names" = ["a"]', '[host.other]', 'x.y = 1', "s = '''", 'count = 9', "'''"].join('\n'),
      'f.toml',
    );
    expect(doc.lineOf(['count'])).toBe(2);
    expect(doc.lineOf(['host', '*.lan'])).toBe(4);
    expect(doc.lineOf(['host', '*.lan', 'fast'])).toBe(5);
    expect(doc.lineOf(['host', '*.lan', 'names'])).toBe(6);
    expect(doc.lineOf(['host', 'other', 'x', 'y'])).toBe(8);
    // A line inside a multi-line string is no key.
    expect(doc.lineOf(['host', 'other', 'count'])).toBeUndefined();
  });

  test('invalid TOML is a usage error naming file and line', () => {
    const error = thrown(() => parseTomlDocument('count = 1\nfast = [\n', '/x/config.toml'));
    expect(error.code).toBe('FCP_ERR_USAGE');
    expect(error.message).toMatch(/^\/x\/config\.toml:3: not valid TOML/);
  });
});

describe('fileLayer', () => {
  const doc = (text: string) => parseTomlDocument(text, 'c.toml');

  test('an unknown key names file, line and key; so does a value of the wrong type', () => {
    const unknown = thrown(() => fileLayer(doc('count = 2\n\n[host.a]\ncolour = 1\n'), SCHEMA, undefined));
    expect(unknown.code).toBe('FCP_ERR_USAGE');
    expect(unknown.message).toBe('c.toml:4: unknown key "host.a.colour"');
    expect(unknown.hint).toBe('known keys: count, fast, names');
    expect(thrown(() => fileLayer(doc('colour = 1\n'), SCHEMA, undefined)).hint).toBe('known keys: count, fast, names, host');
    const wrong = thrown(() => fileLayer(doc('fast = "yes"\n'), SCHEMA, undefined));
    expect(wrong.message).toBe('c.toml:1: fast: must be true or false, not a string');
    const invalid = thrown(() => fileLayer(doc('\ncount = 0\n'), SCHEMA, undefined));
    expect(invalid.message).toBe('c.toml:2: count: must be a whole number above 0');
    const list = thrown(() => fileLayer(doc('names = "a"\n'), SCHEMA, undefined));
    expect(list.message).toBe('c.toml:1: names: must be an array of strings, not a string');
    const pattern = thrown(() => fileLayer(doc('\n[host."a\\tb"]\ncount = 1\n'), SCHEMA, undefined));
    expect(pattern.message).toMatch(/^c\.toml:2: host pattern "a\\tb": use printable characters/);
    const host = thrown(() => fileLayer(doc('host = 1\n'), SCHEMA, undefined));
    expect(host.message).toMatch(/^c\.toml:1: host must be a table of tables/);
  });

  test('matching host sections win over top-level keys, the first in the file first, as ssh_config Host', () => {
    const text = ['count = 1', '[host."*.lan !gw.lan"]', 'count = 2', '[host."db.lan"]', 'count = 3', 'fast = true'].join('\n');
    const value = (host: string | undefined) => {
      const layer = fileLayer(doc(text), SCHEMA, host);
      return [layer.count?.value, layer.fast?.value];
    };
    expect(value(undefined)).toEqual([1, undefined]);
    expect(value('db.lan')).toEqual([2, true]);
    expect(value('gw.lan')).toEqual([1, undefined]);
    expect(value('web')).toEqual([1, undefined]);
    expect(fileLayer(doc(text), SCHEMA, 'db.lan').count?.source).toEqual({ kind: 'file', file: 'c.toml', line: 3 });
  });
});

describe('precedence', () => {
  const LEVELS = ['flag', 'environment', 'user file', 'system file'] as const;

  test('each key takes the value of the highest level that sets it, else the default (every combination)', () => {
    const setAt = fc.array(fc.boolean(), { minLength: LEVELS.length, maxLength: LEVELS.length });
    fc.assert(
      fc.property(fc.record({ count: setAt, fast: setAt }), (sets) => {
        const layers: Layer[] = LEVELS.map((level, index) => {
          const layer: Layer = {};
          if (sets.count[index]) layer.count = { value: index + 10, source: { kind: 'flag', flag: level } };
          if (sets.fast[index]) layer.fast = { value: index % 2 === 0, source: { kind: 'flag', flag: level } };
          return layer;
        });
        const resolved = resolve(SCHEMA, { count: 4, fast: false, names: [] }, layers);
        for (const key of ['count', 'fast'] as const) {
          const winner = sets[key].indexOf(true);
          if (winner < 0) expect(resolved[key].source).toEqual({ kind: 'default' });
          else expect(resolved[key].source).toEqual({ kind: 'flag', flag: LEVELS[winner] });
        }
        expect(resolved.names).toEqual({ value: [], source: { kind: 'default' } });
      }),
    );
  });

  test('firstSet keeps the first layer that has a key', () => {
    const a = { count: { value: 1, source: { kind: 'default' as const } } };
    const b = { count: { value: 2, source: { kind: 'default' as const } }, fast: { value: true, source: { kind: 'default' as const } } };
    expect(firstSet([a, b])).toEqual({ count: a.count, fast: b.fast });
  });
});
