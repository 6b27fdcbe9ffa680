/** fcp's release, from package.json, for --version on both commands. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../launch/packageRoot';
import { VERSION_RANGE } from '../protocol/constants';

export function version(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return `${manifest.version} (protocol ${VERSION_RANGE.min}..${VERSION_RANGE.max})`;
}
