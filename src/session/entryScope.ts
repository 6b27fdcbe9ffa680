/**
 * Which entries a receiver accepts (PROTOCOL.md §7.2, rules E1..E4; E5, about hard links, needs the
 * files announced so far and is the receiving machine's): only what the request covers.
 * A malicious sender must not place anything the user did not ask for (scp's CVE-2019-6111: a
 * server answering `scp host:wanted.txt .` with `.ssh/authorized_keys`). Entry path syntax (no
 * `..`, no absolute path, §3) is checked earlier, when a message is decoded; this checks what a
 * well-formed path may name in this session. Pure: the receiving machine asks it about every
 * DIR_INFO, SYMLINK, FILE_INFO and FILE_INLINE before its owner touches the file system.
 */
import { FcpError } from '../errors';
import { ModeFlag } from '../protocol/constants';
import { isGlob, matchGlob } from '../protocol/glob';
import { requestedName } from '../protocol/paths';
import { showName } from '../showName';

const SLASH = 0x2f;

export type EntryKind = 'dir' | 'file' | 'symlink';

export interface ScopeOptions {
  /** MODE's RECURSIVE: without it no directory may come (E1). */
  recursive: boolean;
  /** The destination is not an existing directory: it becomes the one source, so one top-level name (E4). */
  singleRoot: boolean;
  /**
   * MODE's CONTENTS (sources with a trailing slash): every top-level entry is a source directory
   * standing for the destination itself (E4), so there may be one per source, each a directory.
   */
  contents?: boolean;
  /**
   * A pull's requested names, one per source (E3): the name it is sent under, or undefined where
   * only the server knows it (`.`, `~`): such a source admits one name of the server's choosing.
   * A name that is a pattern (`*.txt`) admits every name it matches. Undefined for a push, whose
   * sender is the client: it names its own sources.
   */
  roots?: readonly (Buffer | undefined)[];
}

function refused(text: string, hint?: string): FcpError {
  return new FcpError('FCP_ERR_BAD_PATH', text, { hint });
}


/**
 * Whether the first `length` bytes of `a` and `b` (both at least that long) are the same:
 * compared byte by byte, which for the few dozen bytes of a directory's path takes a tenth of a
 * subarray and equals(), or of a key string (asked for every entry).
 */
export function sameStart(a: Uint8Array, b: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class EntryScope {
  /** Directories announced so far (latin1 keys: a lossless spelling of any bytes). */
  private readonly directories = new Set<string>();
  /** Entries come directory by directory: the last parent admitted is most often the next one's. */
  private lastParent: Buffer | undefined;
  /** E4: the top-level name of a single-root transfer, once the first entry named it. */
  private root: Buffer | undefined;
  /** E3: names the server was free to choose, by the sources that allowed them. */
  private readonly chosenRoots: Buffer[] = [];
  private readonly openRoots: number;
  private readonly exactRoots: Buffer[] | undefined;
  /** E3: the last components of sources that are patterns. */
  private readonly patternRoots: Buffer[];

  constructor(private readonly options: ScopeOptions) {
    const named = options.roots?.filter((name): name is Buffer => name !== undefined).map((name) => Buffer.from(name));
    this.exactRoots = named?.filter((name) => !isGlob(name));
    this.patternRoots = named?.filter(isGlob) ?? [];
    this.openRoots = options.roots ? options.roots.length - named!.length : 0;
  }

  /** Why `path` may not come as a `kind` now, or undefined when it may (then it is recorded). */
  admit(kind: EntryKind, path: Buffer): FcpError | undefined {
    if (kind === 'dir' && !this.options.recursive) {
      return refused(`the peer sent directory ${showName(path)} in a transfer that is not recursive`, 'directories are copied only with -r');
    }
    const slash = path.lastIndexOf(SLASH);
    const problem = slash < 0 ? this.topLevelProblem(kind, path) : this.parentProblem(path, slash);
    if (problem) return problem;
    if (kind === 'dir') this.directories.add(path.toString('latin1'));
    return undefined;
  }

  /** E2: an entry below the top level (its parent the bytes before `slash`) goes into a directory announced before it. */
  private parentProblem(path: Buffer, slash: number): FcpError | undefined {
    if (this.lastParent?.length === slash && sameStart(this.lastParent, path, slash)) return undefined;
    const parent = path.subarray(0, slash);
    if (!this.directories.has(parent.toString('latin1'))) {
      return refused(
        `the peer sent ${showName(path)}, but not its directory ${showName(parent)} before it`,
        'an entry must follow the DIR_INFO of its directory; a symlink or a file is never one',
      );
    }
    // A copy: entry paths are views into received frames, whose memory may be reused.
    this.lastParent = Buffer.from(parent);
    return undefined;
  }

  private topLevelProblem(kind: EntryKind, name: Buffer): FcpError | undefined {
    if (this.options.contents && kind !== 'dir') {
      return refused(`the peer sent ${kind} ${showName(name)} at the top level of a transfer of directory contents (a source with a trailing /)`);
    }
    if (this.options.singleRoot && !this.options.contents) {
      this.root ??= Buffer.from(name);
      if (!name.equals(this.root)) {
        return refused(`the peer sent a second top-level entry ${showName(name)} after ${showName(this.root)} for a destination that is one name`);
      }
    }
    if (this.exactRoots === undefined || this.exactRoots.some((root) => root.equals(name))) return undefined;
    if (this.patternRoots.some((pattern) => matchGlob(pattern, name))) return undefined;
    if (this.chosenRoots.some((root) => root.equals(name))) return undefined;
    if (this.chosenRoots.length < this.openRoots) {
      this.chosenRoots.push(Buffer.from(name));
      return undefined;
    }
    const asked = [...this.exactRoots, ...this.patternRoots].map((root) => showName(root)).join(', ') || 'no other name';
    return refused(
      `the peer sent ${showName(name)}, which is not what was requested (${asked})`,
      'the server sent a name it was not asked for; it may be malicious, and nothing of it was written',
    );
  }
}

/**
 * The scope of a request, as both receivers build it: MODE's flags, whether the destination is an
 * existing directory, and for a pull the sources asked for.
 */
export function requestScope(flags: number, intoDirectory: boolean, pullSources?: readonly Buffer[]): EntryScope {
  return new EntryScope({
    recursive: (flags & ModeFlag.RECURSIVE) !== 0,
    singleRoot: !intoDirectory,
    contents: (flags & ModeFlag.CONTENTS) !== 0,
    roots: pullSources?.map(requestedName),
  });
}
