// Ed25519 verification through libsodium (sodium-native, an optional dependency) where it
// loads, about twice as fast as node:crypto (OpenSSL) on the machines measured (bench/RESULTS.md);
// node:crypto otherwise: a platform without a prebuild (32-bit ARM, musl), npm leaving the
// package out, or IOT_LEDGER_ED25519=node-crypto.
//
// Whichever verifies must give the same verdict, or a ledger would audit differently on
// another machine. The two differ only where libsodium refuses what OpenSSL accepts: a
// signature whose R is a point of small order (a key holder can make one, R the identity with
// S = k·a), and a public key of small order or in a non-canonical encoding. So those are
// refused here first, for both, together with an S that is not below L (RFC 8032).
import { verify as nodeVerify } from 'node:crypto';
import { publicKeyObject } from './keys';
import { isSmallOrderEd25519 } from './small-order';

export type Ed25519Backend = 'libsodium' | 'node:crypto';

/** Set to `node-crypto` to verify with node:crypto even where libsodium loads. */
export const ED25519_ENV = 'IOT_LEDGER_ED25519';

interface Sodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

let library: { ok: true; lib: Sodium } | { ok: false; reason: string } | undefined;

/** sodium-native, or why it cannot load here (the answer is kept). */
function sodiumLibrary(): { ok: true; lib: Sodium } | { ok: false; reason: string } {
  if (!library) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      library = { ok: true, lib: require('sodium-native') as Sodium };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      library = { ok: false, reason: message.split('\n')[0] ?? message };
    }
  }
  return library;
}

let chosen: { backend: Ed25519Backend; why?: string } | undefined;

/** Which library verifies Ed25519 signatures in this process, and why not libsodium when it is not (decided once). */
export function ed25519Backend(): { backend: Ed25519Backend; why?: string } {
  if (!chosen) {
    const s = process.env[ED25519_ENV] === 'node-crypto' ? { ok: false as const, reason: `${ED25519_ENV}=node-crypto` } : sodiumLibrary();
    chosen = s.ok ? { backend: 'libsodium' } : { backend: 'node:crypto', why: s.reason };
  }
  return chosen;
}

/** The backend in words, for logs and `iot-ledger info`. */
export function describeEd25519(): string {
  const b = ed25519Backend();
  return b.backend === 'libsodium' ? 'libsodium (sodium-native)' : `node:crypto (libsodium not used: ${b.why ?? ''})`;
}

// Ed25519's group order L, little-endian.
const L = Uint8Array.from(Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'));

/** S (the signature's second half) below L, as RFC 8032 requires. */
function canonicalS(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i]!;
    const l = L[i]!;
    if (s !== l) return s < l;
  }
  return false; // S = L
}

/** A point encoding whose y (the low 255 bits) is p = 2^255 - 19 or more. */
function nonCanonicalPoint(bytes: Uint8Array): boolean {
  if ((bytes[31]! & 0x7f) !== 0x7f || bytes[0]! < 0xed) return false;
  for (let i = 1; i < 31; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

// First bytes of the small-order encodings (lib/crypto/small-order.ts): most R values are out at once.
const SMALL_ORDER_FIRST = new Set([0x00, 0x01, 0x26, 0xc7, 0xec, 0xed, 0xee]);

function smallOrder(bytes: Uint8Array): boolean {
  return SMALL_ORDER_FIRST.has(bytes[0]!) && isSmallOrderEd25519(bytes);
}

/** The checks both backends share (see the top of this file); true when the signature may verify. */
function acceptable(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64 || !canonicalS(signature)) return false;
  const r = signature.subarray(0, 32);
  return !smallOrder(r) && !smallOrder(publicKey) && !nonCanonicalPoint(publicKey);
}

/**
 * Verifies with the given backend; false for any malformed key or signature. Throws only when
 * asked for libsodium where it does not load.
 */
export function verifyEd25519With(backend: Ed25519Backend, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!acceptable(publicKey, signature)) return false;
  if (backend === 'libsodium') {
    const s = sodiumLibrary();
    if (!s.ok) throw new Error(`libsodium cannot load here: ${s.reason}`);
    return s.lib.crypto_sign_verify_detached(signature, message, publicKey);
  }
  try {
    return nodeVerify(null, message, publicKeyObject('Ed25519', publicKey), signature);
  } catch {
    return false;
  }
}

/** Verifies an Ed25519 signature with this process's backend (ed25519Backend()); never throws. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyEd25519With(ed25519Backend().backend, publicKey, message, signature);
}
