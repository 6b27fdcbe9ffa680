/** /etc/passwd and /etc/group parsing, and rsync's mapping of a sender's owners to local ids (src/transfer/accounts.ts). */
import { localIds, parseAccounts } from '../../../src/transfer/accounts';

const PASSWD = Buffer.from(
  [
    'root:x:0:0:root:/root:/bin/bash',
    '# a comment:x:5:5',
    'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
    'alias:x:1000:1000::/:/bin/false',
    'broken:x:notanumber:1',
    'caf\xe9:x:1001:100::/:/bin/sh',
    '',
  ].join('\n'),
  'latin1',
);
const GROUP = Buffer.from('root:x:0:\nstaff:x:50:alice\nusers:x:100:\n');

test('names by id (the first line of an id wins) and ids by name, as bytes', () => {
  const users = parseAccounts(PASSWD);
  expect(users.nameOf(1000).toString()).toBe('alice');
  expect(users.idOf(Buffer.from('alias'))).toBe(1000);
  expect(users.idOf(Buffer.from('caf\xe9', 'latin1'))).toBe(1001);
  expect(users.nameOf(1001)).toEqual(Buffer.from('caf\xe9', 'latin1'));
  expect(users.idOf(Buffer.from('broken'))).toBeUndefined();
  expect(users.idOf(Buffer.from('# a comment'))).toBeUndefined();
  expect(users.nameOf(4242)).toEqual(Buffer.alloc(0));
});

describe('localIds maps as rsync does', () => {
  const accounts = { users: parseAccounts(PASSWD), groups: parseAccounts(GROUP) };
  const owner = (uid: number, gid: number, user: string, group: string) => ({ uid, gid, user: Buffer.from(user), group: Buffer.from(group) });

  test('by name when this machine knows it', () => {
    expect(localIds(owner(501, 20, 'alice', 'staff'), accounts, false)).toEqual({ uid: 1000, gid: 50 });
  });
  test('by number when the name is unknown here, or the sender had none', () => {
    expect(localIds(owner(501, 20, 'mallory', ''), accounts, false)).toEqual({ uid: 501, gid: 20 });
  });
  test('by number with --numeric-ids', () => {
    expect(localIds(owner(501, 20, 'alice', 'staff'), accounts, true)).toEqual({ uid: 501, gid: 20 });
  });
  test('id 0 is never mapped by name', () => {
    expect(localIds(owner(0, 0, 'alice', 'staff'), accounts, false)).toEqual({ uid: 0, gid: 0 });
  });
});
