/**
 * The byte-offset tables of docs/PROTOCOL.md section 4, rendered from src/protocol/layouts.ts,
 * the same layouts the parser and the serializer walk: `npm run docs:vectors` writes them between
 * the layouts markers and docVectors.test.ts checks that the document still matches.
 */
import { packetTypeName } from '../../../src/protocol/constants';
import { Field, fixedWidth, LAYOUTS, variableBounds } from '../../../src/protocol/layouts';

export const LAYOUTS_BEGIN = '<!-- layouts:begin -->';
export const LAYOUTS_END = '<!-- layouts:end -->';

const DESCRIPTIONS: Record<Field['kind'], string> = {
  u8: 'u8',
  u16: 'u16',
  u32: 'u32',
  u64num: 'u64',
  u64: 'u64',
  i64: 'i64',
  fixed: 'bytes',
  magic: 'the bytes 46 43 50 00 ("FCP\\0")',
  entryPath: 'entry path, to the end of the payload',
  entryPathPrefixed: 'u16 length, then that many bytes of entry path',
  userPath: 'user path, to the end of the payload',
  userPathList: 'user paths separated by one NUL byte, to the end of the payload',
  linkTarget: 'symlink target, to the end of the payload',
  text: 'UTF-8 text, to the end of the payload',
  data: 'bytes, to the end of the payload',
  hashes: 'u64 chunk hashes, to the end of the payload',
  extension: 'later versions\' fields, ignored, to the end of the payload',
  optU32: 'u32, absent when the payload ends before it',
  accountName: 'u8 length, then that many bytes of a user or group name',
  nameSuffix: 'bytes to append to a name (no / or NUL), to the end of the payload; none but with BACKUP',
};

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function range(field: Field): string {
  const bits = [field.min !== undefined ? `min ${field.min}` : '', field.max !== undefined ? `max ${field.max}` : ''].filter(Boolean);
  return bits.length ? ` (${bits.join(', ')})` : '';
}

function table(type: number): string {
  const rows = ['| offset | size | field | encoding |', '|-------:|-----:|-------|----------|'];
  let offset: number | undefined = 0;
  let after = '';
  for (const field of LAYOUTS[type]!) {
    const width = fixedWidth(field);
    const bounds = width === undefined ? variableBounds(field) : undefined;
    const size = width !== undefined ? String(width) : `${bounds!.min}..${bounds!.max}`;
    const where = offset !== undefined ? String(offset) : `after ${after}`;
    const numeric = ['u8', 'u16', 'u32', 'u64num'].includes(field.kind) ? range(field) : '';
    rows.push(`| ${where} | ${size} | ${snake(field.name)} | ${DESCRIPTIONS[field.kind]}${numeric} |`);
    if (width !== undefined && offset !== undefined) offset += width;
    else {
      offset = undefined;
      after = snake(field.name);
    }
  }
  return rows.join('\n');
}

export function renderLayoutsMarkdown(): string {
  const types = Object.keys(LAYOUTS).map(Number).sort((a, b) => a - b);
  return types
    .map((type) => {
      const name = `0x${type.toString(16).padStart(2, '0')} ${packetTypeName[type]}`;
      return LAYOUTS[type]!.length === 0 ? `#### ${name}\nEmpty payload.` : `#### ${name}\n${table(type)}`;
    })
    .join('\n\n');
}
