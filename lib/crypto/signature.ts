import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519, p256 } from '../vendor/esm-only';
import { isAlg, privateKeyObject, publicKeyObject, type Alg, type PrivateKey } from './keys';
import { LedgerError } from '../errors';
import { byteAt } from '../encoding/bytes';
import { verifyEd25519 } from './ed25519';

/** Signs with node:crypto. ES256 signatures are raw r||s (64 bytes), as JWS and COSE use them. */
export function sign(key: PrivateKey, message: Uint8Array): Uint8Array {
  const ko = privateKeyObject(key);
  if (key.alg === 'Ed25519') return new Uint8Array(nodeSign(null, message, ko));
  return new Uint8Array(nodeSign('sha256', message, { key: ko, dsaEncoding: 'ieee-p1363' }));
}

/**
 * Verifies a raw signature. Returns false for a wrong signature and for malformed keys or
 * signatures; throws ERR_UNSUPPORTED_ALG only for an unknown algorithm name.
 */
export function verifySignature(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isAlg(alg)) throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported algorithm ${String(alg)}`);
  if (!(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array))
    return false;
  if (alg === 'Ed25519') return verifyEd25519(publicKey, message, signature);
  if (signature.length !== 64) return false;
  try {
    return nodeVerify('sha256', message, { key: publicKeyObject(alg, publicKey), dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** Pure-JS verification with @noble/curves under the strict settings Wycheproof expects. */
export function verifySignatureNoble(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (alg === 'Ed25519') return ed25519.verify(signature, message, publicKey, { zip215: false });
    return p256.verify(signature, message, publicKey, { lowS: false, prehash: true, format: 'compact' });
  } catch {
    return false;
  }
}

/** Strict DER (X.690) ECDSA-Sig-Value to raw r||s; null for anything that is not minimal DER. */
export function ecdsaDerToRaw(der: Uint8Array, size = 32): Uint8Array | null {
  let pos = 0;
  const readLen = (): number | null => {
    if (pos >= der.length) return null;
    const b = byteAt(der, pos++);
    if (b < 0x80) return b;
    if (b !== 0x81 || pos >= der.length) return null;
    const l = byteAt(der, pos++);
    return l < 0x80 ? null : l;
  };
  const readInt = (): Uint8Array | null => {
    if (der[pos++] !== 0x02) return null;
    const len = readLen();
    if (len === null || len === 0 || pos + len > der.length) return null;
    const v = der.subarray(pos, pos + len);
    pos += len;
    const first = byteAt(v, 0);
    if (first & 0x80) return null; // negative
    if (len > 1 && first === 0 && !(byteAt(v, 1) & 0x80)) return null; // non-minimal
    const trimmed = first === 0 ? v.subarray(1) : v;
    if (trimmed.length > size) return null;
    return trimmed;
  };
  if (der[pos++] !== 0x30) return null;
  const total = readLen();
  if (total === null || pos + total !== der.length) return null;
  const r = readInt();
  if (!r) return null;
  const s = readInt();
  if (!s || pos !== der.length) return null;
  const out = new Uint8Array(size * 2);
  out.set(r, size - r.length);
  out.set(s, 2 * size - s.length);
  return out;
}
