/**
 * Daemon access (README "Daemon access (fcp://)", PROTOCOL.md §5.4): the users a standing fcpd
 * takes logins from (its users file), and what a logged-in user's request may reach: the paths
 * of one module the user may use, as `MODULE/PATH`, checked under fcpd.toml's rules with that
 * module as the only one, so that no `..`, symlink or pattern leads out of it.
 */
import type { FcpdPolicy } from '../config/policy';
import { DaemonUser, readUsersFile } from '../config/secretFiles';
import type { FcpError } from '../errors';
import { showName } from '../showName';
import type { RequestAction } from '../session/connection';
import { LoginDelay } from './loginDelay';
import { AccessPolicy, policyRefusal } from './policy';

const SLASH = 0x2f;

/** A request as a module's paths, and the policy it runs under. */
export interface ModuleRequest {
  request: RequestAction;
  access: AccessPolicy;
}

export class DaemonLogins {
  /** The growing delay before a failed login is answered, per client address. */
  readonly delay = new LoginDelay();
  /** Refusals of a module the user may not use: failed logins, answered late as a wrong token is. */
  private readonly moduleRefusals = new WeakSet<FcpError>();

  private constructor(
    private readonly users: Map<string, DaemonUser>,
    private readonly rules: FcpdPolicy,
    private readonly log: (line: string) => void,
  ) {}

  /** Logins of fcpd.toml's users_file, or undefined when it names none (daemon access is off). */
  static load(rules: FcpdPolicy, log: (line: string) => void): DaemonLogins | undefined {
    if (rules.usersFile === undefined) return undefined;
    const users = readUsersFile(rules.usersFile, rules.modules.map((module) => module.name));
    return new DaemonLogins(users, rules, log);
  }

  get userCount(): number {
    return this.users.size;
  }

  /** The login key of `user`; undefined for a user the users file does not list. */
  keyFor(user: Buffer): Buffer | undefined {
    return this.users.get(user.toString('utf8'))?.key;
  }

  /** Whether `error` refused a login (wrong token, unknown user, a module the user may not use), not a path. */
  isLoginRefusal(error: FcpError): boolean {
    return error.code === 'FCP_ERR_AUTH' || this.moduleRefusals.has(error);
  }

  /** `request`'s paths (each `MODULE[/PATH]`, one module) inside that module, or FCP_ERR_POLICY. */
  moduleRequest(user: Buffer, request: RequestAction): ModuleRequest {
    const name = user.toString('utf8');
    const allowed = this.users.get(name)?.modules ?? [];
    const split = request.paths.map(splitModulePath);
    const moduleName = split[0]!.module;
    if (split.some((path) => path.module !== moduleName)) {
      throw policyRefusal('modules', `a session reaches one module; this request names ${[...new Set(split.map((p) => showName(p.module)))].join(', ')}`);
    }
    const module = this.rules.modules.find((candidate) => candidate.name === moduleName);
    if (!module || !allowed.includes(module.name)) {
      const refusal = policyRefusal('users_file', `user ${showName(name)} may not use module ${showName(moduleName)} (only ${allowed.join(', ')})`);
      this.moduleRefusals.add(refusal);
      throw refusal;
    }
    const escaping = split.find((path) => path.rest.toString('latin1').split('/').includes('..'));
    if (escaping) throw policyRefusal('modules', `${showName(escaping.whole)} leads out of module ${module.name} (..)`);
    const paths = split.map(({ rest }) => (rest.length === 0 ? Buffer.from(module.path) : Buffer.concat([Buffer.from(`${module.path}/`), rest])));
    this.log(`user ${showName(name)}: ${request.kind} in module ${module.name}`);
    return {
      request: { ...request, paths },
      access: new AccessPolicy({ ...this.rules, modules: [module] }, this.log),
    };
  }
}

/** `MODULE/PATH` as its module's name and the path within it (empty: the module's root). */
function splitModulePath(whole: Buffer): { module: string; rest: Buffer; whole: Buffer } {
  const slash = whole.indexOf(SLASH);
  if (slash < 0) return { module: whole.toString('utf8'), rest: Buffer.alloc(0), whole };
  let start = slash + 1;
  while (whole[start] === SLASH) start++;
  return { module: whole.subarray(0, slash).toString('utf8'), rest: whole.subarray(start), whole };
}
