/**
 * Builds, after tsc (`npm run build`), the files bin/ runs, each one file so that start-up reads
 * one file instead of about 150 (esbuild is the maintained bundler for this):
 * - dist/fcpd.js: fcpd and its dependencies, self-contained: fcp also copies it to hosts that have
 *   Node.js but no fcpd (README "Modes"), where it runs as `node fcpd.js`; but for the native ones a
 *   two-way side loads when it opens (better-sqlite3, @parcel/watcher): from node_modules, where
 *   fcp is installed;
 * - dist/fcp.js: fcp and its dependencies but those with native parts (ssh2, whose optional
 *   bindings pick its ciphers, better-sqlite3, @parcel/watcher), which load from node_modules;
 * - dist/fcp-track.js: fcp-track likewise (its status of 100,000 files has 2 s, start-up included).
 */
import { buildSync } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const cli = path.join(root, 'dist', 'src', 'cli');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'eof' } as const;

const fcpd = path.join(root, 'dist', 'fcpd.js');
const sideNative = ['better-sqlite3', '@parcel/watcher'];
buildSync({ ...common, entryPoints: [path.join(cli, 'fcpdEntry.js')], outfile: fcpd, define: { FCP_BUNDLED_VERSION: JSON.stringify(version) }, external: sideNative });
fs.chmodSync(fcpd, 0o755);

const native = ['ssh2', ...sideNative];
buildSync({ ...common, entryPoints: [path.join(cli, 'fcpEntry.js')], outfile: path.join(root, 'dist', 'fcp.js'), external: native });
buildSync({ ...common, entryPoints: [path.join(cli, 'fcpTrackEntry.js')], outfile: path.join(root, 'dist', 'fcp-track.js'), external: native });
