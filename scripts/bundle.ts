/**
 * Builds dist/fcpd.js: fcpd and its dependencies in one self-contained JavaScript file, which fcp
 * copies to hosts that have Node.js but no fcpd (README "Modes"). Run by `npm run build` after tsc,
 * from the compiled bin/fcpd entry; esbuild is the maintained bundler for this.
 */
import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const outfile = path.join(root, 'dist', 'fcpd.js');

buildSync({
  entryPoints: [path.join(root, 'bin', 'fcpd')],
  loader: { '': 'js' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  outfile,
  define: { FCP_BUNDLED_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
  legalComments: 'eof',
});
fs.chmodSync(outfile, 0o755);
