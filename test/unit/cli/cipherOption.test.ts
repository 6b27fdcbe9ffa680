/** scp's -c: fcp's names, OpenSSH's names for the same families, comma lists, and refusals. */
import { cipherOption } from '../../../src/cli/cipherOption';

test.each([
  ['aes256-gcm', 'aes256-gcm'],
  ['chacha20-poly1305', 'chacha20-poly1305'],
  ['none', 'none'],
  ['aes128-ctr', 'aes256-gcm'],
  ['AES256-GCM@openssh.com', 'aes256-gcm'],
  ['chacha20-poly1305@openssh.com', 'chacha20-poly1305'],
  ['3des-cbc, aes128-gcm@openssh.com', 'aes256-gcm'],
])('-c %s is %s', (value, cipher) => {
  expect(cipherOption(value)).toBe(cipher);
});

test('a list with no cipher fcp has is refused, naming the choices', () => {
  expect(() => cipherOption('3des-cbc,blowfish-cbc')).toThrow(/no cipher fcp has among "3des-cbc,blowfish-cbc": use aes256-gcm/);
});
