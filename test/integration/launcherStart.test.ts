/**
 * bin/fcp, bin/fcpd and bin/fcp-track load the built code (dist/); when that load fails they say
 * why as every error is said, never with Node's stack trace: out of descriptors (a process left
 * too few by its parent cannot read its own files; FCP_ERR_IO, exit 4, with what to do), or not
 * built (FCP_ERR_USAGE, exit 2).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, runProgram, stackLines } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

const FAIL_LOAD = path.join(__dirname, 'helpers', 'failLoad.js');
const PROGRAMS = ['fcp', 'fcpd', 'fcp-track'];
const temp = useTempDirs();

describe.each(PROGRAMS)('bin/%s', (program) => {
  test.each(['EMFILE', 'ENFILE'])('whose load fails with %s ends with FCP_ERR_IO and what to do', async (code) => {
    const run = await runProgram(process.execPath, ['-r', FAIL_LOAD, path.join(ROOT, 'bin', program), '--version'], { env: { FCP_TEST_FAIL_LOAD: code } });
    expect({ code: run.code, stderr: run.stderr, stack: stackLines(run.stderr) }).toEqual({
      code: 4,
      stderr: `${program}: cannot start: out of file descriptors (${code}) (FCP_ERR_IO)\n  raise the open-file limit (ulimit -n) of fcp and fcpd, or run fewer copies at once\n`,
      stack: [],
    });
  });

  test('not built says so (FCP_ERR_USAGE, exit 2)', async () => {
    const bin = path.join(temp.make('fcp-unbuilt'), 'bin');
    fs.mkdirSync(bin);
    fs.copyFileSync(path.join(ROOT, 'bin', program), path.join(bin, program));
    const run = await runProgram(process.execPath, [path.join(bin, program), 'a', 'b']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: `${program}: not built yet: run \`npm run build\` in the fcp directory (FCP_ERR_USAGE)\n` });
  });

  test('whose load fails otherwise is not taken for either', async () => {
    const run = await runProgram(process.execPath, ['-r', FAIL_LOAD, path.join(ROOT, 'bin', program), '--version'], { env: { FCP_TEST_FAIL_LOAD: 'EACCES' } });
    expect({ code: run.code, notBuilt: /not built/.test(run.stderr), descriptors: /descriptors/.test(run.stderr) }).toEqual({ code: 1, notBuilt: false, descriptors: false });
  });
});
