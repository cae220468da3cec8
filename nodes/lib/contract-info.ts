// What the Contract node's edit dialog shows about its deployed contracts: parties and their
// signatures, what a party must sign, and the current state (without the window buckets).
import type { ContractSigningPayload, ContractState } from '../../lib/contracts';
import type { ContractRunner } from '../../lib/gateway';

/** The contract state for people: everything but the internal window buckets and intervals. */
export interface StateSummary extends Omit<ContractState, 'window' | 'intervals'> {
  window: Omit<ContractState['window'], 'buckets' | 'bucketMs'>;
}

export interface ContractInfo {
  id: string;
  version: number;
  title: string;
  metric: string;
  unit: string | null;
  termsHash: string;
  active: boolean;
  parties: { did: string; signed: boolean }[];
  missingParties: string[];
  /** Exactly what each party signs (JWS or COSE_Sign1 with its did:key). */
  signingPayload: ContractSigningPayload;
  state: StateSummary;
}

export function stateSummary(s: ContractState): StateSummary {
  const { window: w, intervals: _intervals, ...rest } = s;
  const { buckets: _buckets, bucketMs: _bucketMs, ...window } = w;
  return { ...rest, window };
}

export function contractInfo(r: ContractRunner): ContractInfo {
  const t = r.terms;
  return {
    id: t.id,
    version: t.version,
    title: t.title,
    metric: t.metric,
    unit: t.unit ?? null,
    termsHash: r.ref.termsHash,
    active: r.active,
    parties: t.parties.map((did) => ({ did, signed: r.signed.has(did) })),
    missingParties: r.missingParties,
    signingPayload: { contract: r.ref.contract, version: r.ref.version, termsHash: r.ref.termsHash },
    state: stateSummary(r.current()),
  };
}
