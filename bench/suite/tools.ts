/**
 * The tools `npm run bench` compares, as command lines for a link, a data set and a direction.
 * Every tool copies the data set's top entry INTO an existing output directory (which holds one
 * unrelated file: measure.ts), so that every output lands at out/NAME and is checked the same way.
 * fcp's fcpd runs under GNU time (a wrapper given as --fcpd-path) so that its CPU and peak RSS are
 * known too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NODE_FLAGS } from '../../src/nodeFlags';
import type { DataSet } from './data';
import { WAN_HOST_A, WAN_HOST_B, WAN_NETNS_A, WAN_NETNS_B, type Link } from './links';

export type Direction = 'push' | 'pull' | 'local';

export interface Tool {
  label: string;
  /** The baseline of ratios (cp -a, scp), a peer, fcp, or a floor (what the machine charges for the shape alone). */
  role: 'baseline' | 'peer' | 'fcp' | 'floor';
  command(data: DataSet, out: string): string[];
}

const REPO = path.resolve(__dirname, '../../..');
const NODE = process.execPath;
/**
 * Node for a floor row, the least a Node process needs: without the certificates
 * NODE_EXTRA_CA_CERTS names, which Node reads at every start and fcp does not (bin/fcp).
 */
const FLOOR_NODE = ['env', '-u', 'NODE_EXTRA_CA_CERTS', NODE];
const FCP = path.join(REPO, 'bin', 'fcp');
const FLOOR_COPY = path.join(REPO, 'dist', 'bench', 'floorCopy.js');
const LOCAL_FLOOR = path.join(REPO, 'dist', 'bench', 'localFloor.js');

/**
 * fcpd (of `repo`: this checkout, or BASELINE's) under GNU time, appending "user system maxRSS-KiB"
 * to `log` when it exits. bin/fcpd is run as the program it is, so that its shell line starts Node
 * with that build's flags (src/nodeFlags.ts); it execs node, which time then measures.
 */
export function timedFcpd(work: string, log: string, repo = REPO): string {
  const wrapper = path.join(work, repo === REPO ? 'fcpd-timed' : 'fcpd-timed-baseline');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/time -a -o ${log} -f '%U %S %M' ${path.join(repo, 'bin', 'fcpd')} "$@"\n`, { mode: 0o755 });
  return wrapper;
}

/** The timed fcpd wrappers (timedFcpd) fcp's rows are given: this checkout's, and BASELINE's when set. */
export interface FcpdPaths {
  ours: string;
  baseline?: string;
}

/** BASELINE=DIR: an older build of fcp (its own bin/fcp and bin/fcpd, built) measured in the same run, as bench/remote.sh takes it. */
const BASELINE = process.env.BASELINE;
const baselineLabel = `fcp before (${BASELINE})`;

const floorKind = (data: DataSet) => (data.directory ? 'tree' : 'file');

function localTools(): Tool[] {
  const fcp = (label: string, ...options: string[]): Tool => ({ label, role: 'fcp', command: (d, out) => [FCP, '-q', '-r', ...options, d.path, out] });
  return [
    { label: 'cp -a', role: 'baseline', command: (d, out) => ['cp', '-a', d.path, out] },
    { label: 'rsync -a', role: 'peer', command: (d, out) => ['rsync', '-a', d.path, `${out}/`] },
    { label: 'floor: two Node processes, loopback TCP, plain', role: 'floor', command: (d, out) => [...FLOOR_NODE, FLOOR_COPY, floorKind(d), d.path, path.join(out, d.name)] },
    // What a copy in one Node process must call and hash, with nothing else (bench/localFloor.ts).
    { label: 'floor: one Node process, its system calls and xxh64 alone', role: 'floor', command: (d, out) => [...FLOOR_NODE, LOCAL_FLOOR, d.path, path.join(out, d.name)] },
    // The same calls on two threads: reads on the main thread, writes in a worker fed through shared memory.
    { label: 'floor: the same, the writes in a worker thread', role: 'floor', command: (d, out) => [...FLOOR_NODE, LOCAL_FLOOR, '--threads', d.path, path.join(out, d.name)] },
    // The same calls with the least JavaScript around them: each straight to Node's fs binding (localFloor --binding).
    { label: "floor: the same calls, each straight to Node's fs binding", role: 'floor', command: (d, out) => [...FLOOR_NODE, LOCAL_FLOOR, '--binding', d.path, path.join(out, d.name)] },
    // The same calls in a process that first loads fcp's code as bin/fcp does, with its Node flags: a lower bound of fcp's shape (localFloor --in-fcp).
    { label: "floor of fcp's shape: fcp's code loaded, then the calls straight to the binding", role: 'floor', command: (d, out) => [...FLOOR_NODE, ...NODE_FLAGS, LOCAL_FLOOR, '--in-fcp', '--binding', d.path, path.join(out, d.name)] },
    // The kernel writes the copy (copy_file_range), the source read and hashed beside it (localFloor --copy-file).
    { label: 'floor: the kernel copies (fs.copyFile), the source read for its xxh64 beside it', role: 'floor', command: (d, out) => [...FLOOR_NODE, LOCAL_FLOOR, '--copy-file', d.path, path.join(out, d.name)] },
    fcp('fcp (in one process)'),
    ...(BASELINE ? [{ label: baselineLabel, role: 'fcp' as const, command: (d: DataSet, out: string) => [path.join(BASELINE, 'bin', 'fcp'), '-q', '-r', d.path, out] }] : []),
    fcp('fcp --no-verify', '--no-verify'),
    fcp('fcp --via-fcpd', '--via-fcpd'),
  ];
}

/**
 * Whether scp sits out: it pays round trips for every file (scp -r speaks SFTP), so many tiny
 * files over any link, or a tree over a WAN, would take it hours; tar | ssh is the baseline there.
 */
const scpSitsOut = (link: Link, data: DataSet): boolean => data.many === true || (link.iperf !== undefined && data.directory);

function networkTools(link: Link, direction: 'push' | 'pull', fcpd: FcpdPaths, data: DataSet): Tool[] {
  const noScp = scpSitsOut(link, data);
  const host = link.host!;
  const config = link.sshConfig!;
  const ssh = `ssh -F ${config}`;
  // The remote host shares this file system (loopback, or namespaces): a remote path is a local one.
  const ends = (d: DataSet, out: string): [string, string] => (direction === 'push' ? [d.path, `${host}:${out}`] : [`${host}:${d.path}`, out]);
  const fcp = (label: string, ...options: string[]): Tool => ({
    label,
    role: 'fcp',
    command: (d, out) => [FCP, '-q', '-r', '-F', config, '--fcpd-path', fcpd.ours, ...options, ...ends(d, out)],
  });
  // `first`: what the remote command runs before its tar (the floor's fcpd start).
  const tar = (d: DataSet, out: string, first = ''): string =>
    direction === 'push'
      ? `tar -C ${path.dirname(d.path)} -cf - ${d.name} | ${ssh} ${host} ${remote(first, `tar -C ${out} -xf -`)}`
      : `${ssh} ${host} ${remote(first, `tar -C ${path.dirname(d.path)} -cf - ${d.name}`)} | tar -C ${out} -xf -`;
  const tools: Tool[] = [
    ...(noScp ? [] : [{ label: 'scp', role: 'baseline' as const, command: (d: DataSet, out: string) => ['scp', '-q', '-r', '-F', config, ...ends(d, out)] }]),
    { label: 'rsync -a -e ssh', role: 'peer', command: (d, out) => { const [from, to] = ends(d, out); return ['rsync', '-a', '-e', ssh, from, `${to}/`]; } },
    { label: 'tar c | ssh tar x', role: noScp ? 'baseline' : 'peer', command: (d, out) => ['sh', '-c', tar(d, out)] },
    fcp('fcp (default: AES-256-GCM, connections tuned at run time)'),
    // Its fcpd is its own, under GNU time as ours, writing to the same log.
    ...(BASELINE && fcpd.baseline
      ? [{ label: baselineLabel, role: 'fcp' as const, command: (d: DataSet, out: string) => [path.join(BASELINE, 'bin', 'fcp'), '-q', '-r', '-F', config, '--fcpd-path', fcpd.baseline!, ...ends(d, out)] }]
      : []),
    fcp('fcp --no-encrypt', '--no-encrypt'),
    fcp('fcp -n 1', '-n', '1'),
    // The default before the tuning (issue 14).
    fcp('fcp -n 4', '-n', '4'),
    fcp('fcp -n 8', '-n', '8'),
    fcp('fcp -n 16', '-n', '16'),
  ];
  // The tree's floor of fcp's shape: tar's own copy, plus what fcp cannot avoid before its first byte.
  if (data.directory && !data.many) tools.push({ label: TREE_SHAPE_FLOOR, role: 'floor', command: (d, out) => ['bash', '-c', `${oneRoundTrip(ssh, host)} && ${tar(d, out, FCPD_START)}`] });
  if (link.name === 'loopback') {
    // Two Node processes on this machine with nothing but sockets between them: the engine's shape.
    const floor = (label: string, flags: string): Tool => ({ label, role: 'floor', command: (d, out) => [...FLOOR_NODE, FLOOR_COPY, floorKind(d), d.path, path.join(out, d.name), flags] });
    tools.push(floor('floor: two Node processes, loopback TCP, plain', 'plain'), floor('floor: two Node processes, loopback TCP, AES-256-GCM', 'aes'));
    // A tree of small files: what two processes must do per file to keep its mode and nanosecond
    // mtime (lstat, open, read, close; a record in a sealed batch; mkdir, open, write, futimes, close).
    if (data.name === 'tree' || data.many) tools.push(floor('floor: two Node processes, loopback TCP, AES-256-GCM, per file lstat, mode and mtime', 'aes,meta'));
    // Many files in fcp's shape: what its launch costs before the first byte (the login, the remote
    // shell, fcpd's start), then the same per-file floor with the fstat that checks each read.
    if (data.many) tools.push(afterLogin(link, floor(MANY_FILES_SHAPE_FLOOR, 'aes,meta,check'), FCPD_START));
    // The same shape with what a verified copy adds (an xxh64 of every 1 MiB piece on both sides, checked): the floor of fcp's default and --no-encrypt.
    if (!data.directory) {
      tools.push(
        floor('floor: two Node processes, loopback TCP, plain, xxh64 of every chunk', 'plain,verify'),
        floor('floor: two Node processes, loopback TCP, AES-256-GCM, xxh64 of every chunk', 'aes,verify'),
        afterLogin(link, floor('floor: the same, after an SSH login', 'aes,verify')),
      );
    }
  }
  return tools;
}

const TREE_SHAPE_FLOOR = "floor: fcp's shape, tar c | ssh tar x with fcpd's start before tar and a TCP connect and one round trip first";
const MANY_FILES_SHAPE_FLOOR = "floor: fcp's shape, an SSH login that starts fcpd's bundle, then the per-file floor with the fstat that checks each read";
/** fcpd's start as the remote command of fcp's launch runs it (Node, fcpd's bundle and its code cache), before the floor's tar. */
const FCPD_START = `${NODE} ${path.join(REPO, 'bin', 'fcpd')} --version >/dev/null`;

/** The remote command: `first`, then `command`, quoted for the remote shell. */
const remote = (first: string, command: string): string => (first ? `'${first} && ${command}'` : command);

/**
 * A TCP connect to the host's sshd and one request and answer (bash's /dev/tcp: sshd sends its
 * banner, reads a line that is no SSH identification, and closes), as fcp's control connection
 * to fcpd costs before its first byte: two round trips on the link, none of an SSH login.
 */
function oneRoundTrip(ssh: string, host: string): string {
  return `hp=$(${ssh} -G ${host} | awk '/^hostname /{h=$2} /^port /{p=$2} END{print h "/" p}') && exec 3<>/dev/tcp/$hp && printf 'x\\r\\n' >&3 && cat <&3 >/dev/null && exec 3<&-`;
}

/**
 * `floor` after `ssh HOST true` (the key exchange, the authentication, the remote user's shell and
 * its rc files), as every tool that starts its peer over SSH pays first, or after `ssh HOST
 * remoteCommand` (fcpd's start: what fcp's launch waits for). Login and copy follow one another
 * there, so it is not a strict floor: a tool may overlap part of its login with other work.
 */
function afterLogin(link: Link, floor: Tool, remoteCommand = 'true'): Tool {
  return { ...floor, command: (d, out) => ['sh', '-c', `ssh -F ${link.sshConfig!} ${link.host!} '${remoteCommand}' && exec "$@"`, 'floor', ...floor.command(d, out)] };
}

/** Connections of the WAN floors: as many as fcp's tuned count may grow to, and iperf3 -P 8's streams. */
const WAN_FLOOR_CONNECTIONS = 8;

/**
 * The WAN's floors: two Node processes, one in each namespace, a file's contiguous ranges over
 * WAN_FLOOR_CONNECTIONS connections, plain and sealed (bench/floorCopy.ts). The sender is where
 * fcp's sender is (host A pushing, host B pulling). What no design of two Node processes on this
 * machine's two cores, beside the delay line, beats: if it is short of iperf3 -P 8, so is fcp.
 * The third pays an SSH login first (afterLogin; fcp's 200 ms push was faster than it).
 */
function wanFloors(link: Link, direction: 'push' | 'pull'): Tool[] {
  const [senderNetns, receiverNetns, receiverHost] = direction === 'push' ? [undefined, WAN_NETNS_B, WAN_HOST_B] : [WAN_NETNS_B, WAN_NETNS_A, WAN_HOST_A];
  const floorCopy = (d: DataSet, out: string, cipher: string): string[] => [
    // Commands run in host A (link.wrap); a pull's sender moves to host B.
    ...(senderNetns ? ['ip', 'netns', 'exec', senderNetns] : []),
    ...FLOOR_NODE, FLOOR_COPY, 'file', d.path, path.join(out, d.name), cipher,
    '--host', receiverHost, '--connections', String(WAN_FLOOR_CONNECTIONS), '--receiver-netns', receiverNetns,
  ];
  const floor = (label: string, cipher: string): Tool => ({ label, role: 'floor', command: (d, out) => floorCopy(d, out, cipher) });
  const across = `floor: two Node processes across the WAN, ${WAN_FLOOR_CONNECTIONS} connections`;
  return [
    floor(`${across}, plain`, 'plain'),
    floor(`${across}, AES-256-GCM`, 'aes'),
    afterLogin(link, floor(`${across}, AES-256-GCM, after an SSH login (ssh ${link.host} true)`, 'aes')),
  ];
}

export function toolsFor(link: Link, direction: Direction, fcpd: FcpdPaths, data: DataSet): Tool[] {
  // The WAN floors copy one file (a tree's floor is one connection, not what the WAN asks).
  const tools = direction === 'local' ? localTools() : [...networkTools(link, direction, fcpd, data), ...(link.iperf && !data.directory ? wanFloors(link, direction) : [])];
  // The floors write every file: into a landing that holds them they are no floor of comparing.
  return data.landing ? tools.filter((tool) => tool.role !== 'floor') : tools;
}
