/**
 * "One exit code per cause, documented" (issue 12): every error code has one exit code (its
 * category, src/errors.ts), and the documents say so: PROTOCOL.md's table of error codes names
 * every code with its wire number, and README's exit-code table and --help list every exit code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT_CODES_HELP } from '../../src/cli/exitCodes';
import { ERROR_CODES, ExitCode, exitCodeFor, FcpErrorCode } from '../../src/errors';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

test('PROTOCOL.md names every error code with its wire number', () => {
  const protocol = read('docs/PROTOCOL.md');
  const missing = (Object.keys(ERROR_CODES) as FcpErrorCode[]).filter((code) => !protocol.includes(`| ${ERROR_CODES[code].wire} | ${code} |`));
  expect(missing).toEqual([]);
});

test('README\'s exit-code table and --help list every exit code, and each error code has one of them', () => {
  const readme = read('README.md');
  const codes = Object.values(ExitCode).filter((code) => code !== ExitCode.OK);
  expect(codes.filter((code) => !new RegExp(`^\\| ${code} \\|`, 'm').test(readme))).toEqual([]);
  expect(codes.filter((code) => !new RegExp(`^  ${code}  `, 'm').test(EXIT_CODES_HELP))).toEqual([]);
  for (const code of Object.keys(ERROR_CODES) as FcpErrorCode[]) expect(codes).toContain(exitCodeFor(code));
});
