/**
 * Daemon access tokens (PROTOCOL.md §5.4): a user's random token, and the login key derived from
 * it, which the handshake's MACs prove and which fcpd's users file holds instead of the token.
 * Pure functions over node:crypto.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { SECRET_SIZE } from './keys';

/** A token's text: this prefix, then its 32 random bytes in base64url (43 characters). */
export const TOKEN_PREFIX = 'fcpt1_';
/** A login key's text in the users file: this prefix, then its 32 bytes in base64url. */
export const LOGIN_KEY_PREFIX = 'fcpk1_';
const BASE64URL_32 = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(SECRET_SIZE).toString('base64url');
}

/** The bytes of `text` after `prefix`, or undefined when it is not prefix + 32 bytes in base64url. */
function prefixed(text: string, prefix: string): Buffer | undefined {
  if (!text.startsWith(prefix)) return undefined;
  const body = text.slice(prefix.length);
  return BASE64URL_32.test(body) ? Buffer.from(body, 'base64url') : undefined;
}

export const parseToken = (text: string): Buffer | undefined => prefixed(text, TOKEN_PREFIX);
export const parseLoginKey = (text: string): Buffer | undefined => prefixed(text, LOGIN_KEY_PREFIX);

/**
 * The login key of a token: HKDF-SHA256, one way, so that fcpd's users file does not hold the
 * token. A token has 256 random bits, so no slow KDF is needed against guessing.
 */
export function loginKeyOf(token: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', token, Buffer.from('fcp1 login salt'), Buffer.from('fcp1 login key'), SECRET_SIZE));
}

export function showLoginKey(key: Buffer): string {
  return LOGIN_KEY_PREFIX + key.toString('base64url');
}
