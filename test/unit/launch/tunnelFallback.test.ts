/** How SSH launchers choose between direct TCP and the SSH tunnel for fcp's connections. */
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { FcpError } from '../../../src/errors';
import { tunnelFallback } from '../../../src/launch/tunnelFallback';

function setup(direct: 'ok' | 'refused', forceTunnel = false) {
  const calls = { direct: 0, tunnel: 0 };
  const notices: string[] = [];
  const connect = tunnelFallback({
    direct: async (): Promise<Duplex> => {
      calls.direct++;
      await new Promise((resolve) => setImmediate(resolve));
      if (direct === 'refused') throw new FcpError('FCP_ERR_CONNECT', 'connection refused');
      return new PassThrough();
    },
    tunnel: async (): Promise<Duplex> => {
      calls.tunnel++;
      return new PassThrough();
    },
    forceTunnel,
    directTarget: '10.0.0.2:4000',
    notice: (line) => notices.push(line),
  });
  return { connect, calls, notices };
}

test('connections opened together all dial direct at once, none waits for the first', async () => {
  const { connect, calls, notices } = setup('ok');
  const opening = [connect(), connect(), connect()];
  expect(calls.direct).toBe(3);
  await Promise.all(opening);
  await connect();
  expect(calls).toEqual({ direct: 4, tunnel: 0 });
  expect(notices).toEqual([]);
});

test('when direct TCP fails, every connection goes through SSH, with one notice', async () => {
  const { connect, calls, notices } = setup('refused');
  await Promise.all([connect(), connect(), connect()]);
  await connect();
  // The one opened after the decision does not try direct again.
  expect(calls).toEqual({ direct: 3, tunnel: 4 });
  expect(notices).toHaveLength(1);
  expect(notices[0]).toMatch(/direct TCP to fcpd at 10\.0\.0\.2:4000 failed \(connection refused\); carrying the connections through SSH/);
});

test('--tunnel never tries direct', async () => {
  const { connect, calls, notices } = setup('ok', true);
  await Promise.all([connect(), connect()]);
  expect(calls).toEqual({ direct: 0, tunnel: 2 });
  expect(notices).toEqual([]);
});
