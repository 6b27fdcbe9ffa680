/**
 * echo-config (fcp --echo-config, fcpd --echo-config): the effective settings, each with where it
 * came from. The text form is TOML a user can paste into a config file, each value followed by a
 * comment naming its source; --json is one object.
 */
import { describeSource, Schema, Setting, Source } from './settings';
import { stringify } from './toml';

/** A settings file that was looked for, and whether it was there. */
export interface FileRead {
  file: string;
  found: boolean;
}

export interface EchoInput {
  program: string;
  host?: string;
  files: readonly FileRead[];
  schema: Schema;
  settings: Record<string, Setting>;
}

function shown(schema: Schema, key: string, setting: Setting): unknown {
  return setting.value === undefined ? null : schema[key]!.show(setting.value as never);
}

export function echoText(input: EchoInput): string {
  const files = input.files.map((read) => `#   ${read.file}${read.found ? '' : ' (not found)'}`);
  const lines = Object.entries(input.settings).map(([key, setting]) => {
    const value = shown(input.schema, key, setting);
    const where = `# ${describeSource(setting.source)}`;
    // Keys are written as TOML keys already (`modules.data.path`): dotted keys read back as tables.
    return value === null ? `# ${key} is not set  ${where}` : `${key} = ${stringify({ v: value }).trim().slice('v = '.length)}  ${where}`;
  });
  const header = `# ${input.program} configuration${input.host === undefined ? '' : ` for host ${input.host}`}; files, highest precedence first:`;
  return [header, ...files, ...lines].join('\n') + '\n';
}

export interface EchoJson {
  program: string;
  host: string | null;
  files: FileRead[];
  settings: Record<string, { value: unknown; source: Source['kind']; where: string }>;
}

export function echoJson(input: EchoInput): EchoJson {
  const settings = Object.fromEntries(
    Object.entries(input.settings).map(([key, setting]) => [key, { value: shown(input.schema, key, setting), source: setting.source.kind, where: describeSource(setting.source) }]),
  );
  return { program: input.program, host: input.host ?? null, files: [...input.files], settings };
}
