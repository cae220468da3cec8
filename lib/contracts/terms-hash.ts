// The bytes and hash of normalised terms: what the ledger stores and what the parties sign.
import { toHex } from '../encoding/bytes';
import { encodeCbor, type CborValue } from '../encoding/codec';
import { sha256 } from '../crypto/hash';
import { validateTerms } from './terms';

/** The deterministic CBOR bytes of the normalised terms (what the ledger stores). */
export function termsBytes(terms: unknown): Uint8Array {
  return encodeCbor(validateTerms(terms) as unknown as CborValue);
}

/** SHA-256 of the deterministic CBOR of the normalised terms. */
export function termsHash(terms: unknown): Uint8Array {
  return sha256(termsBytes(terms));
}

export function termsHashHex(terms: unknown): string {
  return toHex(termsHash(terms));
}
