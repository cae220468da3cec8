// SHA-256 of one buffer by the quickest route node:crypto offers (the one-shot
// crypto.hash from Node 20.12, else createHash), for the audit's hot loops.
//
// The chunk checker keeps its hashes as "hash strings": the 32 digest bytes as a string of
// 32 one-byte characters (latin1, 'binary' to node:crypto), which node:crypto makes for about
// a third of the cost of a Buffer (0.4 µs against 1.1 µs per small digest on Node 20,
// measured), and a chunk computes two digests per record.
import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: Uint8Array, encoding: string) => Uint8Array | string;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

export const sha256Once: (data: Uint8Array) => Uint8Array =
  typeof oneShot === 'function'
    ? (data) => oneShot('sha256', data, 'buffer') as Uint8Array
    : (data) => crypto.createHash('sha256').update(data).digest();

/** SHA-256 of `data` as a hash string. */
const sha256Str: (data: Uint8Array) => string =
  typeof oneShot === 'function'
    ? (data) => oneShot('sha256', data, 'binary') as string
    : (data) => crypto.createHash('sha256').update(data).digest('binary');

/** The hash string of 32 bytes at b[at, at + 32) (inside b). */
export function hashString(b: Uint8Array, at = 0): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += String.fromCharCode(b[at + i]!);
  return s;
}

/** The bytes of a hash string, in a buffer of their own. */
export function hashBytes(s: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Whether b[at, at + 32) (inside b) holds the hash string `s`. */
export function holdsHash(b: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < 32; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * The leaf hash SHA-256(0x00 || bytes) of a stored record value `leafHash(32) || bytes`,
 * computed in place: the byte before the record is set to 0x00 for the call and restored.
 */
export function leafHashOfValue(value: Uint8Array): Uint8Array {
  if (value.length < 32) throw new RangeError(`a stored record value starts with a 32-byte leaf hash, got ${value.length} bytes`);
  return withZeroPrefix(new Uint8Array(value.buffer, value.byteOffset + 31, value.length - 31), sha256Once);
}

/**
 * The leaf hash, as a hash string, of the record in tail[1..]: `tail` starts at the byte
 * before the record (a stored value's last leaf-hash byte), set to 0x00 for the call and restored.
 */
export function leafHashOfTail(tail: Uint8Array): string {
  if (tail.length === 0) throw new RangeError('a record tail starts with the byte before the record');
  return withZeroPrefix(tail, sha256Str);
}

function withZeroPrefix<T>(tail: Uint8Array, hash: (data: Uint8Array) => T): T {
  const saved = tail[0]!;
  tail[0] = 0;
  try {
    return hash(tail);
  } finally {
    tail[0] = saved;
  }
}

/** The hash of a perfect subtree from its 2^k lowest hashes (hash strings). */
export function perfectSubtreeString(row: string[]): string {
  let level = row;
  while (level.length > 1) {
    const up: string[] = [];
    for (let at = 0; at < level.length; at += 2) up.push(nodeHashString(level[at]!, level[at + 1]!));
    level = up;
  }
  return level[0]!;
}

const nodeScratch = new Uint8Array(65);

/** The node hash SHA-256(0x01 || left || right) of two hash strings, as a hash string. */
export function nodeHashString(left: string, right: string): string {
  nodeScratch[0] = 1;
  for (let i = 0; i < 32; i++) {
    nodeScratch[1 + i] = left.charCodeAt(i);
    nodeScratch[33 + i] = right.charCodeAt(i);
  }
  return sha256Str(nodeScratch);
}
