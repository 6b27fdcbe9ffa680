/**
 * fcp's settings: every option with a default, from the command line, the environment (FCP_*),
 * the user's config.toml and the system's, in that order of precedence (README "Configuration").
 */
import type { Command } from 'commander';
import * as path from 'node:path';
import type { EchoInput } from '../config/echo';
import { readSettingsFiles, SYSTEM_CONFIG_DIR, userConfigDir } from '../config/files';
import { environmentLayer, fileLayer, Layer, listKey, resolve, Schema, Setting, switchKey, textKey } from '../config/settings';
import { settingsError } from '../config/toml';
import { DEFAULT_CHUNK_SIZE } from '../protocol/constants';
import { DEFAULT_TIMEOUT_S } from '../timeouts';
import { DEFAULT_BACKUP_SUFFIX } from '../client/copy';
import { cipherOption } from './cipherOption';
import { checkConfiguredRule, maxDepth } from './filterOptions';
import { bwlimit, chunkSize, connectionCount, nonEmpty, showChunkSize, showRate, timeoutMs, wholeNumber } from './optionValues';
import { DEFAULT_INTERVAL_S, MAX_INTERVAL_S, MIN_INTERVAL_S } from '../watch/constants';
import { DEFAULT_KEEP_JOBS_DAYS, DEFAULT_MAX_JOBS, KEEP_JOBS_DAYS_LIMIT, MAX_JOBS_LIMIT } from '../jobs/runnerControl';

const same = <T>(value: T): T => value;

/** The keys of config.toml: fcp's long option names with `_` for `-`. */
export const FCP_SCHEMA = {
  connections: textKey(connectionCount, same),
  chunk_size: textKey(chunkSize, showChunkSize),
  encrypt: switchKey,
  cipher: textKey(cipherOption, same),
  timeout: textKey(timeoutMs, (ms) => ms / 1000),
  bwlimit: textKey(bwlimit, showRate),
  fail_fast: switchKey,
  dereference: switchKey,
  ignore_times: switchKey,
  resume: switchKey,
  partial_dir: textKey(nonEmpty, same),
  max_depth: textKey(maxDepth, same),
  filter: listKey(checkConfiguredRule),
  hard_links: switchKey,
  one_file_system: switchKey,
  mkpath: switchKey,
  compress: switchKey,
  whole_file: switchKey,
  backup: switchKey,
  suffix: textKey(nonEmpty, same),
  remove_source_files: switchKey,
  numeric_ids: switchKey,
  tunnel: switchKey,
  sftp: switchKey,
  install: switchKey,
  via_fcpd: switchKey,
  verify: switchKey,
  fcpd_path: textKey(nonEmpty, same),
  ssh: textKey(nonEmpty, same),
  max_jobs: textKey(wholeNumber(1, MAX_JOBS_LIMIT), same),
  keep_jobs: textKey(wholeNumber(1, KEEP_JOBS_DAYS_LIMIT), same),
  interval: textKey(wholeNumber(MIN_INTERVAL_S, MAX_INTERVAL_S), same),
} satisfies Schema;

export type FcpKey = keyof typeof FCP_SCHEMA;

/**
 * Built-in values; undefined where fcp decides by itself (connections: tuned while the transfer
 * runs; encrypt: when a network is crossed; whole_file: for a local copy).
 */
const DEFAULTS: Record<FcpKey, unknown> = {
  connections: undefined,
  chunk_size: DEFAULT_CHUNK_SIZE,
  encrypt: undefined,
  cipher: 'aes256-gcm',
  timeout: DEFAULT_TIMEOUT_S * 1000,
  bwlimit: undefined,
  fail_fast: false,
  dereference: false,
  ignore_times: false,
  resume: true,
  partial_dir: undefined,
  max_depth: undefined,
  filter: [],
  hard_links: false,
  one_file_system: false,
  mkpath: false,
  compress: false,
  whole_file: undefined,
  backup: false,
  suffix: DEFAULT_BACKUP_SUFFIX,
  remove_source_files: false,
  numeric_ids: false,
  tunnel: false,
  sftp: false,
  install: true,
  via_fcpd: false,
  verify: true,
  fcpd_path: undefined,
  ssh: undefined,
  max_jobs: DEFAULT_MAX_JOBS,
  keep_jobs: DEFAULT_KEEP_JOBS_DAYS,
  interval: DEFAULT_INTERVAL_S,
};

/** The commander options (attribute, flag as written) that set each key. */
const FLAGS: Record<FcpKey, [attribute: string, flag: (value: unknown) => string][]> = {
  connections: [['connections', () => '--connections']],
  chunk_size: [['chunkSize', () => '--chunk-size']],
  encrypt: [['encrypt', (on) => (on ? '--encrypt' : '--no-encrypt')]],
  cipher: [['cipher', () => '--cipher']],
  timeout: [['timeout', () => '--timeout']],
  bwlimit: [
    ['limit', () => '-l'],
    ['bwlimit', () => '--bwlimit'],
  ],
  fail_fast: [['failFast', () => '--fail-fast']],
  dereference: [['dereference', () => '--dereference']],
  ignore_times: [['ignoreTimes', () => '--ignore-times']],
  resume: [['resume', () => '--no-resume']],
  partial_dir: [['partialDir', () => '--partial-dir']],
  max_depth: [['maxDepth', () => '--max-depth']],
  // --filter on the command line goes into the rules in order (filterOf); this key adds the config's after them.
  filter: [],
  hard_links: [['hardLinks', () => '--hard-links']],
  one_file_system: [['oneFileSystem', () => '--one-file-system']],
  mkpath: [['mkpath', () => '--mkpath']],
  compress: [
    ['compress', () => '--compress'],
    ['z', () => '-z'],
  ],
  whole_file: [['wholeFile', (on) => (on ? '--whole-file' : '--no-whole-file')]],
  backup: [['backup', () => '--backup']],
  suffix: [['suffix', () => '--suffix']],
  remove_source_files: [['removeSourceFiles', () => '--remove-source-files']],
  numeric_ids: [['numericIds', () => '--numeric-ids']],
  tunnel: [['tunnel', () => '--tunnel']],
  sftp: [['sftp', () => '--sftp']],
  install: [['install', () => '--no-install']],
  via_fcpd: [['viaFcpd', () => '--via-fcpd']],
  verify: [['verify', () => '--no-verify']],
  fcpd_path: [['fcpdPath', () => '--fcpd-path']],
  ssh: [
    ['ssh', () => '--ssh'],
    ['S', () => '-S'],
  ],
  max_jobs: [['maxJobs', () => '--max-jobs']],
  keep_jobs: [['keepJobs', () => '--keep-jobs']],
  interval: [['interval', () => '--interval']],
};

export type FcpSettings = Record<FcpKey, Setting>;

/** The values given on the command line. */
export function commandLineLayer(command: Command): Layer {
  const layer: Layer = {};
  const options = command.opts();
  for (const [key, flags] of Object.entries(FLAGS)) {
    for (const [attribute, flag] of flags) {
      if (command.getOptionValueSource(attribute) !== 'cli') continue;
      const value = options[attribute] as unknown;
      layer[key] = { value, source: { kind: 'flag', flag: flag(value) } };
    }
  }
  return withoutCipherNone(layer);
}

/**
 * `cipher = "none"` is `encrypt = false` from the same place, so that a higher layer's cipher or
 * encrypt overrides it as it would the other; with `encrypt = true` in the same layer it is an error.
 */
function withoutCipherNone(layer: Layer): Layer {
  const { cipher, ...rest } = layer;
  if (cipher?.value !== 'none') return layer;
  if (rest.encrypt?.value === true) {
    const where = cipher.source.kind === 'file' ? cipher.source.file : 'the command line';
    throw settingsError(where, cipher.source.kind === 'file' ? cipher.source.line : undefined, 'cipher "none" and encrypt both given', 'give one of them');
  }
  return { ...rest, encrypt: { value: false, source: cipher.source } };
}

export interface FcpSettingsRequest {
  env: NodeJS.ProcessEnv;
  /** --config FILE. */
  configFile?: string;
  /** The remote host as typed (an ssh_config alias, a name or an address), for [host."PATTERN"] sections. */
  host?: string;
  commandLine: Layer;
}

/** The settings files fcp reads, highest precedence first. */
export function fcpConfigFiles(env: NodeJS.ProcessEnv, configFile?: string): { file: string; required: boolean }[] {
  const named = configFile ?? (env.FCP_CONFIG || undefined);
  return [
    { file: named ?? path.join(userConfigDir(env), 'config.toml'), required: named !== undefined },
    { file: path.join(SYSTEM_CONFIG_DIR, 'config.toml'), required: false },
  ];
}

/** Reads the files and resolves every key; what echo-config shows, and what a copy runs with. */
export function loadFcpSettings(request: FcpSettingsRequest): Omit<EchoInput, 'program'> & { settings: FcpSettings } {
  const { docs, read } = readSettingsFiles(fcpConfigFiles(request.env, request.configFile));
  const layers = [
    request.commandLine,
    withoutCipherNone(environmentLayer(FCP_SCHEMA, 'FCP_', request.env)),
    ...docs.map((doc) => withoutCipherNone(fileLayer(doc, FCP_SCHEMA, request.host))),
  ];
  return { host: request.host, files: read, schema: FCP_SCHEMA, settings: resolve(FCP_SCHEMA, DEFAULTS, layers) };
}
