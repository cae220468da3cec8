// SHA-256 of one buffer by the quickest route node:crypto offers (the one-shot
// crypto.hash from Node 20.12, else createHash), for the audit's hot loops.
import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

export const sha256Once: (data: Uint8Array) => Uint8Array =
  typeof oneShot === 'function'
    ? (data) => oneShot('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/**
 * The leaf hash SHA-256(0x00 || bytes) of a stored record value `leafHash(32) || bytes`,
 * computed in place: the byte before the record is set to 0x00 for the call and restored.
 */
export function leafHashOfValue(value: Uint8Array): Uint8Array {
  const saved = value[31];
  if (saved === undefined) throw new RangeError(`a stored record value starts with a 32-byte leaf hash, got ${value.length} bytes`);
  value[31] = 0;
  try {
    return sha256Once(value.subarray(31));
  } finally {
    value[31] = saved;
  }
}

const nodeScratch = new Uint8Array(65);

/** The node hash SHA-256(0x01 || left || right) of two 32-byte hashes. */
export function nodeHashOnce(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeScratch[0] = 1;
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 33);
  return sha256Once(nodeScratch);
}
