/** Human-readable sizes, rates and durations for the progress line and summaries. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/**
 * `text` in at most `width` characters: cut in the middle with an ellipsis, so that both the
 * start of a path and the file's own name stay readable. Counts code points, not UTF-16 units.
 */
export function cutMiddle(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 1) return '…'.slice(0, width);
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (keep - head)).join('')}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/**
 * rsync's --bwlimit: KiB per second, or with a K, M or G suffix (1024-based, a fraction allowed:
 * "1.5m"); undefined when it is not a positive rate.
 */
export function parseRate(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)$/i.exec(text.trim());
  if (!match) return undefined;
  const scale = { '': 1024, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.round(Number(match[1]) * scale);
  return bytes > 0 ? bytes : undefined;
}

const RSYNC_UNITS: Readonly<Record<string, number>> = { b: 0, k: 1, m: 2, g: 3, t: 4, p: 5 };

/**
 * rsync's SIZE (--min-size, --max-size): a number, a fraction allowed, with an optional unit
 * (b bytes; k, m, g, t, p of 1024, or of 1000 as KB, MB...; KiB as K), and an optional +1 or -1
 * byte: "1.5mb-1" is 1499999, "2g+1" 2147483649. Undefined when it is not one (a fraction of a
 * byte included).
 */
export function parseRsyncSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d*)?|\.\d+)(?:([bkmgtp])(i?b)?)?([+-]1)?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, number, unit = 'b', suffix, offset] = match;
  const base = suffix !== undefined && suffix.toLowerCase() === 'b' && unit.toLowerCase() !== 'b' ? 1000 : 1024;
  const scaled = Number(number) * base ** RSYNC_UNITS[unit.toLowerCase()]!;
  const bytes = scaled + (offset === undefined ? 0 : Number(offset));
  // Whole bytes only: "1.5" or "0.3k" is not a size.
  return Number.isSafeInteger(scaled) && Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : undefined;
}

/** "1M", "256k", "4MiB", "65536" → bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(text.trim());
  if (!match) return undefined;
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) * scale;
}
