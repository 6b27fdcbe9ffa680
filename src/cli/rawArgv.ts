/**
 * The command line's arguments as the bytes they were given in. Node decodes argv as UTF-8, so
 * a name that is not UTF-8 (`bad\xff.bin`) arrives with U+FFFD in place of its byte and names no
 * file; on Linux /proc/self/cmdline still holds the bytes. Elsewhere, or when cmdline does not
 * line up with argv, the arguments are their UTF-8 encoding (what they were, for any valid name).
 */
import * as fs from 'node:fs';

const CMDLINE = '/proc/self/cmdline';

/** The bytes of process.argv's user arguments (argv.slice(2)), one Buffer each. */
function argumentBytes(argv: readonly string[]): Buffer[] {
  const asText = argv.slice(2).map((arg) => Buffer.from(arg));
  if (argv !== process.argv || process.platform !== 'linux') return asText;
  let cmdline: Buffer;
  try {
    cmdline = fs.readFileSync(CMDLINE);
  } catch {
    return asText;
  }
  // NUL-terminated arguments; node's own options (and the script) come before the user's.
  const all: Buffer[] = [];
  for (let start = 0; start < cmdline.length; ) {
    const end = cmdline.indexOf(0, start);
    all.push(cmdline.subarray(start, end < 0 ? cmdline.length : end));
    start = end < 0 ? cmdline.length : end + 1;
  }
  const raw = all.slice(all.length - asText.length);
  const linesUp = raw.length === asText.length && raw.every((bytes, i) => bytes.toString('utf8') === argv[i + 2]);
  return linesUp ? raw : asText;
}

/**
 * `operands` (what the parser left of argv: the paths, in order) as bytes: each is the next
 * argument, from where the previous one was found, that decodes to it.
 */
export function operandBytes(operands: readonly string[], argv: readonly string[]): Buffer[] {
  const bytes = argumentBytes(argv);
  const args = argv.slice(2);
  let next = 0;
  return operands.map((operand) => {
    while (next < args.length && args[next] !== operand) next++;
    if (next === args.length) return Buffer.from(operand);
    return bytes[next++]!;
  });
}
