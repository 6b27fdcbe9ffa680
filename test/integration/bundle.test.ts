/**
 * dist/fcp-ssh2.js carries ssh2 (npm run build: scripts/bundle.ts) but not its native parts, which
 * it must still find: ssh2 falls back to JavaScript ciphers without its crypto binding, silently,
 * so a path that no longer resolves would only show as a slower SSH. dist/fcp.js and
 * dist/fcp-track.js load that part when they first use SSH, not ssh2 from node_modules.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers/run';
import { loadPart } from '../../src/cli/codeCache';

const dist = (name: string): string => path.join(ROOT, 'dist', name);
/** The packages a bundle requires (not Node's modules, not relative paths). */
function packagesRequired(bundle: string): string[] {
  const text = fs.readFileSync(bundle, 'utf8');
  return [...text.matchAll(/require\("([^".][^"]*)"\)/g)].map((match) => match[1]!).filter((name) => !name.startsWith('node:'));
}

test("fcp-ssh2.js requires ssh2's crypto binding from ssh2's package, where it resolves, and ssh2 itself from nowhere", () => {
  const bundle = dist('fcp-ssh2.js');
  const required = packagesRequired(bundle);
  const binding = required.filter((name) => name.endsWith('.node'));
  expect(binding).toEqual(['ssh2/lib/protocol/crypto/build/Release/sshcrypto.node']);
  expect(fs.existsSync(createRequire(bundle).resolve(binding[0]!))).toBe(true);
  expect(required).not.toContain('ssh2');
  // Its HTTP agents are left out: they would load Node's http, https and tls at every start.
  expect(required.filter((name) => ['http', 'https', 'tls'].includes(name))).toEqual([]);
});

test('fcp-ssh2.js, loaded as fcp.js loads it, is ssh2', () => {
  const ssh2 = loadPart(dist('fcp-ssh2.js'), 'fcp-ssh2-test') as typeof import('ssh2');
  expect(typeof ssh2.Client).toBe('function');
  expect(typeof ssh2.utils.parseKey).toBe('function');
});

test.each(['fcp.js', 'fcp-track.js'])('%s has neither ssh2 nor its binding, and loads fcp-ssh2.js beside it through the code cache', (name) => {
  const text = fs.readFileSync(dist(name), 'utf8');
  const required = packagesRequired(dist(name));
  expect(required.filter((required) => required === 'ssh2' || required.startsWith('ssh2/') || required.endsWith('.node'))).toEqual([]);
  expect(text).toContain('require("./src/cli/codeCache.js").loadPart(require("path").join(__dirname,"fcp-ssh2.js"),"fcp-ssh2")');
  // ssh2's own code is not in it: its Client class is defined in fcp-ssh2.js only.
  expect(text).not.toContain('node_modules/ssh2/lib/client.js');
  expect(fs.readFileSync(dist('fcp-ssh2.js'), 'utf8')).toContain('node_modules/ssh2/lib/client.js');
});
