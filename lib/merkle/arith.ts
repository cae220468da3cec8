/**
 * Arithmetic on tree sizes and indexes, and the argument checks the Merkle
 * modules share. Sizes and indexes are JS numbers; every value up to
 * 2^53 - 1 works, so no bitwise operators (32-bit in JS) are used on them.
 */
import { LedgerError } from '../errors';

const HASH_BYTES = 32;

export const half = (n: number): number => Math.floor(n / 2);
export const isOdd = (n: number): boolean => n % 2 === 1;
export const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** trailingZeros(n) === n;

export function trailingZeros(n: number): number {
  let zeros = 0;
  for (let v = n; v > 0 && !isOdd(v); v = half(v)) zeros++;
  return zeros;
}

/** The number of bits needed to write n (0 for 0). */
export function bitLength(n: number): number {
  const high = Math.floor(n / 2 ** 32);
  return high > 0 ? 64 - Math.clz32(high) : 32 - Math.clz32(n);
}

/** The largest power of two strictly below n, for n > 1: the RFC's k. */
export function largestPowerOfTwoBelow(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

export function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

export function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

export function isHashList(list: unknown): list is Uint8Array[] {
  return Array.isArray(list) && list.every(isHash);
}

export function checkIndex(index: number, size: number): void {
  if (!isCount(index) || !isCount(size) || index >= size) {
    throw invalid(`index ${String(index)} must be a safe integer in [0, ${String(size)})`);
  }
}

export function checkSize(size: number, available: number): void {
  if (!isCount(size) || size > available) {
    throw invalid(`size ${String(size)} must be a safe integer in [0, ${available}]`);
  }
}

export function checkSizes(size1: number, size2: number): void {
  if (!isCount(size1) || !isCount(size2) || size1 > size2) {
    throw invalid(`sizes ${String(size1)}, ${String(size2)} must be safe integers with size1 <= size2`);
  }
}

export function checkHashes(hashes: Uint8Array[], count: number): void {
  if (!Array.isArray(hashes) || hashes.length !== count) {
    throw invalid(`expected ${count} hashes, got ${Array.isArray(hashes) ? hashes.length : typeof hashes}`);
  }
  if (!hashes.every(isHash)) throw invalid('every hash must be 32 bytes');
}

export function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}
