/**
 * README's first command ends in `npm run demo`: the demo copies its sample tree through a local
 * fcpd and checks every entry. It broke once unnoticed (a placement change nested the copy), so it
 * runs here as users run it, from the built dist/.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers/run';

jest.setTimeout(120_000);

test('npm run demo copies its sample tree and finds every entry identical', () => {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'demo.js')], { encoding: 'utf8', timeout: 110_000 });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  expect(run.stdout).toMatch(/^ok: all \d+ entries identical/m);
});
