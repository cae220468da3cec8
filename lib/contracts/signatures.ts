/**
 * Parties agree to terms by signing {contract, version, termsHash} in a JWS or
 * COSE_Sign1 envelope with their did:key. Terms become active once every party's
 * signature is recorded.
 */
import { decodePayload } from '../envelope/payload';
import { signEnvelope, verifyEnvelope, type EnvelopeFormat, type SignEnvelopeOptions } from '../envelope/envelope';
import { LedgerError } from '../errors';
import type { PrivateKey } from '../crypto/keys';
import { keyToDid } from '../crypto/didkey';
import { termsHashHex } from './terms-hash';
import { validateTerms, type Terms } from './terms';

export interface ContractSigningPayload {
  contract: string;
  version: number;
  /** Lower-case hex SHA-256 of the terms' deterministic CBOR. */
  termsHash: string;
}

export interface PartySignature {
  party: string;
  format: EnvelopeFormat;
  payload: ContractSigningPayload;
}

/** What a party signs. */
export function contractSigningPayload(terms: Terms): ContractSigningPayload {
  const t = validateTerms(terms);
  return { contract: t.id, version: t.version, termsHash: termsHashHex(t) };
}

/** Signs the terms as a party (JSON payload in a JWS by default, or COSE). */
export function signContract(terms: Terms, key: PrivateKey, opts: SignEnvelopeOptions = {}): string | Uint8Array {
  return signEnvelope(contractSigningPayload(terms), key, { kid: keyToDid(key), ...opts });
}

/**
 * Verifies `envelope` as `partyDid`'s agreement to exactly these terms. Throws
 * ERR_INVALID_ARGUMENT (not a party), envelope errors (ERR_MALFORMED_ENVELOPE,
 * ERR_BAD_SIGNATURE, ERR_UNSUPPORTED_ALG, ERR_MALFORMED_DID) or ERR_BAD_SIGNATURE when
 * the signed payload names other terms.
 */
export function verifyPartySignature(terms: Terms, envelope: string | Uint8Array, partyDid: string): PartySignature {
  const t = validateTerms(terms);
  if (!t.parties.includes(partyDid))
    throw new LedgerError('ERR_INVALID_ARGUMENT', `${partyDid} is not a party to ${t.id} v${t.version}`, { party: partyDid });
  // verifyEnvelope refuses a kid naming another key than the party's (ERR_KID_MISMATCH).
  const verified = verifyEnvelope(envelope, partyDid);
  const expected = contractSigningPayload(t);
  const got = decodePayload(verified.payload);
  if (!got || typeof got !== 'object' || Array.isArray(got) || got instanceof Map || got instanceof Uint8Array)
    throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'contract signature payload must be an object');
  const g = got as Record<string, unknown>;
  const keys = Object.keys(g).sort().join(',');
  if (keys !== 'contract,termsHash,version')
    throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'contract signature payload must hold exactly contract, version and termsHash');
  if (g.contract !== expected.contract || g.version !== expected.version || g.termsHash !== expected.termsHash)
    throw new LedgerError('ERR_BAD_SIGNATURE', `the signature is over other terms than ${t.id} v${t.version}`, {
      expected: { ...expected },
      got: { contract: String(g.contract), version: String(g.version), termsHash: String(g.termsHash) },
    });
  return { party: partyDid, format: verified.format, payload: expected };
}

/** Parties that have not signed yet. */
export function missingParties(terms: Terms, signedParties: ReadonlySet<string>): string[] {
  return validateTerms(terms).parties.filter((p) => !signedParties.has(p));
}

/**
 * Active: every party has signed and, when `at` (ms) is given, it lies within the
 * validity [validFrom, validUntil).
 */
export function isActive(terms: Terms, signedParties: ReadonlySet<string>, at?: number): boolean {
  const t = validateTerms(terms);
  if (!t.parties.every((p) => signedParties.has(p))) return false;
  if (at === undefined) return true;
  return (t.validFrom === undefined || at >= t.validFrom) && (t.validUntil === undefined || at < t.validUntil);
}
