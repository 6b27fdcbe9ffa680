/**
 * User and group names of this machine, from /etc/passwd and /etc/group (Node has no getpwnam):
 * the sender names the owners of what it sends, a receiver running as root maps those names back
 * to its own ids, as rsync does. Entries from other sources (LDAP, NIS) are not seen: their ids
 * are kept as numbers.
 */
import * as fs from 'node:fs';

export const PASSWD_FILE = '/etc/passwd';
export const GROUP_FILE = '/etc/group';

/** One database: names by id (the first line of an id wins) and ids by name. */
export interface AccountMap {
  nameOf(id: number): Buffer;
  idOf(name: Buffer): number | undefined;
}

/**
 * Parses passwd or group lines (`name:password:id:...`); a line that is a comment, or whose id is
 * not a whole number, is skipped. Names are bytes: latin1 keys keep any byte.
 */
export function parseAccounts(text: Buffer): AccountMap {
  const names = new Map<number, Buffer>();
  const ids = new Map<string, number>();
  for (const line of text.toString('latin1').split('\n')) {
    const [name, , id] = line.split(':');
    if (!name || name.startsWith('#') || id === undefined || !/^\d+$/.test(id)) continue;
    const value = Number(id);
    if (!names.has(value)) names.set(value, Buffer.from(name, 'latin1'));
    if (!ids.has(name)) ids.set(name, value);
  }
  return {
    nameOf: (id) => names.get(id) ?? Buffer.alloc(0),
    idOf: (name) => ids.get(name.toString('latin1')),
  };
}

/** This machine's users and groups; a file that cannot be read is an empty database. */
export function loadAccounts(files = { passwd: PASSWD_FILE, group: GROUP_FILE }): { users: AccountMap; groups: AccountMap } {
  const read = (file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch {
      return Buffer.alloc(0);
    }
  };
  return { users: parseAccounts(read(files.passwd)), groups: parseAccounts(read(files.group)) };
}

/** Ids as both sides name them. */
export interface Ownership { uid: number; gid: number; user: Buffer; group: Buffer }

/**
 * The local ids for a sender's ownership, as rsync maps them: by name when this machine knows the
 * name, else the sender's number; with numericIds, and always for id 0, the number.
 */
export function localIds(owner: Ownership, accounts: { users: AccountMap; groups: AccountMap }, numericIds: boolean): { uid: number; gid: number } {
  const map = (id: number, name: Buffer, names: AccountMap): number => (numericIds || id === 0 || name.length === 0 ? id : (names.idOf(name) ?? id));
  return { uid: map(owner.uid, owner.user, accounts.users), gid: map(owner.gid, owner.group, accounts.groups) };
}
