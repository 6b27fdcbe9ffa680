/**
 * Where the receiver puts each entry (PROTOCOL.md §7.2): under the destination when it is an
 * existing directory, else the one source becomes the destination. Entry paths were checked at
 * parse time (relative, no '..'); here a file may only go into the destination root or into a
 * directory this session announced, so no entry is ever written through a symlink.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { FcpError } from '../errors';
import { ModeFlag } from '../protocol/constants';
import { fsError } from './fsError';
import { showName } from '../showName';

const SLASH = 0x2f;

export interface Destination {
  /** The local path of an entry; throws FCP_ERR_BAD_PATH when its parent is not a known directory. */
  localPath(entryPath: Buffer): Buffer;
  /** Records a directory entry as created by this session. */
  addDirectory(entryPath: Buffer): void;
}

function parentOf(entryPath: Buffer): Buffer | undefined {
  const slash = entryPath.lastIndexOf(SLASH);
  return slash < 0 ? undefined : entryPath.subarray(0, slash);
}

/**
 * Resolves the destination of a transfer before any entry arrives. `flags` are MODE flags;
 * DEST_IS_DIR (several sources) requires an existing directory.
 */
export function resolveDestination(dest: Buffer, flags: number): Destination {
  let isDir = false;
  try {
    isDir = fs.statSync(dest).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, 'access destination', dest);
  }
  if (!isDir) {
    if (dest[dest.length - 1] === SLASH) {
      throw new FcpError('FCP_ERR_NOT_DIRECTORY', `destination ${showName(dest)} is not an existing directory`, {
        hint: 'create the directory first, or leave out the trailing / to copy to that name',
      });
    }
    if (flags & ModeFlag.DEST_IS_DIR) {
      throw new FcpError('FCP_ERR_NOT_DIRECTORY', `destination ${showName(dest)} is not a directory`, {
        hint: 'with several sources the destination must be an existing directory',
      });
    }
    const parent = Buffer.from(nodePath.dirname(dest.toString('latin1')), 'latin1');
    let parentIsDir = false;
    try {
      parentIsDir = fs.statSync(parent).isDirectory();
    } catch (err) {
      throw fsError(err, 'access the directory of destination', parent);
    }
    if (!parentIsDir) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(parent)} is not a directory`);
  }
  // A directory given as "dir/" (or "/") joins its entries without doubling the slash.
  let dirEnd = dest.length;
  while (isDir && dirEnd > 0 && dest[dirEnd - 1] === SLASH) dirEnd--;
  const dirPrefix = Buffer.concat([dest.subarray(0, dirEnd), Buffer.from('/')]);
  // Keys are latin1 strings: a lossless spelling of arbitrary bytes.
  const directories = new Set<string>();
  // Entries come directory by directory: the last parent found is most often the next one's too.
  let knownParent: Buffer | undefined;
  let topName: Buffer | undefined;
  return {
    localPath(entryPath: Buffer): Buffer {
      const parent = parentOf(entryPath);
      if (parent && !knownParent?.equals(parent)) {
        if (!directories.has(parent.toString('latin1'))) {
          throw new FcpError(
            'FCP_ERR_BAD_PATH',
            `peer sent ${showName(entryPath)} before its directory ${showName(parent)}`,
            { hint: 'entries must follow the DIR_INFO of their directory' },
          );
        }
        // A copy: entry paths are views into received frames, whose memory may be reused.
        knownParent = Buffer.from(parent);
      }
      if (isDir) return Buffer.concat([dirPrefix, entryPath], dirPrefix.length + entryPath.length);
      // The one source becomes dest: replace the entry's first component with dest.
      const firstSlash = entryPath.indexOf(SLASH);
      const name = firstSlash < 0 ? entryPath : entryPath.subarray(0, firstSlash);
      topName ??= Buffer.from(name);
      if (!name.equals(topName)) {
        throw new FcpError('FCP_ERR_BAD_PATH', `peer sent a second source ${showName(name)} for the single destination ${showName(dest)}`);
      }
      return firstSlash < 0 ? dest : Buffer.concat([dest, entryPath.subarray(firstSlash)]);
    },
    addDirectory(entryPath: Buffer): void {
      directories.add(entryPath.toString('latin1'));
    },
  };
}
