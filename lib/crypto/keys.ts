import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
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

// DER prefixes that turn raw key bytes into SPKI / PKCS#8, which node:crypto imports fastest.
const ED25519_SPKI = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const ED25519_PKCS8 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const P256_SPKI = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
  0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
]);

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

export function generateKey(alg: Alg = 'Ed25519'): PrivateKey {
  if (alg === 'Ed25519') {
    const { privateKey } = generateKeyPairSync('ed25519');
    return privateKeyFromBytes(alg, fromBase64Url(privateKey.export({ format: 'jwk' }).d as string));
  }
  if (alg === 'ES256') {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return privateKeyFromBytes(alg, fromBase64Url(privateKey.export({ format: 'jwk' }).d as string));
  }
  throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported algorithm ${String(alg)}`);
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

/** Imports a JWK (public, or private when `d` is present) and checks that `d` matches the public part. */
export function jwkToKey(jwk: unknown): PublicKey | PrivateKey {
  if (!jwk || typeof jwk !== 'object') throw malformed('JWK must be an object');
  const j = jwk as Jwk;
  let pub: PublicKey;
  if (j.kty === 'OKP' && j.crv === 'Ed25519') pub = publicKeyFromBytes('Ed25519', b64field(j, 'x', 32));
  else if (j.kty === 'EC' && j.crv === 'P-256')
    pub = publicKeyFromBytes('ES256', concatBytes(Uint8Array.of(4), b64field(j, 'x', 32), b64field(j, 'y', 32)));
  else throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported JWK kty/crv ${String(j.kty)}/${String(j.crv)}`);
  if (j.d === undefined) return pub;
  const priv = privateKeyFromBytes(pub.alg, b64field(j, 'd', 32));
  if (!bytesEqual(priv.publicKey, pub.publicKey)) throw malformed('JWK private part does not match its public part');
  return priv;
}

// node:crypto KeyObjects are costly to build, so keep the most recently used ones.
const publicKeyObjects = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 4096;

/** Throws ERR_MALFORMED_KEY for bytes that are not a valid key of the algorithm. */
export function publicKeyObject(alg: Alg, publicKey: Uint8Array): KeyObject {
  const id = alg + Buffer.from(publicKey).toString('hex');
  let ko = publicKeyObjects.get(id);
  if (ko) return ko;
  let der: Uint8Array;
  if (alg === 'Ed25519') {
    if (publicKey.length !== 32) throw malformed(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
    assertStrongKey(alg, publicKey);
    der = concatBytes(ED25519_SPKI, publicKey);
  } else if (alg === 'ES256') {
    der = concatBytes(P256_SPKI, p256Uncompressed(publicKey));
  } else throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported algorithm ${String(alg)}`);
  try {
    ko = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    throw malformed(`${alg} public key was refused`);
  }
  if (publicKeyObjects.size >= MAX_CACHED_KEYS) publicKeyObjects.delete(publicKeyObjects.keys().next().value as string);
  publicKeyObjects.set(id, ko);
  return ko;
}

const privateKeyObjects = new WeakMap<PrivateKey, KeyObject>();

export function privateKeyObject(key: PrivateKey): KeyObject {
  let ko = privateKeyObjects.get(key);
  if (ko) return ko;
  if (key.alg === 'Ed25519') {
    ko = createPrivateKey({ key: Buffer.from(concatBytes(ED25519_PKCS8, key.secretKey)), format: 'der', type: 'pkcs8' });
  } else {
    ko = createPrivateKey({ key: keyToJwk(key, true) as import('node:crypto').JsonWebKey, format: 'jwk' });
  }
  privateKeyObjects.set(key, ko);
  return ko;
}
