/**
 * dist/fcp.js carries ssh2 (npm run build: scripts/bundle.ts) but not its native parts, which it
 * must still find: ssh2 falls back to JavaScript ciphers without its crypto binding, silently, so
 * a path that no longer resolves would only show as a slower SSH.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers/run';

const BUNDLES = ['fcp.js', 'fcp-track.js'].map((name) => path.join(ROOT, 'dist', name));

test.each(BUNDLES)('%s requires ssh2\'s crypto binding from ssh2\'s package, where it resolves, and ssh2 itself from nowhere', (bundle) => {
  const text = fs.readFileSync(bundle, 'utf8');
  const required = [...text.matchAll(/require\("([^".][^"]*)"\)/g)].map((match) => match[1]!).filter((name) => !name.startsWith('node:'));
  const binding = required.filter((name) => name.endsWith('.node'));
  expect(binding).toEqual(['ssh2/lib/protocol/crypto/build/Release/sshcrypto.node']);
  expect(fs.existsSync(createRequire(bundle).resolve(binding[0]!))).toBe(true);
  expect(required).not.toContain('ssh2');
  // Its HTTP agents are left out: they would load Node's http, https and tls at every start.
  expect(required.filter((name) => ['http', 'https', 'tls'].includes(name))).toEqual([]);
});
