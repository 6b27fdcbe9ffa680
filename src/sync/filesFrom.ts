/**
 * rsync's --files-from: the list of paths, relative to the one source directory, that a copy sends
 * instead of the whole tree, each placed at the same relative path under the destination (rsync's
 * implied --relative), with the directories above it. Pure: parsing and checking the list, and the
 * tree of listed paths the walk follows (walk.ts). The same checks run on the client that reads the
 * list and on the fcpd that receives it (FILES_FROM, PROTOCOL.md §7.11).
 */
import { FcpError } from '../errors';
import { MAX_FILES_FROM_BYTES, MAX_FILES_FROM_PATHS, MAX_PATH_BYTES, PacketType } from '../protocol/constants';
import type { FilesFromMessage } from '../protocol/messages';
import { showName } from '../showName';
import { ruleLines } from './filter';

const SLASH = 0x2f;
const NUL = 0;
const DOT_PATH = Buffer.from('.');

/** The listed paths below one directory: a node per component, `listed` where a line ended. */
export interface ListedTree {
  /** The path itself was listed: it is sent whole (a directory with its contents only with -r). */
  listed: boolean;
  /** By component bytes (latin1 keys: a lossless spelling of any bytes). */
  children: Map<string, ListedTree>;
}

/**
 * A listed path in the form entry paths take: components joined by `/`, without empty or `.`
 * components, a `..` taking back the one before it (never the source directory itself: that would
 * leave it), leading slashes dropped as rsync drops them. Empty for the source directory itself.
 */
export function listedPath(line: Buffer, code: 'FCP_ERR_USAGE' | 'FCP_ERR_BAD_FIELD' = 'FCP_ERR_USAGE'): Buffer {
  if (line.includes(NUL) || line.length > MAX_PATH_BYTES) {
    throw new FcpError(code, `--files-from path ${showName(line)}: ${line.includes(NUL) ? 'holds a NUL byte' : `longer than ${MAX_PATH_BYTES} bytes`}`);
  }
  const kept: Buffer[] = [];
  for (let start = 0; start <= line.length; ) {
    let end = line.indexOf(SLASH, start);
    if (end < 0) end = line.length;
    const part = line.subarray(start, end);
    const text = part.toString('latin1');
    if (text === '..') {
      if (kept.length === 0) {
        throw new FcpError(code, `--files-from path ${showName(line)} leads out of the source directory`, {
          hint: 'list paths relative to the source directory, below it',
        });
      }
      kept.pop();
    } else if (text !== '' && text !== '.') {
      kept.push(part);
    }
    start = end + 1;
  }
  return Buffer.concat(kept.flatMap((part, i) => (i > 0 ? [Buffer.of(SLASH), part] : [part])));
}

/** The paths of a --files-from file: a path a line (LF or CR LF), blank lines and `#`/`;` comments skipped. */
export function filesFromLines(content: Buffer): Buffer[] {
  return ruleLines(content).map((line) => listedPath(line));
}

/** The tree of the listed paths (each already a listedPath). */
export function listedTree(paths: readonly Buffer[]): ListedTree {
  const root: ListedTree = { listed: false, children: new Map() };
  for (const path of paths) {
    let node = root;
    if (path.length > 0) {
      for (const part of path.toString('latin1').split('/')) {
        let child = node.children.get(part);
        if (!child) node.children.set(part, (child = { listed: false, children: new Map() }));
        node = child;
      }
    }
    node.listed = true;
  }
  return root;
}

/** The list as a client sends it (PROTOCOL.md §7.11): FILES_FROM messages of NUL-separated paths, as few as fit. */
export function filesFromMessages(paths: readonly Buffer[], recursive: boolean): FilesFromMessage[] {
  if (paths.length > MAX_FILES_FROM_PATHS) {
    throw new FcpError('FCP_ERR_USAGE', `--files-from lists ${paths.length} paths: fcp takes at most ${MAX_FILES_FROM_PATHS} in one copy`, { hint: 'split the list over several copies' });
  }
  const messages: FilesFromMessage[] = [];
  let batch: Buffer[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    messages.push({ type: PacketType.FILES_FROM, recursive: recursive ? 1 : 0, paths: Buffer.concat(batch.flatMap((path, i) => (i > 0 ? [Buffer.of(NUL), path] : [path]))) });
    batch = [];
    bytes = 0;
  };
  for (const path of paths) {
    // The source directory itself is listed as `.`: an empty path would not survive the NUL separators.
    const text = path.length === 0 ? DOT_PATH : path;
    if (bytes + text.length + 1 > MAX_FILES_FROM_BYTES) flush();
    batch.push(text);
    bytes += text.length + 1;
  }
  flush();
  return messages;
}

/** The paths of a peer's FILES_FROM, each checked as the client checks its list; a bad one is FCP_ERR_BAD_FIELD. */
export function pathsOfMessage(message: FilesFromMessage): Buffer[] {
  const paths: Buffer[] = [];
  for (let start = 0; start <= message.paths.length; ) {
    let end = message.paths.indexOf(NUL, start);
    if (end < 0) end = message.paths.length;
    // A copy: the path would otherwise hold the whole received frame.
    paths.push(listedPath(Buffer.from(message.paths.subarray(start, end)), 'FCP_ERR_BAD_FIELD'));
    start = end + 1;
  }
  return paths;
}
