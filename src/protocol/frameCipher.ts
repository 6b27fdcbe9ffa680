/**
 * AES-256-GCM sealing of frame payloads (PROTOCOL.md §6). One instance per connection and
 * direction: the nonce is the count of frames sealed so far, so a replayed, reordered, dropped
 * or altered frame fails its tag. Additional data is flag ‖ length (length including the tag).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FcpError } from '../errors';
import { GCM_TAG_SIZE, HEADER_SIZE, LENGTH_OFFSET, packetTypeName } from './constants';

const ALGORITHM = 'aes-256-gcm';
/** 2^32 frames per counter half: the high word counts wraps of the low word. */
const LOW_WORD = 0x1_0000_0000;

class FrameCounter {
  private low = 0;
  private high = 0;
  readonly nonce = Buffer.alloc(12);
  /** The 12-byte nonce for the next frame (4 zero bytes, then the u64 count); advances the count. */
  next(): Buffer {
    this.nonce.writeUInt32BE(this.high, 4);
    this.nonce.writeUInt32BE(this.low, 8);
    if (++this.low === LOW_WORD) {
      this.low = 0;
      this.high++;
    }
    return this.nonce;
  }
}

/** flag ‖ length, the 3 bytes of additional data, from a frame header at pos. */
function additionalData(aad: Buffer, buf: Buffer, pos: number): Buffer {
  aad[0] = buf[pos]!;
  aad[1] = buf[pos + LENGTH_OFFSET]!;
  aad[2] = buf[pos + LENGTH_OFFSET + 1]!;
  return aad;
}

export class FrameSealer {
  private readonly counter = new FrameCounter();
  private readonly aad = Buffer.alloc(3);

  constructor(private readonly key: Buffer) {}

  /**
   * Encrypts in place the plaintext payload of the frame at pos, whose header (flag and length,
   * length counting the tag) is already written, and writes the tag after the ciphertext.
   */
  seal(buf: Buffer, pos: number, plainLength: number): void {
    const cipher = createCipheriv(ALGORITHM, this.key, this.counter.next(), { authTagLength: GCM_TAG_SIZE });
    cipher.setAAD(additionalData(this.aad, buf, pos));
    const start = pos + HEADER_SIZE;
    const ciphertext = cipher.update(buf.subarray(start, start + plainLength));
    ciphertext.copy(buf, start);
    cipher.final();
    cipher.getAuthTag().copy(buf, start + plainLength);
  }
}

export class FrameOpener {
  private readonly counter = new FrameCounter();
  private readonly aad = Buffer.alloc(3);

  constructor(private readonly key: Buffer) {}

  /** The plaintext of a sealed payload (ciphertext ‖ tag); header holds the frame's 7 header bytes. */
  open(header: Buffer, sealed: Buffer): Buffer {
    const plaintext = this.openPieces(header, [sealed]);
    // One piece (or none, for an empty payload) in the usual case: no copy to join them.
    return plaintext.length === 1 ? plaintext[0]! : Buffer.concat(plaintext);
  }

  /** The same for a sealed payload in pieces: the plaintext in pieces, none of them empty. */
  openPieces(header: Buffer, sealed: Buffer[]): Buffer[] {
    const type = header[0]!;
    const decipher = createDecipheriv(ALGORITHM, this.key, this.counter.next(), { authTagLength: GCM_TAG_SIZE });
    decipher.setAAD(additionalData(this.aad, header, 0));
    const plaintext: Buffer[] = [];
    let tagAt = sealed.reduce((total, piece) => total + piece.length, 0) - GCM_TAG_SIZE;
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
    } catch (cause) {
      throw new FcpError('FCP_ERR_DECRYPT', `${packetTypeName[type] ?? 'a'} frame failed authentication (AES-GCM tag)`, {
        cause,
        hint: 'the frame was altered, replayed or reordered on the way; the connection is closed',
      });
    }
    return plaintext;
  }
}
