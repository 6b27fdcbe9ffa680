/**
 * Key material of PROTOCOL.md §5 and §6: the key id, both MACs and the per-direction frame keys,
 * all derived from the launch secret. Pure functions over node:crypto.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { KEY_ID_SIZE } from './constants';

export const SECRET_SIZE = 32;
const KEY_SIZE = 32;

/** What both MACs of one connection's handshake cover. */
export interface AuthTranscript {
  serverNonce: Buffer;
  clientNonce: Buffer;
  /** 16 zero bytes on the control connection. */
  sessionId: Buffer;
  /** 0 on the control connection. */
  connIndex: number;
  /** PARAMS payloads of the control connection; empty on data connections. */
  offer: Buffer;
  accepted: Buffer;
}

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function u16(value: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(value);
  return buf;
}

export function keyIdOf(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('fcp1 key id').digest().subarray(0, KEY_ID_SIZE);
}

function transcriptMac(secret: Buffer, label: string, t: AuthTranscript, parts: Buffer[]): Buffer {
  const hmac = createHmac('sha256', secret).update(label);
  for (const part of [t.serverNonce, t.clientNonce, t.sessionId, u16(t.connIndex), ...parts]) hmac.update(part);
  return hmac.digest();
}

export function clientMac(secret: Buffer, t: AuthTranscript): Buffer {
  return transcriptMac(secret, 'fcp1 client', t, [sha256(t.offer)]);
}

export function serverMac(secret: Buffer, t: AuthTranscript): Buffer {
  return transcriptMac(secret, 'fcp1 server', t, [sha256(t.offer), sha256(t.accepted)]);
}

/** Constant-time comparison of two MACs or key ids. */
export function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface DirectionKeys {
  clientToServer: Buffer;
  serverToClient: Buffer;
}

export function frameKeys(secret: Buffer, t: Pick<AuthTranscript, 'serverNonce' | 'clientNonce' | 'sessionId' | 'connIndex'>): DirectionKeys {
  const salt = Buffer.concat([t.serverNonce, t.clientNonce]);
  const derive = (label: string): Buffer =>
    Buffer.from(hkdfSync('sha256', secret, salt, Buffer.concat([Buffer.from(label), t.sessionId, u16(t.connIndex)]), KEY_SIZE));
  return { clientToServer: derive('fcp1 c2s'), serverToClient: derive('fcp1 s2c') };
}
