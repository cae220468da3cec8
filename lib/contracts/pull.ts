// Contracts that devices and other gateways pull: the registered terms and every party's
// recorded signature, each with its inclusion proof under a checkpoint the gateway signed.
// Whoever holds the gateway key can check the terms they are judged by, offline.
import { LedgerError } from '../errors';
import { parseBoundedJson } from '../guards/limits';
import type { Ledger } from '../ledger';
import { verifyProofBundle, type ProofBundle } from '../ledger/bundle';
import type { LedgerRecord } from '../ledger/record';
import { CONTRACT_REGISTER, CONTRACT_SIGN } from './records';
import { verifyPartySignature } from './signatures';
import { termsHashHex } from './terms-hash';
import { validateTerms, type Terms } from './terms';

export const CONTRACT_DOCUMENT_FORMAT = 'iot-ledger-contract/1';
/** The retained MQTT topic a gateway publishes a contract document on. */
export const contractTopic = (contractId: string): string => `iot-ledger/contract/${contractId}`;

/**
 * Largest contract document text parsed (bytes, or characters of a string): a register bundle
 * and 64 party bundles, each of a record at the default 65535-byte limit in base64 with its
 * proof and checkpoint, is about 6 MB; real documents are a few kB per party.
 */
export const MAX_CONTRACT_DOCUMENT_BYTES = 8 * 1024 * 1024;

/**
 * Parses a contract document as MQTT brings it (JSON text or bytes), bounded before JSON.parse:
 * ERR_PAYLOAD_TOO_LARGE past MAX_CONTRACT_DOCUMENT_BYTES, ERR_PAYLOAD_TOO_DEEP past 64 levels
 * of nesting (a document has 4), ERR_INVALID_TERMS when it is not JSON.
 */
export function parseContractDocument(payload: string | Uint8Array): unknown {
  return parseBoundedJson('a contract document', payload, MAX_CONTRACT_DOCUMENT_BYTES, bad);
}

export interface ContractDocument {
  format: typeof CONTRACT_DOCUMENT_FORMAT;
  contract: string;
  version: number;
  termsHash: string;
  /** Proof bundle of the contract.register record (its body holds the terms). */
  register: ProofBundle;
  /** Proof bundles of the contract.sign records, one per party (the envelope is in the record). */
  signatures: ProofBundle[];
}

export interface VerifiedContract {
  terms: Terms;
  termsHash: string;
  /** Parties whose recorded signature verified. */
  signed: string[];
  /** Each signed party's envelope, as recorded (to record it again elsewhere). */
  envelopes: Record<string, string | Uint8Array>;
  /** Every party signed. */
  active: boolean;
  registeredAt: number;
}

function bad(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_TERMS', message);
}

const body = (r: LedgerRecord): Record<string, unknown> =>
  typeof r.body === 'object' && r.body !== null && !Array.isArray(r.body) && !(r.body instanceof Uint8Array) ? (r.body as Record<string, unknown>) : {};

/** Builds the document of the contract registered with `termsHash` (seals pending records to prove them). */
export async function contractDocument(ledger: Ledger, termsHash: string): Promise<ContractDocument | null> {
  let register: { index: number; terms: Terms } | null = null;
  for await (const r of ledger.byType(CONTRACT_REGISTER)) {
    const b = body(r.record);
    if (b.termsHash === termsHash) register = { index: r.index, terms: validateTerms(b.terms) };
  }
  if (!register) return null;
  const signs = new Map<string, number>();
  for await (const r of ledger.byType(CONTRACT_SIGN, { from: register.index })) {
    const b = body(r.record);
    if (b.termsHash === termsHash && typeof b.party === 'string' && !signs.has(b.party)) signs.set(b.party, r.index);
  }
  const proof = await ledger.proofBundle(register.index);
  const signatures: ProofBundle[] = [];
  for (const index of signs.values()) signatures.push(await ledger.proofBundle(index));
  return {
    format: CONTRACT_DOCUMENT_FORMAT,
    contract: register.terms.id,
    version: register.terms.version,
    termsHash,
    register: proof,
    signatures,
  };
}

/**
 * Verifies a contract document with the gateway key alone: every bundle's inclusion proof
 * and checkpoint signature, the terms against their hash, each party's signature envelope
 * against the terms; every bundle must be proved under the registration's origin. More signature bundles than the terms have parties are refused before
 * any of them is checked, a second bundle of one party before its signature is.
 * Throws ERR_MALFORMED_PROOF / ERR_BAD_SIGNATURE (bundles), ERR_INVALID_TERMS.
 */
export function verifyContractDocument(doc: unknown, gatewayKey: string): VerifiedContract {
  const d = doc as Partial<ContractDocument>;
  if (typeof doc !== 'object' || doc === null || d.format !== CONTRACT_DOCUMENT_FORMAT) throw bad(`not a ${CONTRACT_DOCUMENT_FORMAT} document`);
  const reg = verifyProofBundle(d.register, gatewayKey);
  if (reg.record.type !== CONTRACT_REGISTER) throw bad('the register bundle does not prove a contract.register record');
  const terms = validateTerms(body(reg.record).terms);
  const hash = termsHashHex(terms);
  if (body(reg.record).termsHash !== hash || d.termsHash !== hash) throw bad('the terms do not match their recorded hash');
  if (!Array.isArray(d.signatures)) throw bad('signatures must be an array of proof bundles');
  // At most one signature per party: anyone can copy a published document and repeat one of its
  // valid bundles, and each would cost a signature check and a hash of the terms.
  if (d.signatures.length > terms.parties.length)
    throw bad(`${d.signatures.length} signature bundles for ${terms.parties.length} ${terms.parties.length === 1 ? 'party' : 'parties'}: at most one each`);
  const signed = new Set<string>();
  const envelopes: Record<string, string | Uint8Array> = {};
  for (const bundle of d.signatures) {
    const s = verifyProofBundle(bundle, gatewayKey);
    const b = body(s.record);
    if (s.record.type !== CONTRACT_SIGN || b.termsHash !== hash || typeof b.party !== 'string' || s.record.envelope === undefined)
      throw bad(`bundle of record ${s.index} is not a signature of these terms`);
    // One key may sign several ledgers: an index says where a record lies only within its origin.
    if (s.checkpoint.origin !== reg.checkpoint.origin) throw bad(`signature record ${s.index} is proved under "${s.checkpoint.origin}", not under "${reg.checkpoint.origin}" as the registration`);
    if (s.index < reg.index) throw bad(`signature record ${s.index} comes before the registration`);
    if (!terms.parties.includes(b.party)) throw bad(`signature record ${s.index} is of ${b.party}, not a party`);
    if (signed.has(b.party)) throw bad(`${b.party} has a second signature bundle (record ${s.index})`);
    verifyPartySignature(terms, s.record.envelope, b.party);
    signed.add(b.party);
    envelopes[b.party] = s.record.envelope;
  }
  return { terms, termsHash: hash, signed: [...signed], envelopes, active: terms.parties.every((p) => signed.has(p)), registeredAt: reg.index };
}

/** What a puller keeps of one contract id: the highest version it accepted and the hash of those terms. */
export interface AcceptedVersion {
  version: number;
  termsHash: string;
}

/**
 * The rule for a contract document pulled from a topic anyone can publish on, where an older
 * document the origin once signed (an earlier version, or the same version before every party
 * had signed) can be sent again: per contract id, the highest version accepted is the current one.
 * Returns `newer` (no version known, or a higher one) or `same` (the known terms again, maybe with
 * more signatures). Throws ERR_REPLAY for a lower version (stale) and ERR_CONTRACT_CONFLICT for
 * the known version with other terms (the origin signed two terms under one version).
 */
export function checkContractVersion(known: AcceptedVersion | undefined, doc: { terms: Terms; termsHash: string }): 'newer' | 'same' {
  const { id, version } = doc.terms;
  if (!known || version > known.version) return 'newer';
  if (version < known.version)
    throw new LedgerError('ERR_REPLAY', `contract ${id} version ${version} is stale: version ${known.version} is current`, { contract: id, version, current: known.version });
  if (doc.termsHash !== known.termsHash)
    throw new LedgerError('ERR_CONTRACT_CONFLICT', `contract ${id} version ${version} has other terms (${doc.termsHash}) than the ones accepted (${known.termsHash})`, {
      contract: id,
      version,
      termsHash: doc.termsHash,
      current: known.termsHash,
    });
  return 'same';
}

/**
 * The highest version of contract `id` registered on `ledger` (the last registration of it when
 * two have that version), or undefined when none is: a gateway pulling documents takes its own
 * ledger as the authority on which terms are current.
 */
export async function registeredVersion(ledger: Ledger, id: string): Promise<AcceptedVersion | undefined> {
  let best: AcceptedVersion | undefined;
  for await (const r of ledger.byType(CONTRACT_REGISTER)) {
    const reg = registrationOf(r.record.body);
    if (reg?.contract !== id) continue;
    if (!best || reg.version >= best.version) best = { version: reg.version, termsHash: reg.termsHash };
  }
  return best;
}

/** What the body of a contract.register record says it registers; undefined for a body that does not say (it counts for nothing). */
export function registrationOf(recordBody: unknown): { contract: string; version: number; termsHash: string } | undefined {
  if (typeof recordBody !== 'object' || recordBody === null || Array.isArray(recordBody) || recordBody instanceof Uint8Array) return undefined;
  const b = recordBody as Record<string, unknown>;
  if (typeof b.contract !== 'string' || typeof b.version !== 'number' || typeof b.termsHash !== 'string') return undefined;
  return { contract: b.contract, version: b.version, termsHash: b.termsHash };
}

/** A pulled contract as a device keeps it: the current version's terms and every party seen to sign them. */
export interface CurrentContract {
  terms: Terms;
  termsHash: string;
  signed: ReadonlySet<string>;
  /** Every party signed (in this document or one before of the same terms). */
  active: boolean;
}

/**
 * What a device remembers of the contract documents it pulled: per contract id, the highest
 * version verified, with the parties seen to sign it (signatures only add up, so a replay of the
 * document from before the last signature does not make the contract inactive again). `accept`
 * throws as checkContractVersion does and changes nothing then.
 */
export class PulledContracts {
  readonly #byId = new Map<string, CurrentContract>();

  /** Takes a document verifyContractDocument accepted; returns the contract's current state. */
  accept(v: VerifiedContract): CurrentContract {
    const known = this.#byId.get(v.terms.id);
    const step = checkContractVersion(known && { version: known.terms.version, termsHash: known.termsHash }, v);
    const signed = new Set(step === 'same' && known ? known.signed : []);
    for (const p of v.signed) signed.add(p);
    const current: CurrentContract = { terms: v.terms, termsHash: v.termsHash, signed, active: v.terms.parties.every((p) => signed.has(p)) };
    this.#byId.set(v.terms.id, current);
    return current;
  }

  /** The current version of contract `id`, when one was accepted. */
  get(id: string): CurrentContract | undefined {
    return this.#byId.get(id);
  }
}
