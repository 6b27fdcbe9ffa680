/**
 * scp's -c: a cipher name, or a comma-separated list of them as ssh takes, of which fcp uses the
 * first it has. fcp seals its own data connections (the SSH session only starts fcpd), so OpenSSH's
 * cipher names stand for the fcp cipher of the same family: every AES one for AES-256-GCM.
 */
import { InvalidArgumentError } from 'commander';
import type { CipherName } from '../client/copy';

/** fcp's own names, then OpenSSH's, for what `-c` selects; 'none' turns encryption off. */
const CIPHER_ALIASES: Record<string, CipherName | 'none'> = {
  'aes256-gcm': 'aes256-gcm',
  'chacha20-poly1305': 'chacha20-poly1305',
  none: 'none',
  'aes128-gcm@openssh.com': 'aes256-gcm',
  'aes256-gcm@openssh.com': 'aes256-gcm',
  'aes128-ctr': 'aes256-gcm',
  'aes192-ctr': 'aes256-gcm',
  'aes256-ctr': 'aes256-gcm',
  'chacha20-poly1305@openssh.com': 'chacha20-poly1305',
};

/** The names --help lists. */
export const CIPHER_CHOICES = 'aes256-gcm (default), chacha20-poly1305, none; OpenSSH names of AES or ChaCha20 ciphers map to these';

export function cipherOption(value: string): CipherName | 'none' {
  for (const name of value.split(',')) {
    const cipher = CIPHER_ALIASES[name.trim().toLowerCase()];
    if (cipher) return cipher;
  }
  throw new InvalidArgumentError(`no cipher fcp has among "${value}": use ${CIPHER_CHOICES}`);
}
