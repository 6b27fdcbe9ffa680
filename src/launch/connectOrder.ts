/**
 * Remote to remote (PROTOCOL.md §9.1): the order fcp hands `fcpd --connect` on its standard input
 * (push these sources to that fcpd, which holds this secret), and the event lines that fcpd
 * prints on its standard output so that fcp reports the copy as its own. Both are one JSON object
 * per line behind a fixed word; everything read is checked here, as any peer's input is.
 */
import { ERROR_CODES, FcpError, FcpErrorCode } from '../errors';
import { DIGEST_SIZE, KNOWN_MODE_FLAGS, MAX_CONNECTIONS, MAX_ERROR_MESSAGE_BYTES, MAX_FILTER_RULES_BYTES, MAX_PATH_BYTES, MIN_CONNECTIONS, NONCE_SIZE, PacketType } from '../protocol/constants';
import { SECRET_SIZE } from '../protocol/keys';
import { parsePayload } from '../protocol/parser';
import { encodePayload } from '../protocol/serializer';
import type { FilterRulesMessage } from '../protocol/messages';
import type { PathFilter } from '../sync/filter';
import { filterOfMessage, filterRulesMessage } from '../sync/filterWire';
import { isChunkSize } from '../session/params';
import type { TransferSummary } from '../transfer/link';
import type { PipeCommand } from './execRelay';

/** An address and port of the destination's fcpd, as the source host should dial it. */
export interface ConnectTarget {
  host: string;
  port: number;
}

export interface ConnectOrder {
  /**
   * Tried in order; the first that connects carries every connection of the session. When none
   * does (or there is none, -3), the connections come through fcp over SSH exec channels (execRelay.ts).
   */
  targets: ConnectTarget[];
  /** The destination fcpd's launch secret and control nonce (PROTOCOL.md §5.1). */
  secret: Buffer;
  nonce?: Buffer;
  /** The source host's paths, as PULL names them (~ and patterns expanded there). */
  sources: Buffer[];
  /** The PUSH destination on the destination host. */
  destination: Buffer;
  /** MODE flags. */
  flags: number;
  /** With BACKUP in flags: the suffix for what the copy replaces. */
  backupSuffix?: Buffer;
  /** -H: hard links within the copy are sent as links (feature HARD_LINKS). */
  hardLinks: boolean;
  /** -C: DATA frames that deflate smaller travel as DATA_Z (feature COMPRESS). */
  compress: boolean;
  /** Changed files go as a delta (feature DELTA): not with -W/--whole-file. */
  delta: boolean;
  chunkSize: number;
  connections: number;
  /** PARAMS cipher: 0 none, else the sealing cipher. */
  cipher: number;
  bwlimit?: number;
  failFast: boolean;
  /** --exclude, --include, --max-depth: what the source host's walk leaves out (carried as FILTER_RULES' payload). */
  filter?: PathFilter;
}

export interface WireError {
  code: FcpErrorCode;
  message: string;
  hint?: string;
}

/** The session's counts (its errors come as file and entry events), and its accepted connections and cipher. */
export type RelayedSummary = Omit<TransferSummary, 'errors'> & { connections: number; cipher: number };

export type RelayEvent =
  /** fcpd connected to the destination (the first event, unless it could not). */
  | { e: 'connected'; target: string; relayed: boolean }
  /** The direct targets did not connect; the relay comes next. */
  | { e: 'unreachable'; tried: string }
  /** One more connection, please, through fcp: run this command in a new exec channel and join it to the destination. */
  | ({ e: 'relay' } & PipeCommand)
  /** The files and bytes to copy; again with larger totals as a streamed walk counts more (feature STREAM). */
  | { e: 'start'; files: number; bytes: number }
  /** Bytes done since the last one; also sent every second as a sign of life. */
  | { e: 'bytes'; n: number }
  | { e: 'file'; path: Buffer; size: number; digest?: string; error?: WireError; warning?: string }
  | { e: 'entry'; path: Buffer; error: WireError }
  /** The session's end; its errors are those of the file and entry events before it. */
  | { e: 'end'; summary: RelayedSummary }
  | { e: 'fail'; error: WireError };

const ORDER_WORD = 'FCP-CONNECT ';
const EVENT_WORD = 'FCP-EVENT ';
/** An order names at most this many targets and sources: more is not an order fcp writes. */
const MAX_TARGETS = 8;
/** The relay command's paths (node, fcpd's script, the socket) are absolute and no longer than this. */
const MAX_COMMAND_PATH_BYTES = 4096;
const MAX_SOURCES = 4096;
const HEX = /^[0-9a-f]*$/;

const bad = (what: string): FcpError => new FcpError('FCP_ERR_PROTOCOL', `bad ${what}`);

export type Json = Record<string, unknown>;

export function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(what);
  return value as Json;
}

export function count(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw bad(what);
  return value;
}

/** MODE flags fcp knows, and no other bit (the order is checked as fcpd checks MODE). */
export function modeFlags(value: unknown): number {
  const flags = count(value, 'flags', 0xffffffff);
  if ((flags & ~KNOWN_MODE_FLAGS) !== 0) throw bad('flags');
  return flags;
}

function text(value: unknown, what: string, maxBytes = MAX_ERROR_MESSAGE_BYTES): string {
  if (typeof value !== 'string' || Buffer.byteLength(value) > maxBytes) throw bad(what);
  return value;
}

function hexBytes(value: unknown, size: number, what: string): Buffer {
  if (typeof value !== 'string' || value.length !== size * 2 || !HEX.test(value)) throw bad(what);
  return Buffer.from(value, 'hex');
}

/** A path as base64 (names are bytes); never empty, never longer than PATH_MAX. */
export function pathBytes(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || value.length > ((MAX_PATH_BYTES + 2) / 3) * 4 + 4) throw bad(what);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.length > MAX_PATH_BYTES || bytes.toString('base64') !== value) throw bad(what);
  return bytes;
}

/** The order's filter: a FILTER_RULES payload in base64, checked as fcpd checks the message. */
function filterOf(value: unknown): PathFilter {
  if (typeof value !== 'string' || value.length > ((MAX_FILTER_RULES_BYTES + 4 + 2) / 3) * 4 + 4) throw bad('filter');
  const payload = Buffer.from(value, 'base64');
  if (payload.toString('base64') !== value) throw bad('filter');
  return filterOfMessage(parsePayload(PacketType.FILTER_RULES, payload) as FilterRulesMessage);
}

export function list(value: unknown, max: number, what: string, min = 1): unknown[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) throw bad(what);
  return value;
}

/** An absolute path on the source host, for the relay command (quoted there, never interpreted). */
function absolutePath(value: unknown, what: string): string {
  const path = text(value, what, MAX_COMMAND_PATH_BYTES);
  if (!path.startsWith('/') || path.includes('\0')) throw bad(what);
  return path;
}

function wireError(value: unknown): WireError {
  const fields = object(value, 'error');
  const code = text(fields.code, 'error code', 64);
  if (!Object.prototype.hasOwnProperty.call(ERROR_CODES, code)) throw bad(`error code ${JSON.stringify(code)}`);
  const error: WireError = { code: code as FcpErrorCode, message: text(fields.message, 'error message') };
  if (fields.hint !== undefined) error.hint = text(fields.hint, 'error hint');
  return error;
}

export function toWireError(error: FcpError): WireError {
  return error.hint === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, hint: error.hint };
}

export function fromWireError(error: WireError): FcpError {
  return new FcpError(error.code, error.message, error.hint === undefined ? {} : { hint: error.hint });
}

/** Lines longer than this are not read whole (src/launch/lines.ts): an order must fit. */
export const MAX_ORDER_BYTES = 60 * 1024;

export function orderLine(order: ConnectOrder): string {
  const json = {
    targets: order.targets,
    secret: order.secret.toString('hex'),
    ...(order.nonce ? { nonce: order.nonce.toString('hex') } : {}),
    sources: order.sources.map((s) => s.toString('base64')),
    destination: order.destination.toString('base64'),
    flags: order.flags,
    ...(order.backupSuffix ? { backupSuffix: order.backupSuffix.toString('base64') } : {}),
    hardLinks: order.hardLinks,
    compress: order.compress,
    delta: order.delta,
    chunkSize: order.chunkSize,
    connections: order.connections,
    cipher: order.cipher,
    ...(order.bwlimit === undefined ? {} : { bwlimit: order.bwlimit }),
    failFast: order.failFast,
    ...(order.filter?.active ? { filter: encodePayload(filterRulesMessage(order.filter)).toString('base64') } : {}),
  };
  return `${ORDER_WORD}${JSON.stringify(json)}\n`;
}

export function parseJson(line: string, word: string, what: string): Json | undefined {
  if (!line.startsWith(word)) return undefined;
  try {
    return object(JSON.parse(line.slice(word.length)), what);
  } catch (err) {
    throw err instanceof FcpError ? err : bad(`${what}: not JSON`);
  }
}

/** The order on fcpd --connect's standard input; anything else is a usage error (fcp writes it). */
export function parseOrderLine(line: string): ConnectOrder {
  const json = parseJson(line.trim(), ORDER_WORD, 'connect order');
  if (!json) {
    throw new FcpError('FCP_ERR_USAGE', 'fcpd --connect expected "FCP-CONNECT {...}" on its standard input', {
      hint: 'fcpd --connect is started by fcp to copy between two remote hosts',
    });
  }
  const order: ConnectOrder = {
    targets: list(json.targets, MAX_TARGETS, 'targets', 0).map((value) => {
      const target = object(value, 'target');
      return { host: text(target.host, 'target host', 255), port: count(target.port, 'target port', 65535, 1) };
    }),
    secret: hexBytes(json.secret, SECRET_SIZE, 'secret'),
    sources: list(json.sources, MAX_SOURCES, 'sources').map((s) => pathBytes(s, 'source')),
    destination: pathBytes(json.destination, 'destination'),
    flags: modeFlags(json.flags),
    hardLinks: json.hardLinks === true,
    compress: json.compress === true,
    delta: json.delta === true,
    chunkSize: count(json.chunkSize, 'chunk size'),
    connections: count(json.connections, 'connections', MAX_CONNECTIONS, MIN_CONNECTIONS),
    cipher: count(json.cipher, 'cipher', 0xff),
    failFast: json.failFast === true,
  };
  if (!isChunkSize(order.chunkSize)) throw bad('chunk size');
  if (json.backupSuffix !== undefined) order.backupSuffix = pathBytes(json.backupSuffix, 'backup suffix');
  if (json.nonce !== undefined) order.nonce = hexBytes(json.nonce, NONCE_SIZE, 'nonce');
  if (json.filter !== undefined) order.filter = filterOf(json.filter);
  if (json.bwlimit !== undefined) order.bwlimit = count(json.bwlimit, 'bandwidth limit', Number.MAX_SAFE_INTEGER, 1);
  return order;
}

export function eventLine(event: RelayEvent): string {
  const json = 'path' in event ? { ...event, path: event.path.toString('base64') } : event;
  return `${EVENT_WORD}${JSON.stringify(json)}\n`;
}

/** An event line from fcpd --connect, checked; undefined for any other line (fcpd's other words). */
export function parseEventLine(line: string): RelayEvent | undefined {
  const json = parseJson(line.trim(), EVENT_WORD, 'event from fcpd --connect');
  if (!json) return undefined;
  switch (json.e) {
    case 'connected':
      return { e: 'connected', target: text(json.target, 'target', 300), relayed: json.relayed === true };
    case 'unreachable':
      return { e: 'unreachable', tried: text(json.tried, 'targets tried') };
    case 'relay':
      return { e: 'relay', node: absolutePath(json.node, 'relay node'), script: absolutePath(json.script, 'relay script'), socket: absolutePath(json.socket, 'relay socket') };
    case 'start':
      return { e: 'start', files: count(json.files, 'file count'), bytes: count(json.bytes, 'byte count') };
    case 'bytes':
      return { e: 'bytes', n: count(json.n, 'byte count') };
    case 'file': {
      const event: RelayEvent = { e: 'file', path: pathBytes(json.path, 'file path'), size: count(json.size, 'file size') };
      if (json.digest !== undefined) event.digest = hexBytes(json.digest, DIGEST_SIZE, 'digest').toString('hex');
      if (json.error !== undefined) event.error = wireError(json.error);
      if (json.warning !== undefined) event.warning = text(json.warning, 'warning');
      return event;
    }
    case 'entry':
      return { e: 'entry', path: pathBytes(json.path, 'entry path'), error: wireError(json.error) };
    case 'end': {
      const s = object(json.summary, 'summary');
      const summary: RelayedSummary = {
        filesOk: count(s.filesOk, 'files'),
        filesFailed: count(s.filesFailed, 'files failed'),
        entriesFailed: count(s.entriesFailed, 'entries failed'),
        bytes: count(s.bytes, 'bytes'),
        bytesSent: count(s.bytesSent, 'bytes sent'),
        bytesResumed: count(s.bytesResumed, 'bytes resumed'),
        ...(s.bytesSaved === undefined ? {} : { bytesSaved: count(s.bytesSaved, 'bytes saved') }),
        connections: count(s.connections, 'connections', MAX_CONNECTIONS, MIN_CONNECTIONS),
        cipher: count(s.cipher, 'cipher', 0xff),
      };
      return { e: 'end', summary };
    }
    case 'fail':
      return { e: 'fail', error: wireError(json.error) };
    default:
      throw bad(`event ${JSON.stringify(String(json.e)).slice(0, 40)} from fcpd --connect`);
  }
}
