/** fcpd's policy files: which are read, in which order (README "fcpd policy"). */
import * as path from 'node:path';
import type { EchoInput } from '../config/echo';
import { readSettingsFiles, SYSTEM_CONFIG_DIR, userConfigDir } from '../config/files';
import { FcpdPolicy, resolvePolicy } from '../config/policy';
import { bwlimit, showRate } from './optionValues';

/** --config FILE, else the user's fcpd.toml; then the system's. */
export function fcpdPolicyFiles(env: NodeJS.ProcessEnv, configFile?: string): { file: string; required: boolean }[] {
  return [
    { file: configFile ?? path.join(userConfigDir(env), 'fcpd.toml'), required: configFile !== undefined },
    { file: path.join(SYSTEM_CONFIG_DIR, 'fcpd.toml'), required: false },
  ];
}

export function loadFcpdPolicy(env: NodeJS.ProcessEnv, configFile?: string): Omit<EchoInput, 'program'> & { policy: FcpdPolicy } {
  const { docs, read } = readSettingsFiles(fcpdPolicyFiles(env, configFile));
  const { policy, settings, schema } = resolvePolicy(docs, { rate: bwlimit, showRate });
  return { policy, settings, schema, files: read };
}
