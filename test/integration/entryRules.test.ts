/**
 * PROTOCOL.md §7.2's entry rules, read from the document itself and enforced by both sides: each
 * example runs against the real fcpd receiving a push from a scripted client, and (for rules that
 * apply to the client) against the real fcp receiving a pull from a scripted server. Every example
 * must succeed without its last entry and fail with FCP_ERR_BAD_PATH with it, leaving nothing of
 * the refused entry behind; so a rule that stopped being enforced, or a table that stopped
 * parsing, fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { FcpError } from '../../src/errors';
import { ModeFlag } from '../../src/protocol/constants';
import { hostilePush, hostileServer, scriptedContent, scriptedWalk } from './helpers/hostilePeer';
import { killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

interface RuleExample {
  rule: string;
  appliesTo: 'both' | 'client';
  recursive: boolean;
  hardLinks: boolean;
  sources: string[];
  intoDirectory: boolean;
  entries: string[];
}

const backticked = (cell: string): string[] => [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);

function readRules(): RuleExample[] {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'PROTOCOL.md'), 'utf8');
  const table = /<!-- entry-rules:begin -->\n([\s\S]*?)<!-- entry-rules:end -->/.exec(doc)?.[1];
  if (!table) throw new Error('PROTOCOL.md has no entry-rules table');
  return table
    .split('\n')
    .filter((line) => /^\| E\d/.test(line))
    .map((line) => {
      const [rule, , appliesTo, request, destination, entries] = line.split('|').slice(1, -1).map((cell) => cell.trim()) as string[];
      const words = backticked(request!)[0]!.split(' ');
      return {
        rule: rule!,
        appliesTo: appliesTo as RuleExample['appliesTo'],
        recursive: words.includes('-r'),
        hardLinks: words.includes('-H'),
        sources: words.filter((word) => !word.startsWith('-')),
        intoDirectory: destination === 'directory',
        entries: backticked(entries!),
      };
    });
}

const RULES = readRules();

test('the table lists every rule E1..E5 with at least one example', () => {
  expect([...new Set(RULES.map((r) => r.rule))]).toEqual(['E1', 'E2', 'E3', 'E4', 'E5']);
  for (const example of RULES) expect(example.entries.length).toBeGreaterThan(0);
});

/** Every path under root, relative, sorted ('' when root does not exist). */
function listing(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  const found: string[] = [''];
  const visit = (dir: string, prefix: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      found.push(prefix + name);
      const full = path.join(dir, name);
      if (fs.lstatSync(full).isDirectory()) visit(full, `${prefix}${name}/`);
    }
  };
  if (fs.lstatSync(root).isDirectory()) visit(root, '');
  return found;
}

/** Runs one side; resolves with the error code, or 'ok'. */
type Side = (example: RuleExample, entries: string[], work: string, destination: string) => Promise<string>;

const outcome = (run: Promise<unknown>): Promise<string> =>
  run.then(
    () => 'ok',
    (err: unknown) => (err instanceof FcpError ? err.code : `not an FcpError: ${String(err)}`),
  );

const serverReceiving: Side = (example, entries, work, destination) =>
  outcome(hostilePush(scriptedWalk(entries, work), destination, example.recursive ? ModeFlag.RECURSIVE : 0));

const clientReceiving: Side = (example, entries, work, destination) =>
  outcome(
    copy({
      sources: example.sources.map((source) => `localhost:${source}`),
      destination,
      recursive: example.recursive,
      hardLinks: example.hardLinks,
      launcher: hostileServer(() => scriptedWalk(entries, work)),
    }),
  );

const cases = RULES.flatMap((example) => {
  const sides: [string, Side][] = [['fcp receiving a pull', clientReceiving]];
  if (example.appliesTo === 'both') sides.unshift(['fcpd receiving a push', serverReceiving]);
  return sides.map(([side, run]) => [`${example.rule} ${example.entries.join(', ')}: ${side}`, example, run] as const);
});

test.each(cases)('%s', async (_name, example, run) => {
  const landed: string[][] = [];
  for (const complete of [false, true]) {
    const work = temp.make('fcp-rules');
    const destination = path.join(work, example.intoDirectory ? 'dest' : 'new');
    if (example.intoDirectory) fs.mkdirSync(destination);
    const entries = complete ? example.entries : example.entries.slice(0, -1);
    const result = await run(example, entries, work, destination);
    expect({ complete, result }).toEqual({ complete, result: complete ? 'FCP_ERR_BAD_PATH' : 'ok' });
    landed.push(listing(destination));
  }
  // The refused entry left nothing: the destination holds what the entries before it made.
  expect(landed[1]).toEqual(landed[0]);
});

describe("a server answering a pull with files it was not asked for (scp's CVE-2019-6111)", () => {
  test.each([false, true])('recursive %s: .ssh/authorized_keys in the destination stays as it was', async (recursive) => {
    const work = temp.make('fcp-plant');
    const dest = path.join(work, 'D');
    fs.mkdirSync(path.join(dest, '.ssh'), { recursive: true });
    const keys = path.join(dest, '.ssh', 'authorized_keys');
    fs.writeFileSync(keys, 'ssh-ed25519 AAAA the-users-own-key\n');
    const attack = copy({
      sources: ['localhost:/srv/wanted.txt'],
      destination: `${dest}/`,
      recursive,
      launcher: hostileServer(() => scriptedWalk(['dir .ssh', 'file .ssh/authorized_keys'], work)),
    });
    await expect(attack).rejects.toMatchObject({ code: 'FCP_ERR_BAD_PATH' });
    expect(fs.readFileSync(keys, 'utf8')).toBe('ssh-ed25519 AAAA the-users-own-key\n');
    expect(fs.readdirSync(path.join(dest, '.ssh'))).toEqual(['authorized_keys']);
  });

  test('the file that was asked for still arrives from an honest answer', async () => {
    const work = temp.make('fcp-plant');
    const dest = path.join(work, 'D');
    fs.mkdirSync(dest);
    const summary = await copy({
      sources: ['localhost:/srv/wanted.txt'],
      destination: dest,
      launcher: hostileServer(() => scriptedWalk(['file wanted.txt'], work)),
    });
    expect(summary.errors).toEqual([]);
    expect(fs.readFileSync(path.join(dest, 'wanted.txt'), 'utf8')).toBe(scriptedContent('wanted.txt'));
  });
});

describe('a symlink already in the destination (dest/a -> elsewhere) is never written through', () => {
  type Receiving = (entries: string[], work: string, dest: string) => Promise<unknown>;
  const pushTo: Receiving = (entries, work, dest) => hostilePush(scriptedWalk(entries, work), dest, ModeFlag.RECURSIVE);
  const pullInto: Receiving = (entries, work, dest) =>
    copy({ sources: [`localhost:/srv/${entries[0]!.split(' ')[1]}`], destination: dest, recursive: true, launcher: hostileServer(() => scriptedWalk(entries, work)) });
  const sides: [string, Receiving][] = [
    ['fcpd receiving a push', pushTo],
    ['fcp receiving a pull', pullInto],
  ];

  test.each(sides)('top level, dir a then file a/x: both fail FCP_ERR_NOT_DIRECTORY, nothing in elsewhere (%s)', async (_side, receive) => {
    const work = temp.make('fcp-link');
    const dest = path.join(work, 'dest');
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(dest);
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(dest, 'a'));
    const outcome = await receive(['dir a', 'file a/x'], work, dest);
    const errors = (outcome as { errors: { code: string }[] }).errors.map((error) => error.code);
    expect(errors).toEqual(['FCP_ERR_NOT_DIRECTORY', 'FCP_ERR_NOT_DIRECTORY']);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.readlinkSync(path.join(dest, 'a'))).toBe(elsewhere);
  });

  test.each(sides)('below the top, dir d, dir d/a, file d/a/x: d/a and d/a/x fail, nothing in elsewhere (%s)', async (_side, receive) => {
    const work = temp.make('fcp-link');
    const dest = path.join(work, 'dest');
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(path.join(dest, 'd'), { recursive: true });
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(dest, 'd', 'a'));
    const outcome = await receive(['dir d', 'dir d/a', 'file d/a/x', 'file d/y'], work, dest);
    const errors = (outcome as { errors: { code: string }[] }).errors.map((error) => error.code);
    expect(errors).toEqual(['FCP_ERR_NOT_DIRECTORY', 'FCP_ERR_NOT_DIRECTORY']);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.readFileSync(path.join(dest, 'd', 'y'), 'utf8')).toBe(scriptedContent('d/y'));
  });
});
