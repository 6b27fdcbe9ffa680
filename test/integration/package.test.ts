/**
 * The package installs and works from its tarball: `npm pack`, then `npm install -g` into a
 * temporary prefix, then the installed fcp copies a tree through the installed fcpd, and the
 * installed package carries the self-contained fcpd.js that fcp installs on hosts without one;
 * the installed fcp-track opens its SQLite record.
 * The pack runs with --ignore-scripts: its prepack step (npm run build) would rebuild dist/ under
 * the other test files running now; globalSetup has just built it the same way.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees } from './helpers/compare';
import { ROOT } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { buildSmallTree } from './helpers/tree';

jest.setTimeout(180_000);
const temp = useTempDirs();

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  scripts: Record<string, string>;
  files: string[];
};

test('npm pack builds what it ships: prepack is the build, which bundles fcpd', () => {
  expect(manifest.scripts.prepack).toBe('npm run build');
  expect(manifest.scripts.build).toMatch(/tsc -p tsconfig\.build\.json && node dist\/scripts\/bundle\.js/);
  expect(manifest.files).toEqual(expect.arrayContaining(['bin/', 'dist/src/', 'dist/fcpd.js']));
});

/**
 * A local prebuild of better-sqlite3 made from the one this checkout built: its install script
 * (prebuild-install) looks in this directory before downloading, and with no network here it would
 * otherwise compile SQLite again (about a minute of the suite). Everything else installs as a user's would.
 */
function localSqlitePrebuild(work: string): NodeJS.ProcessEnv {
  const module = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(fs.readFileSync(path.join(module, 'package.json'), 'utf8')) as { version: string };
  const dir = path.join(work, 'prebuilds');
  fs.mkdirSync(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['czf', path.join(dir, name), '-C', module, 'build/Release/better_sqlite3.node']);
  return { ...process.env, npm_config_better_sqlite3_local_prebuilds: dir };
}

test('npm install -g of the tarball gives a working fcp and fcpd', () => {
  const work = temp.make('fcp-package');
  const env = localSqlitePrebuild(work);
  const npm = (args: string[]): string =>
    execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: work, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  npm(['pack', '--ignore-scripts', '--pack-destination', work, ROOT]);
  const tarball = path.join(work, `${manifest.name}-${manifest.version}.tgz`);
  expect(fs.existsSync(tarball)).toBe(true);
  const prefix = path.join(work, 'prefix');
  npm(['install', '-g', '--prefix', prefix, tarball]);

  const installed = path.join(prefix, 'lib', 'node_modules', manifest.name);
  expect(fs.statSync(path.join(installed, 'dist', 'fcpd.js')).mode & 0o111).not.toBe(0);
  for (const name of ['fcp', 'fcpd']) {
    const run = spawnSync(path.join(prefix, 'bin', name), ['--version'], { encoding: 'utf8' });
    expect({ name, status: run.status, stdout: run.stdout.trim() }).toEqual({ name, status: 0, stdout: `${manifest.version} (protocol 1..1)` });
  }
  const tree = buildSmallTree(work, 'src');
  const copy = spawnSync(path.join(prefix, 'bin', 'fcp'), ['-r', `${tree.root}/`, path.join(work, 'dst')], { encoding: 'utf8' });
  expect({ status: copy.status, stderr: copy.stderr }).toEqual({ status: 0, stderr: '' });
  expect(compareTrees(tree.root, path.join(work, 'dst'))).toEqual([]);

  // The installed fcp-track opens its SQLite record: the native module the install put there loads.
  const track = (args: string[]): { status: number | null; stdout: string } => {
    const run = spawnSync(path.join(prefix, 'bin', 'fcp-track'), args, { cwd: path.join(work, 'dst'), encoding: 'utf8' });
    return { status: run.status, stdout: run.stdout };
  };
  expect(track(['init', 'host.invalid:/nowhere']).status).toBe(0);
  expect(track(['add', '.']).status).toBe(0);
  expect(track(['status'])).toEqual({ status: 0, stdout: expect.stringMatching(/^new /m) });
});
