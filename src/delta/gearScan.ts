/**
 * The chunker's hot loop (chunker.ts) in WebAssembly: the gear hash rolled over a stretch of bytes
 * until `hash & mask` is 0. V8 compiles it to a loop of a few instructions a byte, 2 to 3 times
 * the speed of the same loop in JavaScript (bench/deltaScan.ts). The module is small enough to
 * write out here: one function, its memory (GEAR at 0, the bytes scanned after it) and a global
 * that holds the hash where a stretch ends without a cut.
 */
import { createHash } from 'node:crypto';

let gear: Uint32Array | undefined;
/**
 * GEAR[b]: the first 4 bytes, big-endian, of SHA-256 of the single byte b. Built on first use: 256
 * hashes are 2 ms, and fcp and fcpd load this file at every start while most runs never scan.
 */
export function gearTable(): Uint32Array {
  return (gear ??= Uint32Array.from({ length: 256 }, (_, byte) => createHash('sha256').update(Buffer.of(byte)).digest().readUInt32BE(0)));
}

/** Where the scanned bytes go in the module's memory (GEAR, 256 words, comes first). */
const DATA_BASE = 1024;
/** Bytes scanned per call at most: the memory holds GEAR and this much. */
const WINDOW = 4 * 1024 * 1024;
const PAGE = 64 * 1024;
const PAGES = (DATA_BASE + WINDOW) / PAGE + 1;

/** An unsigned LEB128 number, as the binary format writes sizes and counts. */
function leb(value: number): number[] {
  const bytes: number[] = [];
  do {
    const low = value & 0x7f;
    value >>>= 7;
    bytes.push(value === 0 ? low : low | 0x80);
  } while (value !== 0);
  return bytes;
}

const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
const name = (text: string): number[] => [...leb(text.length), ...Buffer.from(text, 'ascii')];

/**
 * find(i, end, h, mask) -> i32, over memory[i, end): for each byte, h = (h << 1) + GEAR[byte];
 * returns the index just past the byte where h & mask is 0, or -1 with h in the global.
 */
const FIND_BODY = [
  0x00, // no locals beyond the parameters: 0 i, 1 end, 2 h, 3 mask
  0x02, 0x40, // block
  0x03, 0x40, //   loop
  0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01, //     br_if (i >= end) to the block's end
  0x20, 0x02, 0x41, 0x01, 0x74, //     h << 1
  0x20, 0x00, 0x2d, 0x00, 0x00, 0x41, 0x02, 0x74, 0x28, 0x02, 0x00, //     GEAR[memory[i]] (a word at byte * 4)
  0x6a, 0x21, 0x02, //     h = sum
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, //     i = i + 1
  0x20, 0x02, 0x20, 0x03, 0x71, 0x0d, 0x00, //     br_if (h & mask) to the loop's start
  0x20, 0x00, 0x0f, //     return i
  0x0b, //   end loop
  0x0b, // end block
  0x20, 0x02, 0x24, 0x00, // global = h
  0x41, 0x7f, // -1
  0x0b, // end
];

const MODULE = Uint8Array.from([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]), // type: (i32 i32 i32 i32) -> i32
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(5, [0x01, 0x00, ...leb(PAGES)]), // memory of PAGES pages
  ...section(6, [0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b]), // global 0: mutable i32 = 0
  ...section(7, [0x03, ...name('find'), 0x00, 0x00, ...name('memory'), 0x02, 0x00, ...name('hash'), 0x03, 0x00]),
  ...section(10, [0x01, ...leb(FIND_BODY.length), ...FIND_BODY]),
]);

interface GearExports {
  find(from: number, end: number, hash: number, mask: number): number;
  memory: { buffer: ArrayBuffer };
  hash: { value: number };
}

/** What this module uses of WebAssembly (Node's types leave it out without the DOM library). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

interface Scanner {
  wasm: GearExports;
  memory: Uint8Array;
}

let scanner: Scanner | undefined;

/**
 * The module, compiled and given its table on the first scan: fcp and fcpd load this file at
 * start-up, and most runs never scan (a 4 MiB memory and a compile saved).
 */
function loadScanner(): Scanner {
  if (scanner) return scanner;
  const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const wasm = new Instance(new Module(MODULE)).exports as GearExports;
  const gearWords = new DataView(wasm.memory.buffer);
  gearTable().forEach((word, byte) => gearWords.setUint32(byte * 4, word, true));
  scanner = { wasm, memory: new Uint8Array(wasm.memory.buffer) };
  return scanner;
}

/** The gear hash where a scan stands. */
export interface RollingHash {
  hash: number;
}

/**
 * Rolls the gear hash from `rolling.hash` over data[from, end): the index just past the first
 * byte where `hash & mask` is 0, or -1 when none is, with the hash at `end` left in `rolling`.
 */
export function findCut(data: Uint8Array, from: number, end: number, rolling: RollingHash, mask: number): number {
  const { wasm, memory } = loadScanner();
  let hash = rolling.hash;
  for (let at = from; at < end; at += WINDOW) {
    const stop = Math.min(end, at + WINDOW);
    memory.set(data.subarray(at, stop), DATA_BASE);
    const cut = wasm.find(DATA_BASE, DATA_BASE + stop - at, hash, mask);
    if (cut >= 0) return at + cut - DATA_BASE;
    hash = wasm.hash.value;
  }
  rolling.hash = hash;
  return -1;
}
