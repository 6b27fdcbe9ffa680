/** The fcp wire protocol: pure codec and message types, no I/O. */
export * from './constants';
export * from './messages';
export { FrameDecoder, RawFrame } from './frameDecoder';
export { FrameEncoder } from './frameEncoder';
export { parsePayload } from './parser';
export { encodePayload, payloadLength, writePayload } from './serializer';
export { loadXxhash, XXHashAPI } from './xxhash';
export { FrameOpener, FrameSealer } from './frameCipher';
export * from './keys';
