/**
 * The two secrets files of daemon access (README "Daemon access (fcp://)"): the client's
 * `secrets` (a token per host) and fcpd's users file (a login key and the modules per user). Both
 * hold what lets someone log in, so, as ssh does for private keys, a file that anyone but its
 * owner may read, or that belongs to someone else, is refused rather than used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { parseLoginKey, parseToken } from '../protocol/tokens';
import { fsError } from '../transfer/fsError';
import { userConfigDir } from './files';

/** A user name of the users file and of LOGIN: what a login name may hold, at most 64 bytes. */
const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;
const MODULE_NAME = /^[^\s,/]+$/;

export function secretsError(file: string, message: string, hint?: string): FcpError {
  return new FcpError('FCP_ERR_SECRETS', `${file}: ${message}`, { hint });
}

/** The client's secrets file: $XDG_CONFIG_HOME/fcp/secrets, or ~/.config/fcp/secrets. */
export function clientSecretsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userConfigDir(env), 'secrets');
}

/** The lines of `file` that say something (no blank lines, no # comments), with their numbers. */
function readPrivateFile(file: string): { line: number; fields: string[] }[] {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const error = fsError(err, 'read secrets file', Buffer.from(file));
    throw new FcpError('FCP_ERR_SECRETS', error.message, { hint: error.hint, cause: err });
  }
  try {
    const stat = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if (!stat.isFile()) throw secretsError(file, 'is not a regular file');
    if (uid !== undefined && stat.uid !== uid) {
      throw secretsError(file, `belongs to user id ${stat.uid}, not to you (${uid})`, 'a secrets file must be your own');
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw secretsError(file, `mode ${mode} lets others read it; it holds secrets and is ignored`, `chmod 600 ${file}`);
    }
    return fs
      .readFileSync(fd, 'utf8')
      .split('\n')
      .map((text, index) => ({ line: index + 1, fields: text.trim().split(/\s+/) }))
      .filter(({ fields }) => fields[0] !== '' && !fields[0]!.startsWith('#'));
  } finally {
    fs.closeSync(fd);
  }
}

export interface ClientSecret {
  user: string;
  token: Buffer;
}

/**
 * The token for `host` (port `port`) from the client's secrets file: lines `HOST[:PORT] USER
 * TOKEN`, the first that matches wins; with `user` given (fcp://user@host), only that user's.
 */
export function clientSecretFor(file: string, host: string, port: number, user?: string): ClientSecret {
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const { line, fields } of readPrivateFile(file)) {
    const [where, who, tokenText] = fields;
    const token = tokenText === undefined ? undefined : parseToken(tokenText);
    if (fields.length !== 3 || !USER_NAME.test(who!) || !token) {
      throw secretsError(file, `line ${line}: expected HOST[:PORT] USER TOKEN (a token as fcp --new-token prints it)`);
    }
    if ((where === host || where === hostPort) && (user === undefined || user === who)) return { user: who!, token };
  }
  throw secretsError(file, `no token for ${user === undefined ? '' : `${user}@`}${hostPort}`, `add a line "${host} ${user ?? 'USER'} TOKEN" (fcp --new-token makes a token)`);
}

export interface DaemonUser {
  key: Buffer;
  modules: readonly string[];
}

/** fcpd's users file: lines `USER LOGIN_KEY MODULE[,MODULE...]`; each module must be one of fcpd.toml's. */
export function readUsersFile(file: string, knownModules: readonly string[]): Map<string, DaemonUser> {
  const users = new Map<string, DaemonUser>();
  for (const { line, fields } of readPrivateFile(file)) {
    const [user, keyText, moduleList] = fields;
    const key = keyText === undefined ? undefined : parseLoginKey(keyText);
    const modules = moduleList?.split(',') ?? [];
    if (fields.length !== 3 || !USER_NAME.test(user!) || !key || !modules.every((name) => MODULE_NAME.test(name))) {
      throw secretsError(file, `line ${line}: expected USER LOGIN_KEY MODULE[,MODULE...] (the line fcp --new-token prints)`);
    }
    if (users.has(user!)) throw secretsError(file, `line ${line}: user ${user} has a line already`);
    const unknown = modules.find((name) => !knownModules.includes(name));
    if (unknown !== undefined) {
      throw secretsError(file, `line ${line}: module ${unknown} is not in fcpd.toml (its modules: ${knownModules.join(', ') || 'none'})`, 'add it as [modules.NAME] with a path');
    }
    users.set(user!, { key, modules });
  }
  return users;
}
