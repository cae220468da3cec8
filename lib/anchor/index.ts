// Anchoring signed checkpoints on an EVM chain (docs/FORMAT.md "anchor", README "Anchoring on a public chain").
export { anchorArtifact, type AnchorArtifact } from './artifact';
export { anchorSubject, originHash, checkpointHash, type AnchorSubject } from './subject';
export { ANCHOR_RECORD, parseAnchorBody, type AnchorBody } from './record';
export { checkAnchorKey, readAnchorKeyFile } from './key';
export {
  anchorError,
  anchorInterface,
  anchorsOfTransaction,
  contractAddress,
  makeProvider,
  MAX_ANCHOR_LOGS,
  MAX_LOG_REQUESTS,
  readChainAnchors,
  remoteChainId,
  stopError,
  type ChainAnchor,
  type ReadAnchorsOptions,
} from './chain';
export { checkAnchors, anchorsCovering, anchoredAt, formatAnchorCheck, type AnchorCheck, type AnchorFinding, type LedgerTree, type RecordedAnchor } from './verify';
export { Anchorer, MAX_ANCHORER_RESPONSE_BYTES, MAX_LOST_ANCHORS, MAX_UNCONFIRMED_ANCHORS, type AnchorHost, type AnchorSettings, type AnchorStatus, type AnchorView } from './anchorer';
export { verifyLedgerAnchors, checkAnchoredCheckpoint, DEFAULT_ANCHOR_CHECK_MS, type AnchoredCheckpoint, type AnchorsElsewhere, type LedgerAnchorCheck, type LedgerAnchorOptions } from './ledger-check';
