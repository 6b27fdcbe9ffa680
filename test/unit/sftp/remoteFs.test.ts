/**
 * A chunk's SFTP requests go out together under one deadline: reads come back whole even when the
 * server answers short, count only up to where the file ends, and a failed or unanswered request
 * fails the chunk with the operation, the path and the host named.
 */
import type { SFTPWrapper } from 'ssh2';
import { RemoteFs } from '../../../src/sftp/remoteFs';

type ReadCallback = (err: Error | undefined, bytesRead: number) => void;
type WriteCallback = (err: Error | undefined) => void;

/** A server holding `file` that answers each read with at most `most` bytes. */
function server(file: Buffer, most = Infinity, failAt?: number): { sftp: SFTPWrapper; requests: number[] } {
  const requests: number[] = [];
  const sftp = {
    read(_handle: Buffer, buffer: Buffer, offset: number, length: number, position: number, callback: ReadCallback) {
      requests.push(position);
      const got = Math.max(0, Math.min(length, most, file.length - position));
      if (got > 0) file.copy(buffer, offset, position, position + got);
      setImmediate(() => callback(position === failAt ? Object.assign(new Error('Permission denied'), { code: 3 }) : undefined, got));
    },
    write(_handle: Buffer, buffer: Buffer, offset: number, length: number, position: number, callback: WriteCallback) {
      requests.push(position);
      buffer.copy(file, position, offset, offset + length);
      if (position !== failAt) setImmediate(() => callback(undefined));
    },
  };
  return { sftp: sftp as unknown as SFTPWrapper, requests };
}

const handle = Buffer.from('h');
const bytes = (length: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 7) % 251));

describe('RemoteFs.readAt', () => {
  it('sends every 64 KiB request at once and fills the buffer', async () => {
    const file = bytes(300_000);
    const { sftp, requests } = server(file);
    const buffer = Buffer.alloc(200_000);
    await expect(new RemoteFs(sftp, 'host').readAt(handle, buffer, 50_000, 'f')).resolves.toBe(200_000);
    expect(requests.slice(0, 4)).toEqual([50_000, 115_536, 181_072, 246_608]);
    expect(buffer.equals(file.subarray(50_000, 250_000))).toBe(true);
  });

  it('reads on where a short answer stopped', async () => {
    const file = bytes(150_000);
    const buffer = Buffer.alloc(150_000);
    await expect(new RemoteFs(server(file, 1000).sftp, 'host').readAt(handle, buffer, 0, 'f')).resolves.toBe(150_000);
    expect(buffer.equals(file)).toBe(true);
  });

  it('counts the bytes up to the end of the file only', async () => {
    const buffer = Buffer.alloc(200_000);
    await expect(new RemoteFs(server(bytes(70_000)).sftp, 'host').readAt(handle, buffer, 0, 'f')).resolves.toBe(70_000);
  });

  it("fails with the server's status as fcp's code, naming the path and the host", async () => {
    const failing = new RemoteFs(server(bytes(200_000), Infinity, 65_536).sftp, 'user@host');
    await expect(failing.readAt(handle, Buffer.alloc(200_000), 0, 'dir/f')).rejects.toMatchObject({ code: 'FCP_ERR_PERMISSION', message: expect.stringMatching(/read dir\/f on user@host/) });
  });
});

describe('RemoteFs.writeAt', () => {
  it('writes every piece at its offset', async () => {
    const file = Buffer.alloc(300_000);
    const data = bytes(200_000);
    await new RemoteFs(server(file).sftp, 'host').writeAt(handle, data, 100_000, 'f');
    expect(file.subarray(100_000).equals(data)).toBe(true);
  });

  it('times out when a request is never answered', async () => {
    const silent = new RemoteFs(server(Buffer.alloc(200_000), Infinity, 65_536).sftp, 'host', 50);
    await expect(silent.writeAt(handle, bytes(200_000), 0, 'f')).rejects.toMatchObject({ code: 'FCP_ERR_TIMEOUT' });
  });

  it('is the end of the session when the channel is gone', async () => {
    const gone = { write: () => { throw new Error('No SFTP channel'); } } as unknown as SFTPWrapper;
    await expect(new RemoteFs(gone, 'host').writeAt(handle, bytes(10), 0, 'f')).rejects.toMatchObject({ code: 'FCP_ERR_CONNECTION_LOST' });
  });
});
