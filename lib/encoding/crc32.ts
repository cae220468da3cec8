// CRC-32 (IEEE 802.3, as zlib's crc32): zlib.crc32 where Node has it (20.15+, 22.2+), else the
// same function in JavaScript, for the older Node lines the pack supports (Raspberry Pi OS
// 32-bit's newest official Node on npm is 20.11). Both give identical results (test/crc32.test.ts).
import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** CRC-32 of `data` continuing from `value` (default 0), as an unsigned 32-bit number. */
export function crc32Js(data: Uint8Array, value = 0): number {
  table ??= makeTable();
  let c = ~value >>> 0;
  for (const byte of data) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as { crc32?: Crc32 }).crc32;

/** CRC-32 of `data` continuing from `value` (default 0), as an unsigned 32-bit number. */
// Empty input returns `value` itself: zlib.crc32 (Node 20.20) returns 0 instead for an empty
// Buffer over a zero-length ArrayBuffer, e.g. randomBytes(0) (test/crc32.test.ts).
export const crc32: Crc32 = typeof native === 'function' ? (data, value = 0) => (data.length === 0 ? value >>> 0 : native(data, value)) : crc32Js;
