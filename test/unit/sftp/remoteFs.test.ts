/**
 * A chunk's SFTP requests go out together under one deadline: reads come back whole even when the
 * server answers short, count only up to where the file ends, and a failed or unanswered request
 * fails the chunk with the operation, the path and the host named.
 */
import type { SFTPWrapper } from 'ssh2';
import fc from 'fast-check';
import { RemoteFs, requestBytes } from '../../../src/sftp/remoteFs';

type ReadCallback = (err: Error | undefined, bytesRead: number) => void;
type WriteCallback = (err: Error | undefined) => void;

/**
 * A server holding `file` that answers each read with at most `most` bytes; `limits`: what ssh2
 * learnt a request may carry (limits@openssh.com), when it did.
 */
function server(file: Buffer, most = Infinity, failAt?: number, limits?: { _maxReadLen: number; _maxWriteLen: number }): { sftp: SFTPWrapper; requests: number[] } {
  const requests: number[] = [];
  const sftp = {
    ...limits,
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

describe('requestBytes', () => {
  it("cuts a megabyte chunk into as few page-aligned requests as OpenSSH's limit allows", () => {
    expect(requestBytes(1024 * 1024, 261_120)).toBe(212_992);
    expect(requestBytes(1024 * 1024, 64 * 1024)).toBe(64 * 1024);
    expect(requestBytes(5000, 261_120)).toBe(8192);
  });

  it('never exceeds the limit, and covers the bytes in the fewest requests it allows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * 1024 * 1024 }), fc.integer({ min: 1, max: 300_000 }), (total, limit) => {
        const size = requestBytes(total, limit);
        expect(size).toBeGreaterThan(0);
        expect(size).toBeLessThanOrEqual(limit);
        const aligned = limit >= 4096 ? limit - (limit % 4096) : limit;
        expect(Math.ceil(total / size)).toBe(Math.ceil(total / aligned));
      }),
    );
  });
});

describe('RemoteFs.readAt', () => {
  it("sends requests as large as the server takes, all at once", async () => {
    const file = bytes(1_100_000);
    const { sftp, requests } = server(file, Infinity, undefined, { _maxReadLen: 261_120, _maxWriteLen: 261_120 });
    const buffer = Buffer.alloc(1024 * 1024);
    await expect(new RemoteFs(sftp, 'host').readAt(handle, buffer, 10, 'f')).resolves.toBe(1024 * 1024);
    expect(requests).toEqual([0, 1, 2, 3, 4].map((piece) => 10 + piece * 212_992));
    expect(buffer.equals(file.subarray(10, 10 + 1024 * 1024))).toBe(true);
  });


  it("sends requests of at most 64 KiB, all at once, when ssh2 has no server's limits", async () => {
    const file = bytes(300_000);
    const { sftp, requests } = server(file);
    const buffer = Buffer.alloc(200_000);
    await expect(new RemoteFs(sftp, 'host').readAt(handle, buffer, 50_000, 'f')).resolves.toBe(200_000);
    expect(requests.slice(0, 4)).toEqual([50_000, 103_248, 156_496, 209_744]);
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
    const failing = new RemoteFs(server(bytes(200_000), Infinity, 53_248).sftp, 'user@host');
    await expect(failing.readAt(handle, Buffer.alloc(200_000), 0, 'dir/f')).rejects.toMatchObject({ code: 'FCP_ERR_PERMISSION', message: expect.stringMatching(/read dir\/f on user@host/) });
  });
});

describe('RemoteFs.writeAt', () => {
  it('writes in requests as large as the server takes', async () => {
    const file = Buffer.alloc(600_000);
    const data = bytes(500_000);
    const { sftp, requests } = server(file, Infinity, undefined, { _maxReadLen: 261_120, _maxWriteLen: 131_072 });
    await new RemoteFs(sftp, 'host').writeAt(handle, data, 100, 'f');
    expect(requests).toEqual([100, 100 + 126_976, 100 + 2 * 126_976, 100 + 3 * 126_976]);
    expect(file.subarray(100, 500_100).equals(data)).toBe(true);
  });

  it('writes every piece at its offset', async () => {
    const file = Buffer.alloc(300_000);
    const data = bytes(200_000);
    await new RemoteFs(server(file).sftp, 'host').writeAt(handle, data, 100_000, 'f');
    expect(file.subarray(100_000).equals(data)).toBe(true);
  });

  it('times out when a request is never answered', async () => {
    const silent = new RemoteFs(server(Buffer.alloc(200_000), Infinity, 53_248).sftp, 'host', 50);
    await expect(silent.writeAt(handle, bytes(200_000), 0, 'f')).rejects.toMatchObject({ code: 'FCP_ERR_TIMEOUT' });
  });

  it('is the end of the session when the channel is gone', async () => {
    const gone = { write: () => { throw new Error('No SFTP channel'); } } as unknown as SFTPWrapper;
    await expect(new RemoteFs(gone, 'host').writeAt(handle, bytes(10), 0, 'f')).rejects.toMatchObject({ code: 'FCP_ERR_CONNECTION_LOST' });
  });
});
