// Proof bundles that carry the cosigned checkpoint: the newest block that covers the record
// and has cosignatures stored; otherwise the plain bundle (gateway signature only). A stored
// entry the audit reports as altered (openCosignedEntry) is passed over like a missing one.
import { LedgerError } from '../errors';
import { openCheckpoint } from '../note/checkpoint';
import type { Ledger, ProofBundle } from '../ledger';
import { openCosignedEntry } from './cosigned-entry';
import { cosignedEntriesNewestFirst } from './ledger-cosignatures';
import { logVerifier } from './cosignature';
import { verifyCosignedCheckpoint, type CosignedCheckpoint, type QuorumPolicy } from './quorum';

export async function cosignedProofBundle(ledger: Ledger, index: number): Promise<ProofBundle> {
  if (!Number.isSafeInteger(index) || index < 0 || index >= ledger.size) return ledger.proofBundle(index);
  for await (const [height, value] of cosignedEntriesNewestFirst(ledger.database)) {
    if (height >= ledger.height) continue;
    const block = await ledger.block(height);
    if (block.header.size <= index) break;
    const entry = openCosignedEntry(value, block.checkpoint);
    if ('problem' in entry) continue;
    const bundle = await ledger.proofBundle(index, height);
    return { ...bundle, checkpoint: entry.note };
  }
  return ledger.proofBundle(index);
}

/**
 * Checks the cosignatures of a bundle's (or any) checkpoint note against a policy, with the
 * gateway's key given as a verifier key or did:key. Throws ERR_WITNESS_QUORUM / ERR_BAD_SIGNATURE.
 */
export function checkQuorum(note: string, gatewayKey: string, policy: QuorumPolicy): CosignedCheckpoint {
  let origin: string;
  try {
    origin = openCheckpoint(note).origin;
  } catch (err) {
    throw new LedgerError('ERR_MALFORMED_NOTE', `checkpoint: ${(err as Error).message}`);
  }
  return verifyCosignedCheckpoint(note, logVerifier(gatewayKey, origin), policy);
}
