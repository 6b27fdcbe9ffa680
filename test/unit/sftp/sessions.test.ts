/**
 * An SFTP channel's receive window, which ssh2 keeps at 2 MiB, is widened to RECEIVE_WINDOW_BYTES
 * and topped up whenever half of it is used, through ssh2's own window adjust; the channel's
 * packets still reach its parser, and the end of the channel adjusts nothing.
 */
import type { SFTPWrapper } from 'ssh2';
import { RECEIVE_WINDOW_BYTES, widenReceiveWindow } from '../../../src/sftp/sessions';
import type { SshConnection } from '../../../src/ssh/sshClient';

const MIB = 1024 * 1024;

/** ssh2's shapes: the channel (window, ids, push) and the protocol's window adjust. */
function channel(): { sftp: SFTPWrapper; ssh: SshConnection; adjusts: [number, number][]; parsed: (Buffer | null)[]; receive(bytes: number): void } {
  const adjusts: [number, number][] = [];
  const parsed: (Buffer | null)[] = [];
  const sftp = { incoming: { window: 2 * MIB }, outgoing: { id: 7 }, push: (data: Buffer | null) => parsed.push(data) && undefined };
  const ssh = { client: { _protocol: { channelWindowAdjust: (id: number, amount: number) => adjusts.push([id, amount]) } } };
  // As ssh2's CHANNEL_DATA handler: the window shrinks by what came, then the channel parses it.
  const receive = (bytes: number) => {
    sftp.incoming.window -= bytes;
    sftp.push(Buffer.alloc(bytes));
  };
  return { sftp: sftp as unknown as SFTPWrapper, ssh: ssh as unknown as SshConnection, adjusts, parsed, receive };
}

const windowOf = (sftp: SFTPWrapper) => (sftp as unknown as { incoming: { window: number } }).incoming.window;

describe('widenReceiveWindow', () => {
  test('widens the window at once, then tops it up only once half of it is used', () => {
    const { sftp, ssh, adjusts, parsed, receive } = channel();
    widenReceiveWindow(ssh, sftp);
    expect(adjusts).toEqual([[7, RECEIVE_WINDOW_BYTES - 2 * MIB]]);
    expect(windowOf(sftp)).toBe(RECEIVE_WINDOW_BYTES);
    receive(RECEIVE_WINDOW_BYTES / 2 - 1);
    expect(adjusts).toHaveLength(1);
    receive(1);
    expect(adjusts[1]).toEqual([7, RECEIVE_WINDOW_BYTES / 2]);
    expect(windowOf(sftp)).toBe(RECEIVE_WINDOW_BYTES);
    expect(parsed.map((data) => data?.length)).toEqual([RECEIVE_WINDOW_BYTES / 2 - 1, 1]);
  });

  test("the channel's end is passed on and adjusts nothing", () => {
    const { sftp, ssh, adjusts, parsed } = channel();
    widenReceiveWindow(ssh, sftp);
    (sftp as unknown as { incoming: { window: number } }).incoming.window = 0;
    (sftp as unknown as { push(data: null): void }).push(null);
    expect(parsed).toEqual([null]);
    expect(adjusts).toHaveLength(1);
  });

  test('an ssh2 without these fields is left as it is', () => {
    const adjusts: number[] = [];
    const sftp = { push: () => undefined } as unknown as SFTPWrapper;
    widenReceiveWindow({ client: { _protocol: { channelWindowAdjust: () => adjusts.push(1) } } } as unknown as SshConnection, sftp);
    expect(adjusts).toEqual([]);
  });
});
