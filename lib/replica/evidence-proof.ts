// What makes replica fork or rollback evidence checkable offline with the gateway's public key
// alone: for two signed checkpoints of different sizes, a consistency proof in the larger one's
// tree that gives the smaller size another root than the smaller checkpoint signs.
import { bytesEqual, fromBase64, toBase64 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { parseTrustedKey } from '../audit/trust';
import { consistencyPlan, EMPTY_ROOT, rootPlan, verifyConsistency, type NodeId } from '../merkle';
import { checkpointHeader, openCheckpoint, type Checkpoint } from '../note/checkpoint';
import type { TileVerifier } from '../tiles/verify';

/** A consistency proof from size1 to size2 in the tree of the larger checkpoint; root1 is that tree's root at size1 (base64). */
export interface EvidenceProof {
  size1: number;
  size2: number;
  root1: string;
  hashes: string[];
}

/** How the two checkpoints of evidence conflict: another root for a size, or another header for a block height. */
export type Conflict = 'roots' | 'headers';

/** The proof from `size1` to the size of the tree `tiles` verifies (an origin checkpoint larger than the other note). */
export async function proofFromTiles(tiles: TileVerifier, size1: number): Promise<EvidenceProof> {
  const nodes = (ids: NodeId[]): Promise<Uint8Array[]> => Promise.all(ids.map((id) => tiles.nodeHash(id)));
  const root = rootPlan(size1);
  const root1 = size1 === 0 ? EMPTY_ROOT : root.rehash(await nodes(root.ids))[0];
  const plan = consistencyPlan(size1, tiles.size);
  return encodeProof(size1, tiles.size, root1, plan.rehash(await nodes(plan.ids)));
}

export function encodeProof(size1: number, size2: number, root1: Uint8Array, hashes: Uint8Array[]): EvidenceProof {
  return { size1, size2, root1: toBase64(root1), hashes: hashes.map(toBase64) };
}

function notShown(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_PROOF', `the evidence shows no conflict: ${message}`);
}

function decodeProof(p: unknown): { size1: number; size2: number; root1: Uint8Array; hashes: Uint8Array[] } {
  const o = p as Partial<EvidenceProof> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.hashes) || typeof o.root1 !== 'string' || typeof o.size1 !== 'number' || typeof o.size2 !== 'number')
    throw notShown('its proof is missing or malformed');
  try {
    return { size1: o.size1, size2: o.size2, root1: fromBase64(o.root1), hashes: o.hashes.map((h) => fromBase64(String(h))) };
  } catch {
    throw notShown('its proof holds a hash that is not base64');
  }
}

/**
 * Checks replica evidence (docs/FORMAT.md "Replicas") with the gateway's key alone (a did:key or
 * verifier key): both notes must be the gateway's, and either commit to different headers for
 * one block height, or sign different roots for one size, or the proof must show the larger
 * tree has another root at the smaller size than the smaller checkpoint signs. Throws
 * ERR_BAD_SIGNATURE (a note the key did not sign), ERR_MALFORMED_NOTE (a note or verifier key that is
 * none, or a malformed header line), ERR_MALFORMED_DID or ERR_INVALID_ARGUMENT (a did:key that is
 * none, or not Ed25519) or ERR_MALFORMED_PROOF (no conflict shown).
 */
export function verifyEvidence(evidence: { origin: string; ours: string; theirs: string; proof?: unknown }, trustedKey: string): Conflict {
  const key = parseTrustedKey(trustedKey, evidence.origin);
  const a = openCheckpoint(evidence.ours, key);
  const b = openCheckpoint(evidence.theirs, key);
  if (a.origin !== evidence.origin || b.origin !== evidence.origin) throw notShown('a checkpoint is for another origin');
  let rootsDiffer: LedgerError | null = null;
  try {
    rootsConflict(a, b, evidence.proof);
    return 'roots';
  } catch (err) {
    rootsDiffer = err as LedgerError;
  }
  const ha = checkpointHeader(a);
  const hb = checkpointHeader(b);
  if (ha && hb && ha.height === hb.height && !bytesEqual(ha.hash, hb.hash)) return 'headers';
  throw rootsDiffer;
}

/** Returns when `a` and `b` sign different roots for one size (shown by `proof` for different sizes); else throws ERR_MALFORMED_PROOF. */
function rootsConflict(a: Checkpoint, b: Checkpoint, proof: unknown): void {
  const [small, large]: [Checkpoint, Checkpoint] = a.size <= b.size ? [a, b] : [b, a];
  if (small.size === large.size) {
    if (!bytesEqual(small.root, large.root)) return;
    throw notShown('both checkpoints sign the same tree');
  }
  const p = decodeProof(proof);
  if (p.size1 !== small.size || p.size2 !== large.size) throw notShown(`its proof is from ${p.size1} to ${p.size2}, the checkpoints are of ${small.size} and ${large.size}`);
  if (!verifyConsistency(p.size1, p.size2, p.hashes, p.root1, large.root)) throw notShown(`its proof does not verify against the root of ${large.size} records`);
  if (bytesEqual(p.root1, small.root)) throw notShown(`the tree of ${large.size} records extends the one of ${small.size}`);
}
