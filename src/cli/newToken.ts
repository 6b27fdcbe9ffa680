/** fcp --new-token: a fresh daemon access token, and the lines that put it to use on each side. */
import * as os from 'node:os';
import { clientSecretsFile } from '../config/secretFiles';
import { loginKeyOf, newToken, parseToken, showLoginKey } from '../protocol/tokens';

export function newTokenText(env: NodeJS.ProcessEnv = process.env): string {
  const token = newToken();
  const user = os.userInfo().username;
  const loginKey = showLoginKey(loginKeyOf(parseToken(token)!));
  return [
    `# A new token for daemon access (fcp://). This line goes into ${clientSecretsFile(env)}`,
    '# (mode 0600), with the daemon\'s host (HOST or HOST:PORT) and the user name it knows you by:',
    `HOST ${user} ${token}`,
    "# This line goes into the daemon's users file (users_file in fcpd.toml, mode 0600), with the",
    '# modules of fcpd.toml the user may use; it holds the login key, not the token:',
    `${user} ${loginKey} MODULE[,MODULE...]`,
    '',
  ].join('\n');
}
