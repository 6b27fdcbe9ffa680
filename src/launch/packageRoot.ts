/** The installed package's root (where bin/ is), found from this file whether it runs from src/ or dist/. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/**
 * Set by the bundler (scripts/bundle.ts) in the self-contained fcpd, which runs without a
 * package.json beside it; undefined (never declared at run time) everywhere else.
 */
declare const FCP_BUNDLED_VERSION: string | undefined;

/** The package's version, "0.1.0". */
export function packageVersion(): string {
  if (typeof FCP_BUNDLED_VERSION === 'string') return FCP_BUNDLED_VERSION;
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'fastcopy') return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`fcp: cannot find its package root above ${__dirname}`);
  }
}
