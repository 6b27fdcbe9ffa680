/** fcpd's policy applied: addresses against allowed_hosts, real paths against the path rules. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FcpdPolicy } from '../../../src/config/policy';
import { AccessPolicy, realPath } from '../../../src/server/policy';

const NO_RULES: FcpdPolicy = { forbiddenFiles: [], forbiddenDirs: [], allowedHosts: [], modules: [] };
const policy = (rules: Partial<FcpdPolicy>) => new AccessPolicy({ ...NO_RULES, ...rules });

test.each([
  ['10.1.2.3', ['10.0.0.0/8'], true],
  ['::ffff:10.1.2.3', ['10.0.0.0/8'], true],
  ['11.1.2.3', ['10.0.0.0/8'], false],
  ['fd00::5', ['fd00::/8', '10.0.0.0/8'], true],
  ['fe80::1', ['fd00::/8'], false],
  ['127.0.0.1', ['127.0.0.1'], true],
  ['127.0.0.2', ['127.0.0.1'], false],
  ['::1', ['127.0.0.0/8'], false],
  ['anything', [], true],
])('address %s with allowed_hosts %j: allowed %s', (address, allowedHosts, allowed) => {
  const refusal = policy({ allowedHosts }).addressRefusal(address);
  expect(refusal === undefined).toBe(allowed);
  if (refusal) expect([refusal.code, refusal.exitCode]).toEqual(['FCP_ERR_POLICY', 5]);
});

describe('paths', () => {
  let dir: string;
  beforeEach(() => (dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-policy-')))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('realPath resolves symlinks, also of a path that does not exist yet', () => {
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    expect(realPath(Buffer.from(path.join(dir, 'link', 'new', 'file'))).toString()).toBe(path.join(dir, 'real', 'new', 'file'));
  });

  test('a forbidden directory covers itself and what is below it, not a sibling sharing its prefix', () => {
    const rules = policy({ forbiddenDirs: [path.join(dir, 'etc')] });
    expect(rules.pathRefusal(Buffer.from(path.join(dir, 'etc')))?.message).toMatch(/\(forbidden_dirs\)/);
    expect(rules.pathRefusal(Buffer.from(path.join(dir, 'etc', 'passwd')))).toBeDefined();
    expect(rules.pathRefusal(Buffer.from(path.join(dir, 'etcetera')))).toBeUndefined();
  });

  test('modules: the innermost holds a path; read_only refuses pushes only', () => {
    const rules = policy({
      modules: [
        { name: 'all', path: dir, readOnly: false },
        { name: 'pub', path: path.join(dir, 'pub'), readOnly: true },
      ],
    });
    expect(rules.pathRefusal(Buffer.from(path.join(dir, 'pub', 'a')))).toBeUndefined();
    expect(rules.pushRefusal(Buffer.from(path.join(dir, 'pub', 'a')))?.message).toMatch(/\(read_only\): module pub/);
    expect(rules.pushRefusal(Buffer.from(path.join(dir, 'in', 'a')))).toBeUndefined();
    expect(rules.pathRefusal(Buffer.from('/elsewhere'))?.message).toMatch(/\(modules\): \/elsewhere is in no module/);
  });

  test('a forbidden pattern matches the name in the transfer or the real name', () => {
    const rules = policy({ forbiddenFiles: ['*.key'] });
    expect(rules.pathRefusal(Buffer.from('/x/id.key'))).toBeDefined();
    expect(rules.pathRefusal(Buffer.from('/x/id.txt'), Buffer.from('alias.key'))).toBeDefined();
    expect(rules.pathRefusal(Buffer.from('/x/id.txt'))).toBeUndefined();
  });
});
