/**
 * fcp's Node flags (src/nodeFlags.ts) reach every process of its own: the bin/ scripts' shell line
 * execs node with them, and the remote command that runs a cached or installed fcpd passes them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { launchCommand } from '../../src/launch/remoteInstall';
import { NODE_FLAGS } from '../../src/nodeFlags';

const BIN = path.resolve(__dirname, '../../bin');

describe("fcp's Node flags", () => {
  it.each(['fcp', 'fcpd', 'fcp-track'])('bin/%s execs node with them', (name) => {
    const shellLine = fs.readFileSync(path.join(BIN, name), 'utf8').split('\n')[1]!;
    expect(shellLine.endsWith(`; exec node ${NODE_FLAGS.join(' ')} "$0" "$@"`)).toBe(true);
  });

  it('the remote command runs the cached fcpd and the installer with them', () => {
    const bundle = { version: '9.9.9', bytes: Buffer.from('x'), sha256: 'a'.repeat(64) };
    const command = launchCommand(bundle, 'serve', true, 10);
    const runs = command.match(/exec node [^']*-e /g) ?? [];
    expect(runs).toEqual([`exec node ${NODE_FLAGS.join(' ')} -e `, `exec node ${NODE_FLAGS.join(' ')} -e `]);
  });

  it('this Node takes them', () => {
    const run = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.exit(7)']);
    expect(run.status).toBe(7);
  });
});
