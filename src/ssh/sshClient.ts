/**
 * An SSH connection with ssh2 that behaves like OpenSSH's: through ProxyJump hosts (each hop's
 * host key checked), host keys checked against known_hosts, authentication in OpenSSH's order
 * (agent, identity files, keyboard-interactive, password), prompts only on a TTY and never in
 * BatchMode, and errors that say which host and what to do.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import type { AuthenticationType, Client, ClientChannel } from 'ssh2';
import { FcpError } from '../errors';
import { trace } from '../trace';
import { ConnectTarget, connectError, socketConnectError, tcpConnect } from '../wire/tcpConnect';
import { ssh2 } from './ssh2Module';
import { keyTypeOfBlob, loadKnownHosts, orderHostKeyAlgorithms, verifyHostKey } from './knownHosts';
import type { Prompter } from './prompt';
import type { JumpHop, ResolvedHost } from './sshConfig';

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** ssh2's default host key algorithms, in its order; reordered per host below. */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
/** ConnectTimeout when the config sets none (OpenSSH waits for the system's TCP timeout). */
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** After the greeting, the key exchange and the login (prompts included) must end within this. */
const LOGIN_TIMEOUT_MS = 20_000;

export interface SshContext {
  /** Resolves a ProxyJump hop with the ssh config, as OpenSSH does for each hop. */
  resolveHop(hop: JumpHop): ResolvedHost;
  prompter: Prompter | undefined;
  log(line: string): void;
}

export interface SshConnection {
  readonly client: Client;
  /** user@host:port, for messages. */
  readonly name: string;
  /** The address the TCP connection reached; undefined behind a jump host. */
  readonly reachedAddress: string | undefined;
  exec(command: string): Promise<ClientChannel>;
  /** A TCP connection from the SSH server's side to host:port, carried inside SSH. */
  forwardOut(host: string, port: number): Promise<Duplex>;
  close(): void;
}

function nameOf(host: ResolvedHost): string {
  const hostPart = host.hostName.includes(':') ? `[${host.hostName}]` : host.hostName;
  return `${host.user}@${hostPart}${host.port === 22 ? '' : `:${host.port}`}`;
}

/** What to try when the SSH server cannot be reached, by cause (an errno code or 'timeout'). */
function connectHint(cause: string): string {
  switch (cause) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'check the host name (and HostName in ~/.ssh/config)';
    case 'ECONNREFUSED':
      return 'check that sshd runs there and that the port is right (-P, or Port in ~/.ssh/config)';
    case 'timeout':
      return 'check that the host is up and no firewall drops its SSH port; -o ConnectTimeout=SECONDS waits longer';
    case 'handshake':
      return 'check that the port is an SSH server; fcp -v shows the connection steps';
    case 'closed':
    case 'ECONNRESET':
      return "the server dropped the connection before login: see its sshd log (MaxStartups, AllowUsers, tcp wrappers)";
    default:
      return 'check the host name, the port and the network';
  }
}

function connectTimeoutMs(host: ResolvedHost): number {
  return host.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
}

/** The SSH server as failures to connect name it: "HOST port PORT", with the hints above. */
function sshTarget(host: ResolvedHost): ConnectTarget {
  return { host: host.hostName, port: host.port, hint: connectHint };
}

/** ProxyCommand: the SSH connection runs over the command's stdin and stdout, as in ssh. */
function proxyCommandSocket(command: string, ctx: SshContext): Duplex {
  // node:child_process (with dgram and the socket list it loads) only for a ProxyCommand: not on
  // every login's path before the TCP connection.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (chunk: Buffer) => ctx.log(`ProxyCommand: ${chunk.toString('utf8').trimEnd()}`));
  return Duplex.from({ readable: child.stdout, writable: child.stdin });
}

function forwardOut(client: Client, host: string, port: number, via: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    client.forwardOut('127.0.0.1', 0, host, port, (err, channel) =>
      err
        ? reject(connectError({ host, port }, `${via} could not open a connection there (${err.message})`, 'forward', err))
        : resolve(channel),
    ),
  );
}

type AuthMethod = Parameters<Extract<NonNullable<import('ssh2').ConnectConfig['authHandler']>, Function>>[2] extends (m: infer M) => void ? M : never;

/** The authentication attempts OpenSSH would make, in its order; each may decline (undefined). */
function authAttempts(host: ResolvedHost, ctx: SshContext, tried: string[]): { type: AuthenticationType; make: () => Promise<AuthMethod | undefined> }[] {
  const username = host.user;
  const prompter = host.batchMode ? undefined : ctx.prompter;
  const attempts: { type: AuthenticationType; make: () => Promise<AuthMethod | undefined> }[] = [];
  const agent = host.identityAgent === 'none' ? undefined : host.identityAgent ?? process.env.SSH_AUTH_SOCK;
  if (agent && !host.identitiesOnly) {
    attempts.push({ type: 'agent', make: async () => (tried.push('agent'), { type: 'agent', username, agent }) });
  }
  const files = host.identityFilesFromConfig
    ? host.identityFiles
    : DEFAULT_IDENTITIES.map((name) => path.join(os.homedir(), '.ssh', name));
  for (const file of files) {
    attempts.push({ type: 'publickey', make: () => loadIdentity(file, username, prompter, ctx, tried) });
  }
  if (prompter && host.kbdInteractiveAuthentication) {
    attempts.push({
      type: 'keyboard-interactive',
      make: async () => {
        tried.push('keyboard-interactive');
        return {
          type: 'keyboard-interactive',
          username,
          prompt: (_name, instructions, _lang, prompts, finish) => {
            if (instructions) ctx.log(instructions);
            void (async () => {
              const answers: string[] = [];
              for (const p of prompts) answers.push(await prompter.ask(`(${nameOf(host)}) ${p.prompt}`, !p.echo));
              finish(answers);
            })().catch(() => finish([]));
          },
        };
      },
    });
  }
  if (prompter && host.passwordAuthentication) {
    attempts.push({
      type: 'password',
      make: async () => {
        tried.push('password');
        return { type: 'password', username, password: await prompter.ask(`${nameOf(host)}'s password: `, true) };
      },
    });
  }
  return attempts;
}

async function loadIdentity(file: string, username: string, prompter: Prompter | undefined, ctx: SshContext, tried: string[]): Promise<AuthMethod | undefined> {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log(`ssh: cannot read identity ${file}: ${(err as Error).message}`);
    return undefined;
  }
  let parsed = ssh2().utils.parseKey(data);
  for (let attempt = 0; parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message) && attempt < 3; attempt++) {
    if (!prompter) {
      ctx.log(`ssh: ${file} is encrypted and there is no terminal to ask for its passphrase; skipped`);
      return undefined;
    }
    const passphrase = await prompter.ask(`Enter passphrase for key '${file}': `, true);
    parsed = ssh2().utils.parseKey(data, passphrase);
  }
  if (parsed instanceof Error) {
    ctx.log(`ssh: cannot use identity ${file}: ${parsed.message}`);
    return undefined;
  }
  tried.push(file);
  return { type: 'publickey', username, key: Array.isArray(parsed) ? parsed[0]! : parsed };
}

/**
 * Runs the SSH handshake and authentication over `sock`. The server's greeting (its banner and
 * the first reply of the key exchange, up to the host key check) must come by `greetingDeadline`:
 * that is ConnectTimeout's bound, as in OpenSSH.
 */
function handshake(host: ResolvedHost, sock: Duplex, ctx: SshContext, greetingDeadline: number): Promise<Client> {
  const client = new (ssh2().Client)();
  const name = nameOf(host);
  const target = sshTarget(host);
  const tried: string[] = [];
  const attempts = authAttempts(host, ctx, tried);
  let hostKeyError: FcpError | undefined;
  const knownHostsFiles = [...host.userKnownHostsFiles, ...host.globalKnownHostsFiles];
  const keyHost = host.hostKeyAlias ?? host.hostName;
  // Ask first for the key types known_hosts has for this host, as ssh does: otherwise the
  // server may offer a type we hold no key for, which would look like a changed key.
  let serverHostKey = HOST_KEY_ALGORITHMS;
  try {
    serverHostKey = orderHostKeyAlgorithms(loadKnownHosts(knownHostsFiles).entries, keyHost, host.port, HOST_KEY_ALGORITHMS);
  } catch {
    // An unreadable known_hosts file is reported by verifyHostKey below.
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: FcpError): void => {
      if (settled) return;
      settled = true;
      stopWatching();
      sock.destroy();
      reject(error);
    };
    const closedEarly = (): void => fail(connectError(target, 'the server closed the connection during the SSH handshake', 'closed'));
    const greetingTimer = setTimeout(
      () => fail(connectError(target, `no SSH greeting within ${connectTimeoutMs(host) / 1000} s (ConnectTimeout)`, 'timeout')),
      Math.max(0, greetingDeadline - Date.now()),
    );
    const stopWatching = (): void => {
      clearTimeout(greetingTimer);
      client.removeListener('close', closedEarly);
      sock.removeListener('end', closedEarly);
    };
    client.once('ready', () => {
      trace('SSH login done');
      settled = true;
      stopWatching();
      client.removeAllListeners('error');
      client.on('error', (err) => ctx.log(`ssh: ${name}: ${err.message}`));
      resolve(client);
    });
    // Ahead of ssh2's own listeners: a server that hangs up is named as such, not as a protocol error.
    sock.once('end', closedEarly);
    client.once('close', closedEarly);
    // 'on', not 'once': ssh2 can report a second error (the socket's) after the first.
    client.on('error', (err: Error & { level?: string }) => {
      if (hostKeyError) return fail(hostKeyError);
      if (err.level === 'client-authentication') {
        return fail(
          new FcpError('FCP_ERR_AUTH', `ssh: permission denied for ${name} (tried: ${tried.join(', ') || 'nothing'})`, {
            cause: err,
            hint: host.batchMode
              ? 'BatchMode is on, so nothing was prompted: load a key into ssh-agent or give one with -i'
              : 'check the user name, load your key into ssh-agent, or give it with -i',
          }),
        );
      }
      if (err.level === 'client-timeout') {
        return fail(new FcpError('FCP_ERR_TIMEOUT', `ssh: ${name} did not finish the SSH login in time`, { cause: err }));
      }
      if (err.level === 'client-socket') return fail(socketConnectError(target, err, ' during the SSH handshake'));
      fail(connectError(target, `SSH handshake failed: ${err.message}`, 'handshake', err));
    });
    client.connect({
      sock: sock as net.Socket,
      username: host.user,
      readyTimeout: Math.max(0, greetingDeadline - Date.now()) + LOGIN_TIMEOUT_MS,
      keepaliveInterval: host.serverAliveIntervalMs,
      // ForwardAgent: the session's exec asks for agent forwarding (ssh -A); without an agent there is nothing to forward.
      ...(host.forwardAgent && host.identityAgent !== 'none' ? { agent: host.identityAgent, agentForward: true } : {}),
      keepaliveCountMax: host.serverAliveCountMax,
      algorithms: { serverHostKey: serverHostKey as never },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        // The server has greeted: what follows may wait for the user (a new host key's question).
        clearTimeout(greetingTimer);
        trace('SSH key exchange: host key received');
        const keyType = keyTypeOfBlob(key) ?? 'unknown';
        verifyHostKey({
          host: keyHost,
          port: host.port,
          address: sock instanceof net.Socket ? sock.remoteAddress : undefined,
          keyType,
          keyBlob: key,
          files: knownHostsFiles,
          strict: host.batchMode && host.strictHostKeyChecking === 'ask' ? 'yes' : host.strictHostKeyChecking,
          hashKnownHosts: host.hashKnownHosts,
          // OpenSSH takes only a typed "yes" as consent to trust a new host key.
          ask: ctx.prompter && !host.batchMode ? async (question) => (await ctx.prompter!.ask(question, false)).trim() === 'yes' : undefined,
        }).then(
          (outcome) => {
            if (outcome.accepted) {
              if (outcome.added) ctx.log(`ssh: added the host key of ${name} to ${outcome.added}`);
              if (outcome.addError) ctx.log(`ssh: failed to add the host to the list of known hosts: ${outcome.addError.message}`);
              return verify(true);
            }
            hostKeyError = outcome.error;
            verify(false);
          },
          (err: unknown) => {
            hostKeyError = err instanceof FcpError ? err : new FcpError('FCP_ERR_AUTH', `ssh: host key check of ${name} failed: ${String(err)}`);
            verify(false);
          },
        );
      },
      authHandler: (methodsLeft, _partial, next) => {
        void (async () => {
          while (attempts.length > 0) {
            const attempt = attempts.shift()!;
            if (methodsLeft && !methodsLeft.includes(attempt.type === 'agent' ? 'publickey' : attempt.type)) continue;
            const method = await attempt.make();
            if (method) return next(method);
          }
          next(false as unknown as AuthMethod);
        })().catch(() => next(false as unknown as AuthMethod));
      },
    });
  });
}

/**
 * The SSH connection sends each packet as it is written (TCP_NODELAY). With Nagle's algorithm a
 * packet written while the one before is not yet acknowledged waits for that ACK, which the
 * server delays (up to 40 ms on Linux) when it has nothing to send back at once. ssh2 writes the
 * login's packets one by one (NEWKEYS, the service request, the publickey query, the signed
 * request): over the loopback sshd the login took 60 ms from the host key with Nagle, 19
 * without (medians of 9, FCP_TRACE). fcp's own connections are already without it (dial.ts,
 * sessionServer.ts).
 */
function withoutNagle(socket: net.Socket): net.Socket {
  return socket.setNoDelay(true);
}

/** Connects to `host`, through its ProxyJump hops when it has any. */
export async function connectSsh(host: ResolvedHost, ctx: SshContext): Promise<SshConnection> {
  const clients: Client[] = [];
  try {
    let via: { client: Client; name: string } | undefined;
    for (const hop of [...host.proxyJump.map((h) => ctx.resolveHop(h)), host]) {
      // One ConnectTimeout budget for the connection and the greeting, as OpenSSH spends it.
      const greetingDeadline = Date.now() + connectTimeoutMs(hop);
      const opening: Duplex | Promise<Duplex> = via
        ? forwardOut(via.client, hop.hostName, hop.port, via.name)
        : hop.proxyCommand && hop.proxyJump.length === 0
          ? proxyCommandSocket(hop.proxyCommand, ctx)
          : tcpConnect(sshTarget(hop), connectTimeoutMs(hop), hop.addressFamily).then(withoutNagle);
      // Node sends the SYN on the next tick: let it go out, then load ssh2 during the round trip.
      await new Promise<void>((resolve) => process.nextTick(resolve));
      ssh2();
      const sock = await opening;
      trace(`${via ? 'tunnel' : 'TCP'} connected to ${nameOf(hop)}`);
      ctx.log(`ssh: connecting to ${nameOf(hop)}${via ? ` through ${via.name}` : ''}`);
      const client = await handshake(hop, sock, ctx, greetingDeadline);
      clients.push(client);
      via = { client, name: nameOf(hop) };
    }
  } catch (err) {
    for (const client of clients) client.end();
    throw err;
  }
  const client = clients[clients.length - 1]!;
  const name = nameOf(host);
  const sock = (client as unknown as { _sock?: net.Socket })._sock;
  return {
    client,
    name,
    reachedAddress: sock instanceof net.Socket ? sock.remoteAddress : undefined,
    exec: (command) =>
      new Promise((resolve, reject) => {
        trace('exec sent');
        client.exec(command, (err, channel) => {
          trace('exec accepted');
          return err ? reject(new FcpError('FCP_ERR_CONNECT', `ssh: ${name} refused to run ${command}: ${err.message}`, { cause: err })) : resolve(channel);
        });
      }),
    forwardOut: (target, port) => forwardOut(client, target, port, name),
    close: () => {
      for (const c of clients.reverse()) c.end();
    },
  };
}
