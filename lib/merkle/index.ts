/**
 * RFC 6962 / RFC 9162 Merkle trees. The ledger is one append-only tree whose
 * leaves are records. The jobs are kept apart, as in the RFC and in
 * transparency-dev/merkle:
 *   - hash.ts: leaf and interior node hashes, the tree head (MTH);
 *   - proof.ts: the audit path and consistency proof, over leaf hashes and as
 *     plans naming the stored perfect subtrees a proof is made of;
 *   - verify.ts: the verification algorithms, which never throw and say why
 *     a proof failed;
 *   - compact.ts: the compact range, the right frontier an appender keeps.
 */
export { HASH_SIZE, EMPTY_ROOT, leafHash, nodeHash, rootFromLeafHashes } from './hash';
export { inclusionProof, consistencyProof, inclusionPlan, consistencyPlan, rootPlan } from './proof';
export type { NodeId, ProofPlan } from './proof';
export { checkInclusion, checkConsistency, verifyInclusion, verifyConsistency, rootFromInclusionProof } from './verify';
export type { ProofCheck } from './verify';
export { CompactRange } from './compact';
