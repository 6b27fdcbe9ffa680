/**
 * Builds, after tsc (`npm run build`), the files bin/ runs, each one file so that start-up reads
 * one file instead of about 150 (esbuild is the maintained bundler for this):
 * - dist/fcpd.js: fcpd and its dependencies, self-contained: fcp also copies it to hosts that have
 *   Node.js but no fcpd (README "Modes"), where it runs as `node fcpd.js`; but for the native ones a
 *   two-way side loads when it opens (better-sqlite3, @parcel/watcher): from node_modules, where
 *   fcp is installed;
 * - dist/fcp.js: fcp and its dependencies, ssh2 included (loading it from node_modules took about
 *   65 ms of every copy over SSH, on the way to the login; in the bundle it is in the V8 code
 *   cache), but the native parts, which load from node_modules: ssh2's optional bindings (its
 *   crypto binding, and cpu-features, which picks its cipher order), better-sqlite3 and @parcel/watcher;
 * - dist/fcp-track.js: fcp-track likewise (its status of 100,000 files has 2 s, start-up included).
 */
import { build, Plugin } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const cli = path.join(root, 'dist', 'src', 'cli');
/**
 * Without whitespace or comments (names kept, so that a stack trace still names its functions):
 * fcpd's bundle 0.76 MB instead of 1.18, and its start (read, compile, top level) 67-70 ms instead
 * of 88-92 (docs/BENCHMARKS.md "Start-up, second round"). ASCII only: a bundle with a few
 * non-ASCII bytes (§ and → in comments, 140 of them) was read as a two-byte string, 17-19 ms
 * for fcpd's instead of 6-8; bin/ and the launch read the bundles as latin1, which is what an
 * ASCII file reads as, at no cost of decoding (checkAscii makes sure).
 */
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'eof', minifyWhitespace: true, charset: 'ascii' } as const;

/** Fails the build when `file` has a byte outside ASCII (bin/ and the launch would misread it). */
function checkAscii(file: string): void {
  const bytes = fs.readFileSync(file);
  const at = bytes.findIndex((byte) => byte > 0x7f);
  if (at >= 0) throw new Error(`${path.relative(root, file)} has a non-ASCII byte at offset ${at}: bin/ reads the bundles as latin1`);
}

const fcpd = path.join(root, 'dist', 'fcpd.js');
const sideNative = ['better-sqlite3', '@parcel/watcher'];

/**
 * ssh2 in the bundle. It requires its crypto binding by a path relative to its own file: in the
 * bundle that path is asked of ssh2's package instead, where node_modules has it (ssh2 falls back
 * to JavaScript ciphers when the binding is missing, so a wrong path would only make SSH slower,
 * silently). Its HTTP agents (SSH-tunnelled http.Agent classes, which fcp does not use) would
 * load Node's http, https and tls at every start: they are left out.
 */
const ssh2InBundle: Plugin = {
  name: 'ssh2-in-bundle',
  setup(build) {
    build.onResolve({ filter: /\/sshcrypto\.node$/ }, (args) => {
      const file = path.join(args.resolveDir, args.path);
      const ssh2Root = path.dirname(require.resolve('ssh2/package.json'));
      return { path: `ssh2/${path.relative(ssh2Root, file).split(path.sep).join('/')}`, external: true };
    });
    build.onLoad({ filter: /[\\/]ssh2[\\/]lib[\\/]http-agents\.js$/ }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};
/**
 * Packages that require node:child_process at load, for what fcp rarely or never does: commander
 * for subcommands that are programs of their own (`git-foo` style), which none of fcp's commands
 * has (2-4 ms of every start, --version's too); ssh-config for `Match exec` and its lookup of a
 * canonical name (CanonicalizeHostname), which only some ssh_config files have, and ssh2's agent
 * module for Pageant, an agent of Windows (with dgram and the socket list it loads, 1.5-7 ms of
 * every copy over SSH, before its TCP connection and during its key exchange). In the bundles
 * node:child_process is required when one of them would run a program. The build fails should
 * such a line change, rather than bundle the eager require again unnoticed.
 */
const EAGER_CHILD_PROCESS = [
  {
    file: /[\\/]commander[\\/]lib[\\/]command\.js$/,
    eager: "const childProcess = require('node:child_process');",
    lazy: "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
  },
  {
    file: /[\\/]ssh-config[\\/]dist[\\/]ssh-config\.js$/,
    eager: 'const node_child_process_1 = require("node:child_process");',
    lazy: 'const node_child_process_1 = { spawnSync: (...args) => require("node:child_process").spawnSync(...args) };',
  },
  {
    file: /[\\/]ssh2[\\/]lib[\\/]agent\.js$/,
    eager: "const { execFile, spawn } = require('child_process');",
    lazy: "const execFile = (...args) => require('child_process').execFile(...args); const spawn = (...args) => require('child_process').spawn(...args);",
  },
];
const lazyChildProcess: Plugin = {
  name: 'lazy-child-process',
  setup(build) {
    for (const { file, eager, lazy } of EAGER_CHILD_PROCESS) {
      build.onLoad({ filter: file }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        if (!source.includes(eager)) throw new Error(`${args.path} no longer has '${eager}': see lazyChildProcess in scripts/bundle.ts`);
        return { contents: source.replace(eager, lazy), loader: 'js' };
      });
    }
  },
};
const native = { external: ['cpu-features', ...sideNative], plugins: [ssh2InBundle, lazyChildProcess] };

async function main(): Promise<void> {
  await build({ ...common, entryPoints: [path.join(cli, 'fcpdEntry.js')], outfile: fcpd, define: { FCP_BUNDLED_VERSION: JSON.stringify(version) }, external: sideNative, plugins: [lazyChildProcess] });
  fs.chmodSync(fcpd, 0o755);
  // Plugins need esbuild's asynchronous API.
  await build({ ...common, ...native, entryPoints: [path.join(cli, 'fcpEntry.js')], outfile: path.join(root, 'dist', 'fcp.js') });
  await build({ ...common, ...native, entryPoints: [path.join(cli, 'fcpTrackEntry.js')], outfile: path.join(root, 'dist', 'fcp-track.js') });
  for (const name of ['fcpd.js', 'fcp.js', 'fcp-track.js']) checkAscii(path.join(root, 'dist', name));
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
