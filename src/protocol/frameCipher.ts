/**
 * AEAD sealing of frame payloads (PROTOCOL.md §6): AES-256-GCM, or ChaCha20-Poly1305 where AES
 * has no hardware help; both take a 32-byte key, a 12-byte nonce and give a 16-byte tag. One instance per connection and
 * direction: the nonce is the count of frames sealed so far, so a replayed, reordered, dropped
 * or altered frame fails its tag. Additional data is flag ‖ length (length including the tag).
 */
import { CipherChaCha20Poly1305, CipherGCM, createCipheriv, createDecipheriv, DecipherChaCha20Poly1305, DecipherGCM } from 'node:crypto';
import { FcpError } from '../errors';
import { Cipher, GCM_TAG_SIZE, HEADER_SIZE, LENGTH_OFFSET, packetTypeName, SealingCipher } from './constants';

/** What seals a connection's frames in one direction. */
export interface Sealing {
  cipher: SealingCipher;
  key: Buffer;
}

interface Aead {
  name: string;
  /** node:crypto's name of it, as the crypto threads create it (src/wire/cryptoThreads.ts). */
  algorithm: 'aes-256-gcm' | 'chacha20-poly1305';
  seal(key: Buffer, nonce: Buffer): CipherGCM | CipherChaCha20Poly1305;
  open(key: Buffer, nonce: Buffer): DecipherGCM | DecipherChaCha20Poly1305;
}

const TAG = { authTagLength: GCM_TAG_SIZE } as const;
const AEADS: Record<SealingCipher, Aead> = {
  [Cipher.AES_256_GCM]: {
    name: 'AES-256-GCM',
    algorithm: 'aes-256-gcm',
    seal: (key, nonce) => createCipheriv('aes-256-gcm', key, nonce, TAG),
    open: (key, nonce) => createDecipheriv('aes-256-gcm', key, nonce, TAG),
  },
  [Cipher.CHACHA20_POLY1305]: {
    name: 'ChaCha20-Poly1305',
    algorithm: 'chacha20-poly1305',
    seal: (key, nonce) => createCipheriv('chacha20-poly1305', key, nonce, TAG),
    open: (key, nonce) => createDecipheriv('chacha20-poly1305', key, nonce, TAG),
  },
};

/**
 * A direction's count of frames, the nonce of each. Self-contained (it names nothing outside its
 * own body but Buffer): the crypto threads run its source (src/wire/cryptoThreads.ts), so
 * that a connection's count goes on there exactly as here.
 */
export class FrameCounter {
  /** 2^32 frames per counter half: the high word counts wraps of the low word. */
  static readonly LOW_WORD = 0x1_0000_0000;
  readonly nonce = Buffer.alloc(12);
  constructor(
    private low = 0,
    private high = 0,
  ) {}

  /** The 12-byte nonce for the next frame (4 zero bytes, then the u64 count); advances the count. */
  next(): Buffer {
    this.nonce.writeUInt32BE(this.high, 4);
    this.nonce.writeUInt32BE(this.low, 8);
    if (++this.low === FrameCounter.LOW_WORD) {
      this.low = 0;
      this.high++;
    }
    return this.nonce;
  }

  /** Where the count stands, to go on with elsewhere (new FrameCounter(low, high)). */
  get words(): [low: number, high: number] {
    return [this.low, this.high];
  }
}

/**
 * Opens a sealed payload (ciphertext ‖ tag, in pieces) with `decipher` (made with the frame's
 * nonce) and `aad`: its plaintext in pieces, none of them empty, or undefined when the tag does
 * not match. Self-contained, as FrameCounter: the crypto threads run its source.
 */
export function openSealed(decipher: DecipherGCM | DecipherChaCha20Poly1305, aad: Buffer, sealed: readonly Buffer[], tagLength: number): Buffer[] | undefined {
  let tagAt = 0;
  for (const piece of sealed) tagAt += piece.length;
  tagAt -= tagLength;
  decipher.setAAD(aad, { plaintextLength: Math.max(0, tagAt) });
  const plaintext: Buffer[] = [];
  const tagParts: Buffer[] = [];
  for (const piece of sealed) {
    const cipherBytes = Math.max(0, Math.min(piece.length, tagAt));
    if (cipherBytes > 0) {
      const out = decipher.update(piece.subarray(0, cipherBytes));
      if (out.length > 0) plaintext.push(out);
    }
    if (cipherBytes < piece.length) tagParts.push(piece.subarray(cipherBytes));
    tagAt -= cipherBytes;
  }
  decipher.setAuthTag(tagParts.length === 1 ? tagParts[0]! : Buffer.concat(tagParts));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

/** A direction's sealing and where its count of frames stands: what a crypto thread goes on with. */
export interface CipherHandOff {
  sealing: Sealing;
  count: [low: number, high: number];
}

/**
 * Seals in place the `plainLength` bytes of buf at start with `cipher` (made with the frame's
 * nonce) and `aad`, and writes the tag after them. Self-contained, as FrameCounter: the crypto
 * threads run its source.
 */
export function sealInPlace(cipher: CipherGCM | CipherChaCha20Poly1305, aad: Buffer, buf: Buffer, start: number, plainLength: number): void {
  cipher.setAAD(aad, { plaintextLength: plainLength });
  const ciphertext = cipher.update(buf.subarray(start, start + plainLength));
  ciphertext.copy(buf, start);
  cipher.final();
  cipher.getAuthTag().copy(buf, start + plainLength);
}

/** flag ‖ length, the 3 bytes of additional data, from a frame header at pos. */
function additionalData(aad: Buffer, buf: Buffer, pos: number): Buffer {
  aad[0] = buf[pos]!;
  aad[1] = buf[pos + LENGTH_OFFSET]!;
  aad[2] = buf[pos + LENGTH_OFFSET + 1]!;
  return aad;
}

export class FrameSealer {
  readonly counter = new FrameCounter();
  private readonly aad = Buffer.alloc(3);
  private readonly aead: Aead;
  private readonly key: Buffer;

  constructor(readonly sealing: Sealing) {
    this.aead = AEADS[sealing.cipher];
    this.key = sealing.key;
  }

  /**
   * Encrypts in place the plaintext payload of the frame at pos, whose header (flag and length,
   * length counting the tag) is already written, and writes the tag after the ciphertext.
   */
  seal(buf: Buffer, pos: number, plainLength: number): void {
    sealInPlace(this.aead.seal(this.key, this.counter.next()), additionalData(this.aad, buf, pos), buf, pos + HEADER_SIZE, plainLength);
  }

  /**
   * Seals `plain`, the payload of the frame whose header (flag and length, length counting the
   * tag) is `header`, leaving `plain` as it was: the ciphertext and the tag, each a Buffer of its
   * own, so that a payload encoded in a reused Buffer is neither copied back nor held.
   */
  sealApart(header: Buffer, plain: Buffer): [ciphertext: Buffer, tag: Buffer] {
    const cipher = this.aead.seal(this.key, this.counter.next());
    cipher.setAAD(additionalData(this.aad, header, 0), { plaintextLength: plain.length });
    const ciphertext = cipher.update(plain);
    cipher.final();
    return [ciphertext, cipher.getAuthTag()];
  }
}

export class FrameOpener {
  readonly counter = new FrameCounter();
  private readonly aad = Buffer.alloc(3);
  private readonly aead: Aead;
  private readonly key: Buffer;

  constructor(readonly sealing: Sealing) {
    this.aead = AEADS[sealing.cipher];
    this.key = sealing.key;
  }

  /** The plaintext of a sealed payload (ciphertext ‖ tag); header holds the frame's 7 header bytes. */
  open(header: Buffer, sealed: Buffer): Buffer {
    const plaintext = this.openPieces(header, [sealed]);
    // One piece (or none, for an empty payload) in the usual case: no copy to join them.
    return plaintext.length === 1 ? plaintext[0]! : Buffer.concat(plaintext);
  }

  /** The same for a sealed payload in pieces: the plaintext in pieces, none of them empty. */
  openPieces(header: Buffer, sealed: Buffer[]): Buffer[] {
    const decipher = this.aead.open(this.key, this.counter.next());
    const plaintext = openSealed(decipher, additionalData(this.aad, header, 0), sealed, GCM_TAG_SIZE);
    if (!plaintext) throw frameNotAuthentic(header[0]!, this.sealing.cipher);
    return plaintext;
  }
}

/** A frame whose tag did not match (FCP_ERR_DECRYPT): here or in a crypto thread. */
export function frameNotAuthentic(type: number, cipher: SealingCipher): FcpError {
  return new FcpError('FCP_ERR_DECRYPT', `${packetTypeName[type] ?? 'a'} frame failed authentication (${AEADS[cipher].name} tag)`, {
    hint: 'the frame was altered, replayed or reordered on the way; the connection is closed',
  });
}

/** node:crypto's name of a sealing cipher (the crypto threads create their ciphers by it). */
export function cipherAlgorithm(cipher: SealingCipher): string {
  return AEADS[cipher].algorithm;
}

/** "AES-256-GCM", "ChaCha20-Poly1305"; undefined for NONE (or a number that names no cipher). */
export function cipherLabel(cipher: number): string | undefined {
  return AEADS[cipher as SealingCipher]?.name;
}
