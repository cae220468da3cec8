// Ed25519 public keys of small order: the identity, the point of order 2, the two of order 4
// and the four of order 8, in their canonical encodings and in the non-canonical ones that lax
// decoders (OpenSSL among them) still accept (y + p for y = 0 and 1, and x = 0 with the sign
// bit set). With such a key A, [h]A is the identity whenever the order divides h, so the
// signature R = identity, S = 0 verifies for every message (always for the identity key, for
// one message in 2, 4 or 8 otherwise). No honest key pair has one of these public keys.
// test/weak-keys.test.ts derives the same list from the curve's point arithmetic.
import { toHex } from '../encoding/bytes';

const SMALL_ORDER_HEX = [
  // identity (order 1)
  '0100000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  // order 2: (0, -1)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  // order 4: (±sqrt(-1), 0)
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
] as const;

const SMALL_ORDER = new Set<string>(SMALL_ORDER_HEX);

/** The 32-byte encodings refused as Ed25519 public keys (canonical and non-canonical). */
export const ED25519_SMALL_ORDER_KEYS: readonly string[] = SMALL_ORDER_HEX;

/** True when 32 bytes encode an Ed25519 point of order 1, 2, 4 or 8 (in any accepted encoding). */
export function isSmallOrderEd25519(publicKey: Uint8Array): boolean {
  return publicKey.length === 32 && SMALL_ORDER.has(toHex(publicKey));
}
