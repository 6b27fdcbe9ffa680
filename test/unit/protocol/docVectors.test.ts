/**
 * The generated parts of docs/PROTOCOL.md against the code: the byte-offset tables of section 4
 * are what the layouts give, and each test vector of section 13 decodes to its message and each
 * message encodes to its hex dump. `npm run docs:vectors` regenerates both.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { loadXxhash, PacketType, packetTypeName, XXHashAPI } from '../../../src/protocol';
import {
  decodeSlices,
  encodeMessages,
  parseVectorsMarkdown,
  ParsedVector,
  renderVectorsMarkdown,
  splitAtMarkers,
  splitAtVectors,
  toPlain,
} from './vectors';
import { LAYOUTS_BEGIN, LAYOUTS_END, renderLayoutsMarkdown } from './layoutDoc';

const DOC = join(__dirname, '../../../docs/PROTOCOL.md');
const REGENERATE = 'run `npm run docs:vectors`';

// Read at load time so that a missing document or missing markers fail loudly, not as "no tests".
const doc = readFileSync(DOC, 'utf8');
const section = splitAtVectors(doc).inside;
const offsets = splitAtMarkers(doc, LAYOUTS_BEGIN, LAYOUTS_END).inside;
const vectors: ParsedVector[] = parseVectorsMarkdown(section);

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

describe('docs/PROTOCOL.md byte offsets', () => {
  it(`are what the layouts give (${REGENERATE} after changing a layout)`, () => {
    expect(offsets.trim()).toBe(renderLayoutsMarkdown().trim());
  });
});

describe('docs/PROTOCOL.md test vectors', () => {
  it('cover every packet type', () => {
    const types = Object.values(PacketType);
    expect(vectors.length).toBeGreaterThanOrEqual(types.length);
    const missing = types.filter((type) => !vectors.some((v) => v.message.type === type));
    expect(missing.map((type) => packetTypeName[type])).toEqual([]);
  });

  it(`are what the code generates (${REGENERATE} after changing them)`, async () => {
    expect(section.trim()).toBe((await renderVectorsMarkdown()).trim());
  });

  // it.each needs at least one row; an empty list already fails 'cover every packet type'.
  it.each(vectors.length ? vectors.map((v) => [v.name, v] as const) : [['(none)', undefined] as const])(
    '%s: the hex decodes to the message and the message encodes to the hex',
    (_, vector) => {
      if (!vector) throw new Error(`no test vectors between the markers: ${REGENERATE}`);
      const { message, bytes, name: _name, ...channel } = vector;
      expect(decodeSlices(xxh, [bytes], channel).map(toPlain)).toEqual([toPlain(message)]);
      expect(encodeMessages(xxh, [message], channel)[0]!.toString('hex')).toBe(bytes.toString('hex'));
    },
  );
});
