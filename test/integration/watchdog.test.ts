/**
 * The stall watchdog names the file of a disk call that never returns as every other message
 * does (showName, `ls -b`), though the main thread records only the name's raw bytes: the
 * watchdog's worker escapes them when it reports. A name that would drive a terminal must arrive
 * escaped, on stderr and in --json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HANG_DISK_ENV } from '../../src/diskWatch';
import { FCP_BIN, killAll, runNode } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(killAll);

/** ESC [31m (red), a line feed, a backslash and a byte that is not UTF-8. */
const NAME = Buffer.from('a\x1b[31mb\nc\\d\xff', 'latin1');
const SHOWN = 'a\\033[31mb\\nc\\\\d\\377';

function sourceWithName(work: string): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(Buffer.concat([Buffer.from(`${src}/`), NAME]), 'small');
  return src;
}

describe('a small file whose write never returns', () => {
  test('ends with exit 7 and names the file escaped', async () => {
    const work = temp.make('fcp-watchdog');
    sourceWithName(work);
    const hung = await runNode(FCP_BIN, ['-r', '--timeout', '2', 'src', 'dst'], { cwd: work, timeoutMs: 30_000, env: { [HANG_DISK_ENV]: 'write' } });
    expect({ code: hung.code, timedOut: hung.timedOut }).toEqual({ code: 7, timedOut: false });
    expect(hung.stderr).toContain(`fcp: cannot write ${path.join(work, 'dst', 'src')}/${SHOWN} on ${os.hostname()}: the disk did not answer within 2 s (FCP_ERR_TIMEOUT)\n`);
    expect(hung.stderr).not.toContain('\x1b');
  });

  test('--json: the record names it escaped too', async () => {
    const work = temp.make('fcp-watchdog');
    sourceWithName(work);
    const hung = await runNode(FCP_BIN, ['--json', '-r', '--timeout', '2', 'src', 'dst'], { cwd: work, timeoutMs: 30_000, env: { [HANG_DISK_ENV]: 'write' } });
    expect({ code: hung.code, timedOut: hung.timedOut }).toEqual({ code: 7, timedOut: false });
    const records = hung.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event?: string; code?: string; message?: string });
    const error = records.find((record) => record.code === 'FCP_ERR_TIMEOUT');
    expect(error?.message).toBe(`cannot write ${path.join(work, 'dst', 'src')}/${SHOWN} on ${os.hostname()}: the disk did not answer within 2 s`);
  });
});
