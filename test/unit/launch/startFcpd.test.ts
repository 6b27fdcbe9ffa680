/**
 * startFcpd when fcpd's output ends before its listen line: the exit code says why (a launch
 * script's answer, such as "no Node.js here", which the SFTP fallback acts on), however late it
 * comes within the launch's limit; an end with no code at all is a plain failure.
 */
import { PassThrough } from 'node:stream';
import { FcpError } from '../../../src/errors';
import { startFcpd, type FcpdStreams, type HandOff } from '../../../src/launch/fcpdProcess';

const NO_NODE = 121;
const handOff: HandOff<string> = { firstLine: 'secret\n', ready: (line) => (line === 'ready' ? line : undefined), what: 'listen line' };

function streams(exited: Promise<number | null>): FcpdStreams {
  const stdout = new PassThrough();
  setImmediate(() => stdout.end());
  return { stdin: new PassThrough(), stdout, stderr: new PassThrough(), exited };
}

const exits = { [NO_NODE]: () => new FcpError('FCP_ERR_CONNECT', 'no Node.js on the host') };

test('an exit code that comes seconds after the output ended (a loaded host) still says why', async () => {
  const late = new Promise<number | null>((resolve) => setTimeout(() => resolve(NO_NODE), 2500));
  await expect(startFcpd(streams(late), handOff, () => undefined, 'on h', 'fcpd', { exits })).rejects.toThrow('no Node.js on the host');
});

test('an end with no exit code (a channel closed without one) is a failed start', async () => {
  await expect(startFcpd(streams(Promise.resolve(null)), handOff, () => undefined, 'on h', 'fcpd', { exits })).rejects.toMatchObject({
    code: 'FCP_ERR_CONNECT',
    message: expect.stringContaining('before it listened'),
  });
});
