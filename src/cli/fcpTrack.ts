/**
 * fcp-track: a folder linked to a remote folder, git-style (its own command, so that fcp's
 * scp-style operands keep their meaning): init, add, rm, status, diff, push, pull, log, repair.
 * The work is src/track/commands.ts's; this maps subcommands and options onto it and reports.
 */
import * as nodePath from 'node:path';
import { Command } from 'commander';
import { asFcpError, ExitCode, FcpError } from '../errors';
import { showName, showText } from '../showName';
import * as track from '../track/commands';
import type { TrackContext } from '../track/commands';
import type { ChunkRange } from '../track/chunkDiff';
import { argParser, bwlimit, collect, nonEmpty, sshPort } from './optionValues';
import { EXIT_CODES_HELP } from './exitCodes';
import { errorText } from './lastResort';
import { parseArgs } from './parseArgs';
import { errorRecord } from './reporter';
import { version } from './version';

interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}


interface InitOptions {
  sshConfig?: string;
  identity?: string[];
  port?: number;
  jump?: string;
  option?: string[];
  fcpdPath?: string;
}

const STATUS_LABELS: [keyof track.StatusReport, string][] = [
  ['new', 'new'],
  ['modified', 'modified'],
  ['deleted', 'deleted'],
  ['conflicting', 'conflict'],
  ['incoming', 'incoming'],
  ['untracked', 'untracked'],
];

/** A diff line's changed chunks: `  chunks 2-3 (bytes 2097152-4194303), ...`. */
function chunkText(line: track.DiffLine): string {
  if (!line.ranges) return '';
  if (line.ranges.length === 0) return '  no chunk differs';
  const run = (r: ChunkRange): string => `${r.firstChunk === r.lastChunk ? r.firstChunk : `${r.firstChunk}-${r.lastChunk}`} (bytes ${r.start}-${r.end - 1})`;
  return `  chunk${line.ranges.length === 1 && line.ranges[0]!.firstChunk === line.ranges[0]!.lastChunk ? '' : 's'} ${line.ranges.map(run).join(', ')} of ${line.chunkSize} bytes`;
}

/** Runs fcp-track with argv (node, script, args...); resolves with the exit code. */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let result: Promise<number> | undefined;
  const json = argv.includes('--json');
  const out = (line: string): void => {
    io.stdout.write(`${showText(line)}\n`);
  };
  const ctx: TrackContext = {
    cwd: process.cwd(),
    out,
    progress: io.stderr.isTTY ? (text) => io.stderr.write(`\r${text}\x1b[K`) : undefined,
  };
  const fail = (err: unknown): number => {
    const error = asFcpError(err);
    if (json) io.stdout.write(`${JSON.stringify(errorRecord(error))}\n`);
    else io.stderr.write(errorText('fcp-track', error, false));
    return error.exitCode;
  };
  const run = (work: () => Promise<number> | number): void => {
    result = (async () => {
      try {
        return await work();
      } catch (err) {
        return fail(err);
      }
    })();
  };
  const syncCommand = (command: 'push' | 'pull', option: 'ours' | 'theirs') => (options: { ours?: boolean; theirs?: boolean; bwlimit?: number }) =>
    run(async () => {
      ctx.bwlimit = options.bwlimit;
      const report = command === 'push' ? await track.push(ctx, { ours: options[option] }) : await track.pull(ctx, { theirs: options[option] });
      const { lines, error } = track.syncOutcome(report, command);
      if (json) out(JSON.stringify(report));
      else lines.forEach(out);
      return error ? fail(error) : ExitCode.OK;
    });

  const program = new Command('fcp-track')
    .description('Track a folder against a remote folder, git-style: status shows what changed (one stat per file; a digest only where size, mtime or ctime moved), push and pull move only the changes through fcp (delta, parallel connections, resume).')
    .version(version(), '-V, --version')
    .addHelpText('after', `\nThe folder's state is in .fcp/ (config.json, track.db); the remote folder keeps .fcp/remote-state.json (README "Tracked folders").\n.fcpignore holds rsync patterns of files never tracked.\n${EXIT_CODES_HELP}`)
    .showHelpAfterError('(fcp-track --help shows the commands)');
  program
    .command('init')
    .description('make this folder a tracked folder linked to [user@]host:/path, recording the connection options; in an empty folder, init then pull makes a clone')
    .argument('<remote>', '[user@]host:/path')
    .option('-F, --ssh-config <file>', 'ssh_config file to use instead of ~/.ssh/config')
    .option('-i, --identity <file>', 'SSH identity (private key) file; repeatable', collect)
    .option('-P, --port <port>', 'SSH port of the remote host', sshPort)
    .option('-J, --jump <hosts>', 'connect through jump hosts: [user@]host[:port][,...]')
    .option('-o, --option <Key=Value>', 'ssh_config option, as ssh -o; repeatable', collect)
    .option('--fcpd-path <command>', 'how to start fcpd on the remote host (default: fcpd on its PATH)', argParser(nonEmpty))
    .action((remote: string, o: InitOptions) =>
      run(() => {
        const absolute = (file: string): string => nodePath.resolve(ctx.cwd, file);
        track.init(ctx, remote, {
          ...(o.sshConfig ? { configFile: absolute(o.sshConfig) } : {}),
          ...(o.identity ? { identityFiles: o.identity.map(absolute) } : {}),
          ...(o.port ? { port: o.port } : {}),
          ...(o.jump ? { jump: o.jump } : {}),
          ...(o.option ? { options: o.option } : {}),
          ...(o.fcpdPath ? { fcpdPath: o.fcpdPath } : {}),
        });
        return ExitCode.OK;
      }),
    );
  program
    .command('add')
    .description('track these files (a directory: the files under it that .fcpignore does not leave out)')
    .argument('<paths...>')
    .action((paths: string[]) => run(async () => (await track.add(ctx, paths), ExitCode.OK)));
  program
    .command('rm')
    .description('stop tracking these files and delete them here; the next push deletes them there')
    .argument('<paths...>')
    .option('--cached', 'keep the files here (they become untracked)')
    .action((paths: string[], o: { cached?: boolean }) => run(async () => (await track.rm(ctx, paths, !!o.cached), ExitCode.OK)));
  program
    .command('status')
    .description('new, modified, deleted, untracked and conflicting files (conflicts and incoming changes by the remote record last fetched)')
    .option('--json', 'one JSON object of lists')
    .option('--fetch', 'read the remote record first (one connection)')
    .action((o: { json?: boolean; fetch?: boolean }) =>
      run(async () => {
        const report = await track.status(ctx, { fetch: o.fetch });
        if (ctx.progress) io.stderr.write('\r\x1b[K');
        if (o.json) out(JSON.stringify(report));
        else for (const [key, label] of STATUS_LABELS) for (const path of report[key]) out(`${label.padEnd(10)} ${showName(path)}`);
        return ExitCode.OK;
      }),
    );
  program
    .command('diff')
    .description('each changed file with its size here and in the remote record and, for a modified one, the chunks that differ from the last sync (only changed files are read)')
    .option('--json', 'one JSON array')
    .action((o: { json?: boolean }) =>
      run(async () => {
        const lines = await track.diff(ctx);
        if (o.json) out(JSON.stringify(lines));
        else for (const l of lines) out(`${l.change.padEnd(10)} ${showName(l.path)}  here ${l.localSize ?? '-'}  there ${l.remoteSize ?? '-'}${chunkText(l)}`);
        return ExitCode.OK;
      }),
    );
  for (const [name, option, description, wins] of [
    ['push', 'ours', 'send the files changed here (and deletions) to the remote folder, holding its lock (another push under way: FCP_ERR_LOCKED); a file also changed there is refused unless --ours', "this side's"],
    ['pull', 'theirs', 'fetch the files changed there (and deletions), showing what other clones pushed; a file also changed here is refused unless --theirs', "the remote side's"],
  ] as const) {
    program
      .command(name)
      .description(description)
      .option(`--${option}`, `conflicts: ${wins} version wins`)
      .option('--bwlimit <rate>', 'limit the bandwidth, in KiB/s or with a K, M or G suffix (as fcp --bwlimit)', argParser(bwlimit))
      .option('--json', 'one JSON object')
      .action(syncCommand(name, option));
  }
  program
    .command('log')
    .description("this clone's pushes and pulls: when, who, what, bytes")
    .option('--json', 'one JSON array')
    .action((o: { json?: boolean }) =>
      run(async () => {
        const entries = await track.log(ctx);
        if (o.json) out(JSON.stringify(entries));
        else for (const e of entries) out(`${e.at}  ${e.who}  ${e.action} ${e.files} file${e.files === 1 ? '' : 's'}, ${e.deleted} deleted, ${e.bytes} bytes: ${e.paths.map(showName).join(', ')}${e.files + e.deleted > e.paths.length ? ', ...' : ''}`);
        return ExitCode.OK;
      }),
    );
  program
    .command('repair')
    .description('rebuild a corrupted database from the folder and the remote record (the old one is kept as track.db.broken-*)')
    .action(() =>
      run(async () => {
        const count = await track.repair(ctx);
        out(`database rebuilt: ${count} file${count === 1 ? '' : 's'} tracked again (files only here are untracked: add them again)`);
        return ExitCode.OK;
      }),
    );
  const ended = parseArgs(program, argv, io as never);
  if (ended !== undefined) return ended;
  if (!result) return fail(new FcpError('FCP_ERR_USAGE', 'no command given', { hint: 'fcp-track --help lists them' }));
  return result;
}
