/** The installed package's root (where bin/ is), found from this file whether it runs from src/ or dist/. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'fastcopy') return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`fcp: cannot find its package root above ${__dirname}`);
  }
}
