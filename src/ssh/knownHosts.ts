/**
 * OpenSSH known_hosts files: parsing, host key lookup and the StrictHostKeyChecking policy.
 *
 * ssh2 reads no known_hosts file and its `hostVerifier` accepts whatever it is not told to
 * refuse, so fcp checks host keys here, the way ssh(1) does (format in sshd(8), "SSH_KNOWN_HOSTS
 * FILE FORMAT"; behaviour from OpenSSH's hostfile.c, match.c and sshconnect.c). Everything is pure
 * except loadKnownHosts, appendKnownHost and verifyHostKey, which read and append files.
 *
 * Decisions where the manual leaves room, each following OpenSSH's code unless said otherwise:
 * - @revoked applies to the hosts its patterns match. sshd(8) says the key "is revoked and must
 *   not ever be accepted", and ssh(1) reads only the lines whose patterns match the host before
 *   it checks revocation (load_hostkeys, then check_key_not_revoked), so `@revoked * keytype key`
 *   is how a key is revoked for every host. A revoked key is refused under every policy (ssh(1)
 *   connects anyway, crippled, when StrictHostKeyChecking=no; fcp never does).
 * - A host with known keys, none equal to the offered one, has a changed key, even when all the
 *   known keys are of other types: hostfile.c returns HOST_CHANGED for "a key with a different
 *   type" (ssh(1) avoids the case by preferring the algorithms of known key types; callers do the
 *   same with orderHostKeyAlgorithms). Treating it as unknown would let a man in the middle get
 *   its key accepted by offering a new key type under accept-new.
 * - A changed key is refused under every policy: ssh(1) with StrictHostKeyChecking=no connects
 *   with password authentication and forwarding disabled, but fcp's copy would still go to the
 *   impostor, so it refuses.
 * - An unknown key for a non-22 port is accepted when it is known for the plain host name (port
 *   22), as ssh(1) does ("checking without port identifier"); a key revoked there is refused.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FcpError } from '../errors';
import { fsError } from '../transfer/fsError';

/** A line of a known_hosts file, for messages. */
export interface KnownHostsLine {
  file: string;
  line: number;
}

/** Where a known key sits, and its type. */
export interface KnownKeyRef extends KnownHostsLine {
  type: string;
}

/** The host part of a line: either patterns or one hashed name. */
export type HostField =
  | { kind: 'patterns'; patterns: HostPattern[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface HostPattern {
  negated: boolean;
  /** Lower case; `*` matches any run of characters, `?` any one character. */
  glob: string;
}

export type KnownHostMarker = 'revoked' | 'cert-authority' | null;

export interface KnownHostEntry extends KnownHostsLine {
  marker: KnownHostMarker;
  hosts: HostField;
  keyType: string;
  keyBlob: Buffer;
}

export interface KnownHosts {
  entries: KnownHostEntry[];
  /** Lines that are neither blank, comments nor valid entries: skipped, as ssh(1) skips them. */
  malformed: KnownHostsLine[];
}

export type HostKeyLookup =
  | { status: 'match' }
  | { status: 'revoked'; revokedBy: KnownKeyRef }
  | { status: 'mismatch'; knownKeys: KnownKeyRef[] }
  | { status: 'unknown' };

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no' | 'ask';

export interface VerifyHostKeyOptions {
  host: string;
  port: number;
  /** Shown in the 'ask' question next to the host name, as ssh(1) shows it. */
  address?: string;
  keyType: string;
  keyBlob: Buffer;
  /** User files first: new keys are added to the first one. */
  files: string[];
  strict: StrictHostKeyChecking;
  hashKnownHosts: boolean;
  /** Asks the user on a terminal; without it, 'ask' refuses unknown keys like 'yes'. */
  ask?: (question: string) => Promise<boolean>;
}

export type HostKeyVerdict =
  | { accepted: true; added?: string; addError?: FcpError }
  | { accepted: false; error: FcpError };

const DEFAULT_PORT = 22;

/** Host key types ssh(1) writes to known_hosts, with the names ssh(1) shows them by. */
const KEY_TYPE_LABELS: ReadonlyMap<string, string> = new Map([
  ['ssh-ed25519', 'ED25519'],
  ['sk-ssh-ed25519@openssh.com', 'ED25519-SK'],
  ['ecdsa-sha2-nistp256', 'ECDSA'],
  ['ecdsa-sha2-nistp384', 'ECDSA'],
  ['ecdsa-sha2-nistp521', 'ECDSA'],
  ['sk-ecdsa-sha2-nistp256@openssh.com', 'ECDSA-SK'],
  ['ssh-rsa', 'RSA'],
  ['ssh-dss', 'DSA'],
]);

/** RSA signature algorithms negotiate a host key whose type is ssh-rsa. */
const RSA_SIGNATURE_ALGORITHMS = new Set(['rsa-sha2-256', 'rsa-sha2-512']);

const MARKERS: ReadonlyMap<string, KnownHostMarker> = new Map([
  ['@revoked', 'revoked'],
  ['@cert-authority', 'cert-authority'],
]);

const HASH_MAGIC = '|1|';
const SHA1_BYTES = 20;

/** The search order of ssh(1) when no UserKnownHostsFile / GlobalKnownHostsFile is set. */
export function defaultKnownHostsFiles(homeDir: string): string[] {
  return [
    join(homeDir, '.ssh', 'known_hosts'),
    join(homeDir, '.ssh', 'known_hosts2'),
    '/etc/ssh/ssh_known_hosts',
    '/etc/ssh/ssh_known_hosts2',
  ];
}

// --- parsing ---------------------------------------------------------------------------------

export function parseKnownHosts(text: string, fileName: string): KnownHosts {
  const known: KnownHosts = { entries: [], malformed: [] };
  text.split(/\r?\n/).forEach((content, index) => {
    const at = { file: fileName, line: index + 1 };
    if (isBlankOrComment(content)) return;
    const parsed = parseEntry(content);
    if (parsed) known.entries.push({ ...at, ...parsed });
    else known.malformed.push(at);
  });
  return known;
}

/** Reads the files in order; a missing file holds no keys, an unreadable one is an error. */
export function loadKnownHosts(files: string[]): KnownHosts {
  const parsed = files.map((file) => parseKnownHosts(readKnownHostsText(file), file));
  return {
    entries: parsed.flatMap((known) => known.entries),
    malformed: parsed.flatMap((known) => known.malformed),
  };
}

const MISSING_FILE_ERRORS = new Set(['ENOENT', 'ENOTDIR']);

function readKnownHostsText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // ENOTDIR: some directory on the path is a file, so the file is just as missing.
    if (MISSING_FILE_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) return '';
    throw fsError(err, 'read known hosts file', file);
  }
}

/** Only spaces and tabs count as blank, as in hostfile.c. */
function isBlankOrComment(content: string): boolean {
  return /^[ \t]*(#|$)/.test(content);
}

type ParsedEntry = Omit<KnownHostEntry, keyof KnownHostsLine>;

/** `[marker] hostpatterns keytype base64key [comment]`, or undefined when malformed. */
function parseEntry(content: string): ParsedEntry | undefined {
  const fields = content.split(/[ \t]+/).filter((field) => field !== '');
  const marker = fields[0]!.startsWith('@') ? MARKERS.get(fields.shift()!) : null;
  const [hostText, keyType, keyBase64] = fields;
  // ssh(1) allows one marker only, so a host field starting with '@' is a second, bad marker.
  if (marker === undefined || hostText === undefined || hostText.startsWith('@')) return undefined;
  if (keyType === undefined || keyBase64 === undefined) return undefined;
  const hosts = parseHostField(hostText);
  const keyBlob = decodeKey(keyType, keyBase64);
  return hosts && keyBlob ? { marker, hosts, keyType, keyBlob } : undefined;
}

function parseHostField(text: string): HostField | undefined {
  return text.startsWith('|') ? parseHashedHost(text) : { kind: 'patterns', patterns: parsePatterns(text) };
}

function parsePatterns(text: string): HostPattern[] {
  return text.split(',').map((pattern) => {
    const negated = pattern.startsWith('!');
    return { negated, glob: (negated ? pattern.slice(1) : pattern).toLowerCase() };
  });
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, both 20 bytes, as hostfile.c requires. */
function parseHashedHost(text: string): HostField | undefined {
  const [, version, saltBase64, hashBase64, ...rest] = text.split('|');
  if (version !== '1' || rest.length > 0) return undefined;
  const salt = decodeBase64(saltBase64 ?? '');
  const hash = decodeBase64(hashBase64 ?? '');
  return salt?.length === SHA1_BYTES && hash?.length === SHA1_BYTES ? { kind: 'hashed', salt, hash } : undefined;
}

/** The key's bytes when its type is a host key type and its blob says the same type. */
function decodeKey(keyType: string, keyBase64: string): Buffer | undefined {
  const blob = decodeBase64(keyBase64);
  return KEY_TYPE_LABELS.has(keyType) && blob && keyTypeOfBlob(blob) === keyType ? blob : undefined;
}

/** Strict base64: Buffer.from skips junk and missing padding, so re-encode to check. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.length > 0 && bytes.toString('base64') === text ? bytes : undefined;
}

/** The type name an SSH public key blob starts with (a uint32 length, then the name). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const end = 4 + blob.readUInt32BE(0);
  return end <= blob.length ? blob.toString('latin1', 4, end) : undefined;
}

/** The key type a host key algorithm uses: rsa-sha2-256/512 sign with ssh-rsa keys. */
export function keyTypeOfAlgorithm(algorithm: string): string {
  return RSA_SIGNATURE_ALGORITHMS.has(algorithm) ? 'ssh-rsa' : algorithm;
}

// --- matching --------------------------------------------------------------------------------

/** The name ssh(1) looks a host up by: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === DEFAULT_PORT ? name : `[${name}]:${port}`;
}

/** The entries whose host field matches, markers included, in file order. */
export function entriesForHost(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  const name = knownHostsName(host, port);
  return entries.filter((entry) => hostFieldMatches(entry.hosts, name));
}

function hostFieldMatches(hosts: HostField, name: string): boolean {
  return hosts.kind === 'hashed' ? hashHostName(hosts.salt, name).equals(hosts.hash) : patternsMatch(hosts.patterns, name);
}

/** match.c semantics: some positive pattern matches and no negated one does. */
function patternsMatch(patterns: readonly HostPattern[], name: string): boolean {
  let positive = false;
  for (const pattern of patterns) {
    if (!globMatches(pattern.glob, name)) continue;
    if (pattern.negated) return false;
    positive = true;
  }
  return positive;
}

/**
 * `*` and `?` globbing in O(pattern x text): on a mismatch, let the last `*` swallow one more
 * character (a regex would backtrack exponentially on a hostile pattern).
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < text.length) {
    if (glob[g] === '*') {
      starAt = g++;
      resumeAt = t;
    } else if (g < glob.length && (glob[g] === '?' || glob[g] === text[t])) {
      g++;
      t++;
    } else if (starAt >= 0) {
      g = starAt + 1;
      t = ++resumeAt;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

function hashHostName(salt: Buffer, name: string): Buffer {
  return createHmac('sha1', salt).update(name).digest();
}

// --- lookup ----------------------------------------------------------------------------------

/**
 * What the known hosts say about `host`:`port` offering this key (hostfile.c,
 * check_hostkeys_by_key_or_type): revoked beats everything; then any equal key is a match; any
 * other known key, whatever its type, means the key changed; nothing known means unknown.
 * @cert-authority lines are ignored: ssh2 does not do host certificates.
 */
export function lookupHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
): HostKeyLookup {
  const offered = { type: keyTypeOfAlgorithm(keyType), blob: keyBlob };
  const forHost = entriesForHost(entries, host, port);
  const revoking = forHost.find((entry) => entry.marker === 'revoked' && isSameKey(entry, offered));
  if (revoking) return { status: 'revoked', revokedBy: keyRef(revoking) };
  const known = forHost.filter((entry) => entry.marker === null);
  if (known.some((entry) => isSameKey(entry, offered))) return { status: 'match' };
  return known.length > 0 ? { status: 'mismatch', knownKeys: known.map(keyRef) } : { status: 'unknown' };
}

function isSameKey(entry: KnownHostEntry, offered: { type: string; blob: Buffer }): boolean {
  return entry.keyType === offered.type && entry.keyBlob.equals(offered.blob);
}

function keyRef(entry: KnownHostEntry): KnownKeyRef {
  return { type: entry.keyType, file: entry.file, line: entry.line };
}

/**
 * Host key algorithms reordered so that those of key types already known for the host come
 * first (ssh(1)'s order_hostkeyalgs): otherwise the server may pick a type we have no key for,
 * which counts as a changed key. Pass the result as ssh2's `algorithms.serverHostKey`.
 */
export function orderHostKeyAlgorithms(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  algorithms: readonly string[],
): string[] {
  const knownTypes = new Set(
    entriesForHost(entries, host, port)
      .filter((entry) => entry.marker === null)
      .map((entry) => entry.keyType),
  );
  const isKnown = (algorithm: string) => knownTypes.has(keyTypeOfAlgorithm(algorithm));
  return [...algorithms.filter(isKnown), ...algorithms.filter((algorithm) => !isKnown(algorithm))];
}

// --- writing ---------------------------------------------------------------------------------

/** `SHA256:<base64 without padding>`, as `ssh-keygen -l` prints it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A known_hosts line without the newline; hashed names use a fresh 20-byte salt, as ssh(1). */
export function formatKnownHostsLine(host: string, port: number, keyType: string, keyBlob: Buffer, hashed: boolean): string {
  const name = knownHostsName(host, port);
  const hostField = hashed ? hashedHostField(name) : name;
  return `${hostField} ${keyTypeOfAlgorithm(keyType)} ${keyBlob.toString('base64')}`;
}

function hashedHostField(name: string): string {
  const salt = randomBytes(SHA1_BYTES);
  return `${HASH_MAGIC}${salt.toString('base64')}|${hashHostName(salt, name).toString('base64')}`;
}

/** Appends a line, creating the file (0600) and its directory (0700) when missing. */
export function appendKnownHost(file: string, line: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // A last line without its newline would otherwise swallow ours.
    const separator = endsWithoutNewline(file) ? '\n' : '';
    appendFileSync(file, `${separator}${line}\n`, { mode: 0o600 });
  } catch (err) {
    throw fsError(err, 'add the host key to', file);
  }
}

function endsWithoutNewline(file: string): boolean {
  const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, last, 0, 1, size - 1);
  } finally {
    closeSync(fd);
  }
  return last[0] !== 0x0a;
}

// --- policy ----------------------------------------------------------------------------------

/**
 * StrictHostKeyChecking on a host key ssh2 was offered. A known key is accepted; a revoked or
 * changed key is refused whatever the policy; an unknown key is refused ('yes', or 'ask' with no
 * terminal or a "no"), or accepted and added to the first file ('accept-new', 'no', 'ask' and a
 * "yes"). Failing to add it does not refuse the key (ssh(1) only warns): see `addError`.
 */
export async function verifyHostKey(opts: VerifyHostKeyOptions): Promise<HostKeyVerdict> {
  try {
    checkOfferedKey(opts);
    const lookup = lookupWithPortFallback(loadKnownHosts(opts.files).entries, opts);
    switch (lookup.status) {
      case 'match':
        return { accepted: true };
      case 'revoked':
        return { accepted: false, error: revokedKeyError(opts, lookup.revokedBy) };
      case 'mismatch':
        return { accepted: false, error: changedKeyError(opts, lookup.knownKeys) };
      case 'unknown':
        await confirmUnknownKey(opts);
        return recordNewKey(opts);
    }
  } catch (err) {
    if (err instanceof FcpError) return { accepted: false, error: err };
    throw err;
  }
}

/** A wrong keyType would write a line no one (ssh(1) nor us) can read back. */
function checkOfferedKey(opts: VerifyHostKeyOptions): void {
  const blobType = keyTypeOfBlob(opts.keyBlob);
  if (blobType !== keyTypeOfAlgorithm(opts.keyType)) {
    throw new FcpError('FCP_ERR_AUTH', `host key of ${displayName(opts)} is not a ${opts.keyType} key (it says ${blobType ?? 'nothing'})`);
  }
}

function lookupWithPortFallback(entries: readonly KnownHostEntry[], opts: VerifyHostKeyOptions): HostKeyLookup {
  const exact = lookupHostKey(entries, opts.host, opts.port, opts.keyType, opts.keyBlob);
  if (exact.status !== 'unknown' || opts.port === DEFAULT_PORT) return exact;
  const plainHost = lookupHostKey(entries, opts.host, DEFAULT_PORT, opts.keyType, opts.keyBlob);
  return plainHost.status === 'match' || plainHost.status === 'revoked' ? plainHost : exact;
}

/** Throws unless the policy lets an unknown key in. */
async function confirmUnknownKey(opts: VerifyHostKeyOptions): Promise<void> {
  if (opts.strict === 'yes') throw unknownKeyError(opts, 'StrictHostKeyChecking is yes');
  if (opts.strict !== 'ask') return;
  if (!opts.ask) throw unknownKeyError(opts, 'there is no terminal to ask whether to trust it');
  if (!(await opts.ask(unknownKeyQuestion(opts)))) {
    throw new FcpError('FCP_ERR_AUTH', `host key verification failed: the ${keyLabel(opts.keyType)} key of ${displayName(opts)} was not accepted`);
  }
}

function recordNewKey(opts: VerifyHostKeyOptions): HostKeyVerdict {
  const file = opts.files[0];
  try {
    if (file === undefined) throw new FcpError('FCP_ERR_USAGE', 'no known hosts file is configured to add the host key to');
    appendKnownHost(file, formatKnownHostsLine(opts.host, opts.port, opts.keyType, opts.keyBlob, opts.hashKnownHosts));
    return { accepted: true, added: file };
  } catch (err) {
    if (err instanceof FcpError) return { accepted: true, addError: err };
    throw err;
  }
}

function unknownKeyQuestion(opts: VerifyHostKeyOptions): string {
  const shownAs = opts.address ? `${displayName(opts)} (${knownHostsName(opts.address, opts.port)})` : displayName(opts);
  return (
    `The authenticity of host '${shownAs}' can't be established.\n` +
    `${keyLabel(opts.keyType)} key fingerprint is ${hostKeyFingerprint(opts.keyBlob)}.\n` +
    'Are you sure you want to continue connecting (yes/no)? '
  );
}

function unknownKeyError(opts: VerifyHostKeyOptions, why: string): FcpError {
  const options = `${opts.hashKnownHosts ? ' -H' : ''}${opts.port === DEFAULT_PORT ? '' : ` -p ${opts.port}`}`;
  return new FcpError(
    'FCP_ERR_AUTH',
    `host key for ${displayName(opts)} is not known: no key for it in ${opts.files.join(', ')} and ${why}`,
    {
      hint:
        `check that its fingerprint ${hostKeyFingerprint(opts.keyBlob)} is the host's, then add the key with ` +
        `\`ssh-keyscan${options} -t ${keyLabel(opts.keyType).toLowerCase()} ${opts.host} >> ${opts.files[0] ?? '~/.ssh/known_hosts'}\`` +
        ' or by connecting once with ssh',
    },
  );
}

const BANNER_WIDTH = 59;

/** ssh(1)'s box of @ around a warning title. */
function banner(title: string): string {
  const rule = '@'.repeat(BANNER_WIDTH);
  const inside = BANNER_WIDTH - 2;
  const left = Math.floor((inside - title.length) / 2);
  return `${rule}\n@${' '.repeat(left)}${title.padEnd(inside - left)}@\n${rule}`;
}

/** As loud as ssh(1)'s warning: this is what a man-in-the-middle attack looks like. */
function changedKeyError(opts: VerifyHostKeyOptions, knownKeys: readonly KnownKeyRef[]): FcpError {
  const label = keyLabel(opts.keyType);
  const offending = knownKeys.map((key) => `Offending ${keyLabel(key.type)} key in ${key.file}:${key.line}`);
  const files = [...new Set(knownKeys.map((key) => key.file))];
  return new FcpError(
    'FCP_ERR_AUTH',
    [
      banner('WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!'),
      'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
      'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
      'It is also possible that a host key has just been changed.',
      `The fingerprint for the ${label} key sent by the remote host is`,
      `${hostKeyFingerprint(opts.keyBlob)}.`,
      'Please contact your system administrator.',
      ...offending,
      `Host key for ${displayName(opts)} has changed; fcp refuses to connect whatever StrictHostKeyChecking says.`,
    ].join('\n'),
    {
      hint:
        'only once you have checked the new key with the host\'s administrator, remove the old one with ' +
        files.map((file) => `\`ssh-keygen -f ${file} -R '${displayName(opts)}'\``).join(' and '),
    },
  );
}

function revokedKeyError(opts: VerifyHostKeyOptions, revokedBy: KnownKeyRef): FcpError {
  return new FcpError(
    'FCP_ERR_AUTH',
    [
      banner('WARNING: REVOKED HOST KEY DETECTED!'),
      `The ${keyLabel(opts.keyType)} host key for ${displayName(opts)} is marked as revoked in ${revokedBy.file}:${revokedBy.line}.`,
      'This could mean that a stolen key is being used to impersonate this host.',
      `Its fingerprint is ${hostKeyFingerprint(opts.keyBlob)}.`,
    ].join('\n'),
    { hint: 'a revoked key is never accepted: ask the host\'s administrator for its new key' },
  );
}

function displayName(opts: { host: string; port: number }): string {
  return knownHostsName(opts.host, opts.port);
}

function keyLabel(keyType: string): string {
  return KEY_TYPE_LABELS.get(keyTypeOfAlgorithm(keyType)) ?? keyType;
}
