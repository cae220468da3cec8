// Firmware: vendor-signed release manifests, signed device reports, the update rules with
// typed rejections, and the per-device history derived from ledger records. Runtime-free.
export * from './reasons';
export { type Envelope, envelopeDigest, peekPayload } from './payload';
export * from './manifest';
export * from './report';
export * from './state';
export * from './rules';
export * from './history';
export * from './recheck';
export * from './offer';
