/**
 * The receiver's half of --follow's APPEND (PROTOCOL.md §7.10): bytes a followed file grew by go
 * at the end of the file in place under its final name (users watch it grow, as `tail -f` of the
 * copy), once they hash as the sender said, and only when the file is as long as the receiver
 * left it: a file changed at the destination meanwhile is not written into blindly.
 */
import * as fs from 'node:fs';
import { FcpError } from '../errors';
import { chunkHash, XXHashAPI } from '../protocol/xxhash';
import { showName } from '../showName';
import { seconds } from './fileWriter';
import { closeQuietly, fsError } from './fsError';

export interface Growth {
  offset: number;
  mtimeNs: bigint;
  hash: bigint;
  data: Buffer;
}

/** Appends `growth` to the file at `local`, then sets its mtime; throws FCP_ERR_VERIFY, FCP_ERR_IO or the file system's error. */
export function appendVerified(xxh: XXHashAPI, local: Buffer, growth: Growth): void {
  const { offset, mtimeNs, hash, data } = growth;
  const actual = chunkHash(xxh, [data]);
  if (actual !== hash) {
    throw new FcpError('FCP_ERR_VERIFY', `${showName(local)}: the ${data.length} bytes appended at offset ${offset} do not hash as the sender said`);
  }
  let fd: number | undefined;
  try {
    // O_NOFOLLOW: the file this session put in place, never where a symlink planted since leads.
    fd = fs.openSync(local, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    const { size } = fs.fstatSync(fd);
    if (size !== offset) {
      throw new FcpError('FCP_ERR_IO', `${showName(local)} is ${size} bytes, not the ${offset} this session left: it was changed at the destination while followed`, {
        hint: 'leave the destination of fcp --follow alone while it runs; run again to send the file whole',
      });
    }
    for (let written = 0; written < data.length; ) written += fs.writeSync(fd, data, written, data.length - written, offset + written);
    fs.futimesSync(fd, seconds(BigInt(Date.now()) * 1_000_000n), seconds(mtimeNs));
  } catch (err) {
    throw fsError(err, 'append to', local);
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
