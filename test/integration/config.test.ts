/**
 * fcp's settings files through the real command: a copy runs with what they say (the command line
 * winning), echo-config tells where each value came from, and a bad file is exit 2 naming file:line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, killAll, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

/** A config home holding fcp/config.toml with `text`; the environment that points fcp at it. */
function configHome(text: string): { env: NodeJS.ProcessEnv; file: string; dir: string } {
  const dir = temp.make('fcp-config');
  fs.mkdirSync(path.join(dir, 'fcp'));
  const file = path.join(dir, 'fcp', 'config.toml');
  fs.writeFileSync(file, text);
  return { env: { XDG_CONFIG_HOME: dir, FCP_CONFIG: undefined, FCP_CONNECTIONS: undefined }, file, dir };
}

test('a copy runs with the file\'s settings, the environment over the file, the command line over both', async () => {
  const { env, dir } = configHome('connections = 3\nencrypt = true\n');
  fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.alloc(70_000, 7));
  const start = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const run = await runFcp(['--json', ...args, path.join(dir, 'a.bin'), path.join(dir, `b${args.length}${Object.keys(extra).length}.bin`)], { env: { ...env, ...extra } });
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout.split('\n')[0]!) as { connections: number; encrypted: boolean };
  };
  expect(await start([])).toMatchObject({ event: 'start', connections: 3, encrypted: true });
  expect(await start([], { FCP_CONNECTIONS: '2' })).toMatchObject({ connections: 2, encrypted: true });
  expect(await start(['-n', '5', '--no-encrypt'], { FCP_CONNECTIONS: '2' })).toMatchObject({ connections: 5, encrypted: false });
});

test("the config's filter rules come after the command line's: --include wins over them, --filter '!' drops them", async () => {
  const { env, dir } = configHome('filter = ["- *.tmp", "exclude cache/"]\n');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'cache'), { recursive: true });
  for (const name of ['a.txt', 'b.tmp', 'keep.tmp', 'cache/c.txt']) fs.writeFileSync(path.join(src, name), name);
  const copied = async (args: string[], into: string): Promise<string[]> => {
    const run = await runFcp(['-q', '-r', ...args, `${src}/`, path.join(dir, into)], { env });
    expect(run.code).toBe(0);
    const names: string[] = [];
    const walk = (at: string, rel: string): void => {
      for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
        const inner = rel ? `${rel}/${entry.name}` : entry.name;
        names.push(entry.isDirectory() ? `${inner}/` : inner);
        if (entry.isDirectory()) walk(path.join(at, entry.name), inner);
      }
    };
    walk(path.join(dir, into), '');
    return names.sort();
  };
  expect(await copied([], 'd1')).toEqual(['a.txt']);
  expect(await copied(['--include', 'keep.tmp'], 'd2')).toEqual(['a.txt', 'keep.tmp']);
  expect(await copied(['--filter', '!'], 'd3')).toEqual(['a.txt', 'b.tmp', 'cache/', 'cache/c.txt', 'keep.tmp']);
  const refused = await runFcp(['--filter', 'merge .rules', src, path.join(dir, 'd4')], { env });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('not a filter rule fcp takes');
});

test('--echo-config --json: every value with its source, host sections applied', async () => {
  const { env, file } = configHome('chunk_size = "4M"\n\n[host."*.lan"]\nconnections = 12\n');
  const run = await runFcp(['--echo-config', '--json', '--timeout', '9', 'db.lan'], { env: { ...env, FCP_BWLIMIT: '10M' } });
  expect(run.code).toBe(0);
  const echo = JSON.parse(run.stdout);
  expect(echo.host).toBe('db.lan');
  expect(echo.settings.connections).toEqual({ value: 12, source: 'file', where: `${file}:4` });
  expect(echo.settings.chunk_size).toEqual({ value: '4M', source: 'file', where: `${file}:1` });
  expect(echo.settings.timeout).toEqual({ value: 9, source: 'flag', where: 'flag --timeout' });
  expect(echo.settings.bwlimit).toEqual({ value: '10240K', source: 'environment', where: 'environment FCP_BWLIMIT' });
  expect(echo.settings.install).toEqual({ value: true, source: 'default', where: 'default' });
  const text = await runFcp(['--echo-config', 'web'], { env });
  expect(text.stdout).toContain(`chunk_size = "4M"  # ${file}:1`);
  expect(text.stdout).toContain('# connections is not set  # default');
});

test.each([
  ['an unknown key', 'connections = 2\n[host.x]\ncolor = "red"\n', ':3: unknown key "host.x.color"'],
  ['a wrong type', '\n\nencrypt = "no"\n', ':3: encrypt: must be true or false, not a string'],
  ['a bad value', 'chunk_size = "3M"\n', ':1: chunk_size: must be a power of two from 64K to 64M'],
  ['broken TOML', 'connections = \n', ':1: not valid TOML'],
  ['a filter rule fcp does not take', 'filter = ["- *.o", "hide secret"]\n', ':1: filter: "hide secret" is not a filter rule fcp takes'],
])('%s in the config file: exit 2 naming file:line and key, nothing copied', async (_what, text, expected) => {
  const { env, file, dir } = configHome(text);
  fs.writeFileSync(path.join(dir, 'a'), 'x');
  const run = await runFcp([path.join(dir, 'a'), path.join(dir, 'b')], { env });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${file}${expected}`);
  expect(run.stderr).toContain('FCP_ERR_USAGE');
  expect(fs.existsSync(path.join(dir, 'b'))).toBe(false);
  const echo = await runFcp(['--echo-config', '--json'], { env });
  expect(echo.code).toBe(2);
  expect(JSON.parse(echo.stdout)).toMatchObject({ code: 'FCP_ERR_USAGE' });
  expect(describeRun(echo)).toContain(file);
});
