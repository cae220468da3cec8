// Keys as bytes and JWKs: parse, normalise and check them. No Node built-ins (the editor bundles
// this module through didkey.ts); node:crypto key objects and key generation are in keys.ts.
import { ed25519, p256 } from '../vendor/esm-only';
import { bytesEqual, concatBytes, fromBase64Url, toBase64Url } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { isSmallOrderEd25519 } from './small-order';

export type Alg = 'Ed25519' | 'ES256';
export const ALGS: readonly Alg[] = ['Ed25519', 'ES256'];

/** A public key: Ed25519 32 bytes, P-256 SEC1 compressed 33 bytes. */
export interface PublicKey {
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
}

/** A private key: the 32-byte Ed25519 seed or P-256 scalar, with its public key. */
export interface PrivateKey extends PublicKey {
  readonly secretKey: Uint8Array;
}

export interface Jwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  kid?: string;
  alg?: string;
  [extra: string]: unknown;
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_KEY', message);
}

/**
 * Throws ERR_WEAK_KEY for an Ed25519 public key of small order: such a key "verifies" a
 * signature nobody made (R = identity, S = 0), so it is refused wherever a key enters.
 */
export function assertStrongKey(alg: Alg, publicKey: Uint8Array): void {
  if (alg === 'Ed25519' && isSmallOrderEd25519(publicKey))
    throw new LedgerError('ERR_WEAK_KEY', 'Ed25519 public key is a point of small order, which would accept forged signatures');
}

export function isAlg(v: unknown): v is Alg {
  return v === 'Ed25519' || v === 'ES256';
}

/** Parses a P-256 SEC1 point (33 or 65 bytes); returns the uncompressed form or throws. */
export function p256Uncompressed(sec1: Uint8Array): Uint8Array {
  if (sec1.length !== 33 && sec1.length !== 65) throw malformed(`P-256 public key must be 33 or 65 bytes, got ${sec1.length}`);
  try {
    return p256.Point.fromBytes(sec1).toBytes(false);
  } catch {
    throw malformed('P-256 public key is not a point on the curve');
  }
}

/** Normalises raw public key bytes: Ed25519 must be 32 bytes; P-256 becomes compressed. */
export function publicKeyFromBytes(alg: Alg, bytes: Uint8Array): PublicKey {
  if (alg === 'Ed25519') {
    if (bytes.length !== 32) throw malformed(`Ed25519 public key must be 32 bytes, got ${bytes.length}`);
    assertStrongKey(alg, bytes);
    return { alg, publicKey: Uint8Array.from(bytes) };
  }
  if (alg === 'ES256') {
    const full = p256Uncompressed(bytes);
    return { alg, publicKey: p256.Point.fromBytes(full).toBytes(true) };
  }
  throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported algorithm ${String(alg)}`);
}

export function privateKeyFromBytes(alg: Alg, secret: Uint8Array): PrivateKey {
  if (secret.length !== 32) throw malformed(`${alg} private key must be 32 bytes, got ${secret.length}`);
  const secretKey = Uint8Array.from(secret);
  try {
    const publicKey = alg === 'Ed25519' ? ed25519.getPublicKey(secretKey) : p256.getPublicKey(secretKey, true);
    return { alg, publicKey, secretKey };
  } catch {
    throw malformed(`${alg} private key is out of range`);
  }
}

export function isPrivateKey(k: PublicKey): k is PrivateKey {
  return (k as PrivateKey).secretKey instanceof Uint8Array;
}

/** Public view of a key; never carries the secret. */
export function publicOnly(k: PublicKey): PublicKey {
  return { alg: k.alg, publicKey: k.publicKey };
}

export function keyToJwk(key: PublicKey, includePrivate = false): Jwk {
  const withD = (jwk: Jwk): Jwk =>
    includePrivate && isPrivateKey(key) ? { ...jwk, d: toBase64Url(key.secretKey) } : jwk;
  if (key.alg === 'Ed25519') return withD({ kty: 'OKP', crv: 'Ed25519', x: toBase64Url(key.publicKey) });
  const full = p256Uncompressed(key.publicKey);
  return withD({ kty: 'EC', crv: 'P-256', x: toBase64Url(full.subarray(1, 33)), y: toBase64Url(full.subarray(33)) });
}

function b64field(jwk: Jwk, name: 'x' | 'y' | 'd', len: number): Uint8Array {
  const v = jwk[name];
  if (typeof v !== 'string') throw malformed(`JWK is missing "${name}"`);
  let out: Uint8Array;
  try {
    out = fromBase64Url(v);
  } catch {
    throw malformed(`JWK "${name}" is not base64url`);
  }
  if (out.length !== len) throw malformed(`JWK "${name}" must be ${len} bytes, got ${out.length}`);
  return out;
}

/**
 * Imports a JWK (public, or private when `d` is present) and checks that `d` matches the public part
 * (derived by `fromSecret`: keys.ts passes one that uses node:crypto, much faster than this module's).
 */
export function jwkToKey(jwk: unknown, fromSecret: (alg: Alg, secret: Uint8Array) => PrivateKey = privateKeyFromBytes): PublicKey | PrivateKey {
  if (!jwk || typeof jwk !== 'object') throw malformed('JWK must be an object');
  const j = jwk as Jwk;
  let pub: PublicKey;
  if (j.kty === 'OKP' && j.crv === 'Ed25519') pub = publicKeyFromBytes('Ed25519', b64field(j, 'x', 32));
  else if (j.kty === 'EC' && j.crv === 'P-256')
    pub = publicKeyFromBytes('ES256', concatBytes(Uint8Array.of(4), b64field(j, 'x', 32), b64field(j, 'y', 32)));
  else throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported JWK kty/crv ${String(j.kty)}/${String(j.crv)}`);
  if (j.d === undefined) return pub;
  const priv = fromSecret(pub.alg, b64field(j, 'd', 32));
  if (!bytesEqual(priv.publicKey, pub.publicKey)) throw malformed('JWK private part does not match its public part');
  return priv;
}
