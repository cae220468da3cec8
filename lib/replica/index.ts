// Replicas: verified copies of a gateway's ledger, fetched over C2SP tlog-tiles.
export { Replicator, gatewaySignature, DEFAULT_MAX_BLOCK_RECORDS, DEFAULT_MAX_BLOCK_BYTES, type CheckpointPolicy, type ReplicaProgress, type ReplicatorOptions, type CatchUpResult } from './replicate';
export { ReplicaStore } from './store';
export { httpTileFetch, type HttpFetchOptions, type HttpTileFetch } from './http';
export { EVIDENCE_DIR, type Evidence } from './evidence';
export { verifyEvidence, type Conflict, type EvidenceProof } from './evidence-proof';
export { ReplicaFollower, type FollowerOptions, type FollowerState, type FollowerView } from './follower';
export { mqttTileFetch, splitTileMqttUrl, tileFetchFor, type ClosableTileFetch, type MqttFetchOptions, type MqttTileFetch, type RetainedCheck } from './mqtt';
export { originRetainedCheck } from './retained-check';
