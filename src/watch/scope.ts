/**
 * A narrowed two-way round's scope, pure (PROTOCOL.md §7.12, more feature TWO_WAY_NARROW): the
 * paths either side's file-system events named since its last listing. A scope path stands for
 * itself and, when it is a directory, everything below it; a round lists, decides and acts on
 * those paths only. A side gathers its paths in ChangedPaths; a listing takes them, or says it
 * must be whole (events lost, none at all, or too many paths).
 */
import { MAX_NARROWED_PATHS } from './constants';

/** What a listing of one side covers: everything, or the paths of a scope. */
export type Scope = 'whole' | ReadonlySet<string>;

/** Whether a directory above `path` is a scope path. */
function belowOneOf(path: string, scope: ReadonlySet<string>): boolean {
  for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
    if (scope.has(path.slice(0, slash))) return true;
  }
  return false;
}

/** Whether `path` is a scope path or below one. */
export function inScope(path: string, scope: ReadonlySet<string>): boolean {
  return scope.has(path) || belowOneOf(path, scope);
}

/** The scope of paths `a` and `b` together; whole when either is, or when they hold more than MAX_NARROWED_PATHS. */
export function unionScope(a: Scope, b: Scope): Scope {
  if (a === 'whole' || b === 'whole') return 'whole';
  const union = new Set([...a, ...b]);
  return union.size > MAX_NARROWED_PATHS ? 'whole' : union;
}

/**
 * The paths a side's events named since its last listing began. It starts lost: what changed
 * before the watcher ran is known to no event, so the first listing is whole.
 */
export class ChangedPaths {
  private paths = new Set<string>();
  private lost = true;

  /** An event named this path (latin1 spelling, relative, `/`-separated). */
  add(path: string): void {
    if (this.lost) return;
    this.paths.add(path);
    // Beyond the cap the next listing is whole anyway: nothing more to keep.
    if (this.paths.size > MAX_NARROWED_PATHS) this.markLost();
  }

  /** Events may have been lost (the watcher failed, or there is none): the next listing is whole. */
  markLost(): void {
    this.lost = true;
    this.paths.clear();
  }

  /** A listing begins: the paths named since the last one (or whole); events from now on are the next listing's. */
  take(): Scope {
    const taken: Scope = this.lost ? 'whole' : this.paths;
    this.paths = new Set();
    this.lost = false;
    return taken;
  }
}

/** The scope's paths that no other of them is above: together they cover it, each once. */
export function topPaths(scope: ReadonlySet<string>): string[] {
  return [...scope].filter((path) => !belowOneOf(path, scope));
}
