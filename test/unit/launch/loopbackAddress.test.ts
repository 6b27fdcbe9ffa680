/** Which dialled addresses put fcpd on this machine (launcher.ts): a tuned session starts with fewer connections there. */
import { isLoopbackAddress } from '../../../src/launch/launcher';

test('127.0.0.0/8, ::1 and 127.x mapped into IPv6 are loopback; other addresses and host names are not', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.5']) expect([address, isLoopbackAddress(address)]).toEqual([address, true]);
  for (const address of ['10.77.0.2', '192.168.1.127', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', 'localhost', '1127.0.0.1']) expect([address, isLoopbackAddress(address)]).toEqual([address, false]);
});
