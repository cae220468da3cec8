// The ledger: durable append, blocks and checkpoints, reads and proofs (docs/FORMAT.md).
export { Ledger, type LedgerOptions, type IndexQuery } from './store';
export type { Receipt } from './commit';
export type { StoredRecord } from './reads';
export type { BlockHeader, BlockInfo } from './blocks';
export { MAX_BLOCK_RECORDS, MAX_BLOCK_BYTES } from './block-limits';
export { verifyProofBundle, PROOF_BUNDLE_FORMAT, type ProofBundle, type VerifiedBundle } from './bundle';
export {
  verifyConsistencyBundle,
  CONSISTENCY_BUNDLE_FORMAT,
  type ConsistencyBundle,
  type VerifiedConsistency,
} from './bundle';
export {
  encodeRecord,
  decodeRecord,
  checkRecordInput,
  TYPE_PATTERN,
  DEFAULT_MAX_RECORD_BYTES,
  type LedgerRecord,
  type RecordInput,
} from './record';
export { jsonView, recordView, blockView } from './view';
export { collectViews, latestViews, MAX_QUERY_BYTES, type QueryViews } from './query-views';
export { migrateLedger, type MigrationResult } from './migrate';
