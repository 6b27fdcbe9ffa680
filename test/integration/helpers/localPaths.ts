/**
 * Local copies both ways the fcp command makes them: in its own process (the default) and through
 * a local fcpd (--via-fcpd), so that suites about local copies hold for both shapes.
 */
import { runFcp } from './run';

export type RunFcp = typeof runFcp;

/** The two ways, by label and the option that picks it. */
export const LOCAL_PATHS: [label: string, options: string[]][] = [
  ['in one process', []],
  ['via fcpd', ['--via-fcpd']],
];

/**
 * A test of local copies, run once per LOCAL_PATHS: the body's `runFcp` puts that path's option
 * in front of its arguments, so the same assertions hold for both shapes.
 */
export function testBothLocalPaths(name: string, body: (run: RunFcp) => Promise<void>, timeoutMs?: number): void {
  test.each(LOCAL_PATHS)(`${name.replace(/%/g, '%%')} (%s)`, (_label, option) => body((args, options) => runFcp([...option, ...args], options)), timeoutMs);
}

