/** xxhash-wasm compiles a WebAssembly module once per process; every codec shares that instance. */
import xxhash, { XXHashAPI } from 'xxhash-wasm';

export type { XXHashAPI };

let instance: Promise<XXHashAPI> | undefined;

export function loadXxhash(): Promise<XXHashAPI> {
  instance ??= xxhash();
  return instance;
}
