/**
 * The values of fcp's options, read the same way from the command line, the environment (FCP_*)
 * and config files. Each parser throws an Error that says what the value must be.
 */
import { InvalidArgumentError } from 'commander';
import { MAX_CONNECTIONS, MAX_FILE_SIZE, MIN_CONNECTIONS } from '../protocol/constants';
import { isChunkSize } from '../session/params';
import { isTimeoutSeconds, MAX_TIMEOUT_S, MIN_TIMEOUT_S } from '../timeouts';
import { parseRate, parseRsyncSize, parseSize } from './format';

export function connectionCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_CONNECTIONS || n > MAX_CONNECTIONS) {
    throw new Error(`must be a whole number from ${MIN_CONNECTIONS} to ${MAX_CONNECTIONS}`);
  }
  return n;
}

/** --min-size, --max-size: a file size as rsync reads one ("100k", "1.5mb-1", "2g+1"). */
export function fileSizeLimit(value: string): number {
  const bytes = parseRsyncSize(value);
  if (bytes === undefined || bytes > MAX_FILE_SIZE) throw new Error(`must be a size in bytes up to ${MAX_FILE_SIZE}, with an optional unit as rsync reads one (100k, 1.5M, 2GB, 1g-1)`);
  return bytes;
}

/** --max-delete: a count of deletions (what SYNC's u32 carries, its top value meaning none). */
export function deletionCount(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n >= 0xffffffff) throw new Error(`must be a whole number from 0 to ${0xffffffff - 1}`);
  return n;
}

export function chunkSize(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined || !isChunkSize(bytes)) throw new Error('must be a power of two from 64K to 64M');
  return bytes;
}

/** A chunk size as chunk_size is written: "4M", "256K". */
export function showChunkSize(bytes: number): string {
  return bytes % 1024 ** 2 === 0 ? `${bytes / 1024 ** 2}M` : `${bytes / 1024}K`;
}

/** scp's -l range: a whole number of Kbit/s, as OpenSSH's scp reads it. */
const SCP_MAX_KBITS = 100 * 1024 * 1024;

/** scp's -l: Kbit/s as bytes per second; OpenSSH's scp counts 1024 bits to the Kbit (-l 8 is 1 KiB/s). */
export function scpLimit(value: string): number {
  const kbits = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(kbits >= 1 && kbits <= SCP_MAX_KBITS)) throw new Error(`must be a whole number of Kbit/s from 1 to ${SCP_MAX_KBITS} (as scp -l; 8 is 1 KiB/s)`);
  return (kbits * 1024) / 8;
}

/** rsync's --bwlimit, as bytes per second. */
export function bwlimit(value: string): number {
  const bytes = parseRate(value);
  if (bytes === undefined) throw new Error('must be a rate in KiB/s, or with a K, M or G suffix, above 0 (as rsync --bwlimit)');
  return bytes;
}

/** Bytes per second as bwlimit is written (KiB/s with a K: exact for every whole number of bytes). */
export function showRate(bytesPerSecond: number): string {
  return `${bytesPerSecond / 1024}K`;
}

/** --timeout SECONDS, in milliseconds. */
export function timeoutMs(value: string): number {
  const seconds = Number(value);
  if (!isTimeoutSeconds(seconds)) throw new Error(`must be a number of seconds from ${MIN_TIMEOUT_S} to ${MAX_TIMEOUT_S}`);
  return seconds * 1000;
}

/** A parser of a whole number from min to max (--max-jobs, --keep-jobs). */
export function wholeNumber(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A non-empty string (a program, a command). */
export function nonEmpty(value: string): string {
  if (value.trim() === '') throw new Error('must not be empty');
  return value;
}

/** A parser as commander's argParser: its complaint becomes a usage error that names the option. */
export function argParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** -P: an SSH port. */
export function sshPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number, 1-65535');
  return n;
}

/** A repeatable option's values, in command-line order. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
