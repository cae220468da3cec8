import { concatBytes, fromBase58, toBase58 } from '../encoding/bytes';
import { isLedgerError, LedgerError } from '../errors';
import { publicKeyFromBytes, type Alg, type PublicKey } from './key-bytes';

// Multicodec prefixes (unsigned varints): ed25519-pub 0xed, p256-pub 0x1200.
const PREFIX: Record<Alg, Uint8Array> = {
  Ed25519: Uint8Array.of(0xed, 0x01),
  ES256: Uint8Array.of(0x80, 0x24),
};
const KEY_LENGTH: Record<Alg, number> = { Ed25519: 32, ES256: 33 };

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_DID', message);
}

/** did:key id of a public key (Ed25519 `did:key:z6Mk…`, P-256 compressed `did:key:zDn…`). */
export function keyToDid(key: PublicKey): string {
  const pub = publicKeyFromBytes(key.alg, key.publicKey);
  return `did:key:z${toBase58(concatBytes(PREFIX[key.alg], pub.publicKey))}`;
}

/** Parses a did:key (optionally with a `#fragment`) back to its public key. */
export function didToKey(did: string): PublicKey {
  if (typeof did !== 'string') throw malformed('did:key must be a string');
  const m = /^did:key:z([1-9A-HJ-NP-Za-km-z]+)(?:#z[1-9A-HJ-NP-Za-km-z]+)?$/.exec(did);
  if (!m) throw malformed(`not a did:key id: ${did.slice(0, 80)}`);
  let bytes: Uint8Array;
  try {
    bytes = fromBase58(m[1] ?? '');
  } catch {
    throw malformed('did:key is not valid base58btc');
  }
  for (const alg of Object.keys(PREFIX) as Alg[]) {
    const p = PREFIX[alg];
    if (bytes[0] !== p[0] || bytes[1] !== p[1]) continue;
    const key = bytes.subarray(p.length);
    if (key.length !== KEY_LENGTH[alg])
      throw malformed(`did:key ${alg} key must be ${KEY_LENGTH[alg]} bytes, got ${key.length}`);
    try {
      return publicKeyFromBytes(alg, key);
    } catch (err) {
      if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
      throw new LedgerError('ERR_MALFORMED_DID', `did:key holds an invalid ${alg} key: ${(err as Error).message}`, undefined, err);
    }
  }
  throw malformed('did:key uses an unsupported key type (only Ed25519 and P-256)');
}

export function isDidKey(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('did:key:z');
}
