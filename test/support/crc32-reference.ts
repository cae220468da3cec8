import { gzipSync } from 'node:zlib';

/**
 * CRC-32 (IEEE) of `data` as zlib computes it, read from a gzip member's trailer: independent of
 * lib/encoding/crc32 and present on every Node line (zlib.crc32 itself needs 20.15+).
 */
export function referenceCrc32(data: Uint8Array): number {
  const gz = gzipSync(data, { level: 0 });
  return gz.readUInt32LE(gz.length - 8);
}
