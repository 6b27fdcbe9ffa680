/** FramedConnection over an in-memory stream: failures that happen before anyone listens. */
import { Duplex } from 'node:stream';
import type { FcpError } from '../../../src/errors';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { FramedConnection } from '../../../src/wire/framedConnection';

function idleStream(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
}

test('a connection reset before start() does not throw; start() then reports it as lost', async () => {
  const stream = idleStream();
  const conn = new FramedConnection(stream, await loadXxhash(), 'data connection 2 to test', 60_000);
  // Without a listener this 'error' would be thrown by the stream and end the process.
  stream.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  await new Promise((resolve) => setImmediate(resolve));
  const closed = await new Promise<FcpError | undefined>((resolve) => conn.start({ message: () => undefined, closed: resolve }));
  expect(closed?.code).toBe('FCP_ERR_CONNECTION_LOST');
  expect(closed?.message).toMatch(/data connection 2 to test closed unexpectedly: read ECONNRESET/);
});

test('a connection the owner closed before start() reports a clean close', async () => {
  const conn = new FramedConnection(idleStream(), await loadXxhash(), 'data connection 1 to test', 60_000);
  conn.close();
  const closed = await new Promise<FcpError | undefined>((resolve) => conn.start({ message: () => undefined, closed: resolve }));
  expect(closed).toBeUndefined();
});
