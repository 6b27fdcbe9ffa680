/**
 * Jest globalSetup: compiles src/ into dist/ once per jest run (tsc -p tsconfig.build.json), so
 * that bin/fcp and bin/fcpd, which the integration tests spawn as real processes, run the code
 * under test. A failed build fails the whole run loudly, with tsc's output.
 *
 * The build is skipped only when the run cannot include an integration test (jest was given path
 * patterns that match none of test/integration/*.test.ts), so `npx jest test/unit` stays fast,
 * or when FCP_SKIP_BUILD=1 is set explicitly (dist/ must then exist).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const INTEGRATION = path.join(ROOT, 'test', 'integration');

function integrationTestFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.test.ts')) found.push(full);
    }
  };
  walk(INTEGRATION);
  return found;
}

/** False only when jest was given a path pattern and it selects no integration test. */
function runIncludesIntegration(globalConfig: { testPathPattern?: string }): boolean {
  const pattern = globalConfig.testPathPattern;
  if (!pattern) return true;
  try {
    const matcher = new RegExp(pattern, 'i');
    return integrationTestFiles().some((file) => matcher.test(file));
  } catch {
    return true;
  }
}

function tsc(args: string[]): { status: number | null; output: string } {
  const compiler = require.resolve('typescript/lib/tsc.js', { paths: [ROOT] });
  const result = spawnSync(process.execPath, [compiler, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
  return { status: result.status, output };
}

export default async function globalSetup(globalConfig: { testPathPattern?: string }): Promise<void> {
  if (process.env.FCP_SKIP_BUILD === '1') {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'fcp.js'))) {
      throw new Error('integration globalSetup: FCP_SKIP_BUILD=1 but dist/ is not built: run npm run build');
    }
    return;
  }
  if (!runIncludesIntegration(globalConfig)) return;
  const started = Date.now();
  // Exactly `npx tsc -p tsconfig.build.json` (npm run build), with the compiler run directly (no
  // npm start-up). A full build every run: an incremental one could trust build info that another
  // build of dist/ has made stale.
  const result = tsc(['-p', 'tsconfig.build.json']);
  const entryPoints = ['fcp', 'fcpd'].map((name) => path.join(ROOT, 'dist', 'src', 'cli', `${name}.js`));
  if (result.status !== 0) {
    throw new Error(
      `integration globalSetup: \`tsc -p tsconfig.build.json\` failed (exit ${result.status}); ` +
        `bin/fcp and bin/fcpd cannot run the current sources:\n${result.output}`,
    );
  }
  for (const file of entryPoints) {
    if (!fs.existsSync(file)) throw new Error(`integration globalSetup: the build did not produce ${file}`);
  }
  // The self-contained fcpd that fcp installs on hosts without one (npm run build's second step).
  const bundle = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'bundle.js')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (bundle.status !== 0) throw new Error(`integration globalSetup: bundling fcpd failed:\n${bundle.stdout}${bundle.stderr}`);
  process.stderr.write(`\nintegration globalSetup: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
