/** xxhash-wasm compiles a WebAssembly module once per process; every codec shares that instance. */
import type { XXHashAPI } from 'xxhash-wasm' with { 'resolution-mode': 'import' };

export type { XXHashAPI };

// xxhash-wasm ships its types as ESM only; its CommonJS build is what this CommonJS package loads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const xxhash = require('xxhash-wasm') as () => Promise<XXHashAPI>;

let instance: Promise<XXHashAPI> | undefined;

export function loadXxhash(): Promise<XXHashAPI> {
  instance ??= xxhash();
  return instance;
}

/** A chunk's xxh64 (seed 0) over its bytes in parts: one call for one part, else streamed. */
export function chunkHash(xxh: XXHashAPI, parts: readonly Uint8Array[]): bigint {
  if (parts.length === 1) return xxh.h64Raw(parts[0]!, 0n);
  const hasher = xxh.create64(0n);
  for (const part of parts) hasher.update(part);
  return hasher.digest();
}
