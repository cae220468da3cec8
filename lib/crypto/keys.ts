import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concatBytes, fromBase64Url } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { assertStrongKey, jwkToKey, keyToJwk, p256Uncompressed, privateKeyFromBytes, type Alg, type PrivateKey, type PublicKey } from './key-bytes';

export * from './key-bytes';

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
 * privateKeyFromBytes with the Ed25519 public key derived by node:crypto (tens of microseconds,
 * where the pure-JavaScript derivation first builds its tables: about 40 ms of a CLI command's start).
 */
export function privateKeyFromSecret(alg: Alg, secret: Uint8Array): PrivateKey {
  if (alg !== 'Ed25519' || secret.length !== 32) return privateKeyFromBytes(alg, secret);
  const ko = createPrivateKey({ key: Buffer.from(concatBytes(ED25519_PKCS8, secret)), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(ko).export({ format: 'der', type: 'spki' });
  return { alg, publicKey: Uint8Array.from(spki.subarray(ED25519_SPKI.length)), secretKey: Uint8Array.from(secret) };
}

/** jwkToKey, deriving an Ed25519 public key with node:crypto. */
export function jwkToKeyFast(jwk: unknown): PublicKey | PrivateKey {
  return jwkToKey(jwk, privateKeyFromSecret);
}

export function generateKey(alg: Alg = 'Ed25519'): PrivateKey {
  if (alg === 'Ed25519') {
    const { privateKey } = generateKeyPairSync('ed25519');
    return privateKeyFromSecret(alg, fromBase64Url(privateKey.export({ format: 'jwk' }).d as string));
  }
  if (alg === 'ES256') {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return privateKeyFromBytes(alg, fromBase64Url(privateKey.export({ format: 'jwk' }).d as string));
  }
  throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported algorithm ${String(alg)}`);
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
