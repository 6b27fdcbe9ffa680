/** Where settings files are and reading them: the one part of src/config that touches the disk. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { fsError } from '../transfer/fsError';
import type { FileRead } from './echo';
import { parseTomlDocument, TomlDocument } from './toml';

/** Admins' settings, read by every user (and by fcpd run as root). */
export const SYSTEM_CONFIG_DIR = '/etc/fcp';

/** The user's settings directory: $XDG_CONFIG_HOME/fcp, or ~/.config/fcp. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'fcp');
}

/** A file to read: `required` when the user named it (--config, FCP_CONFIG), so that its absence is an error. */
export interface SettingsFile {
  file: string;
  required: boolean;
}

/**
 * Whether a file that could not be read is there at all: not when it does not exist, nor when a
 * directory above it may not be searched (a program run as another user with this HOME): then
 * it is not this user's file. One that is there but unreadable is an error, not skipped.
 */
function reachable(file: string, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return false;
  if (code !== 'EACCES') return true;
  try {
    fs.statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The files' documents, highest precedence first, and which of them were there. */
export function readSettingsFiles(files: readonly SettingsFile[]): { docs: TomlDocument[]; read: FileRead[] } {
  const docs: TomlDocument[] = [];
  const read = files.map(({ file, required }): FileRead => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (!required && !reachable(file, err)) return { file, found: false };
      // A settings file that cannot be read is a usage error (exit 2), as a bad one is.
      const error = fsError(err, 'read settings file', Buffer.from(file));
      throw new FcpError('FCP_ERR_USAGE', error.message, { hint: error.hint, cause: err });
    }
    docs.push(parseTomlDocument(text, file));
    return { file, found: true };
  });
  return { docs, read };
}
