// The package main: the library API, usable without Node-RED.
export * from './errors';
export * from './bytes';
export * from './crypto';
export * from './codec';
export * from './envelope';
export * from './keyfile';
export { verifyNote, signNote, verifierKeyString, parseVerifierKey, parseNote, addNoteSignature } from './note';
export * from './checkpoint';
export * as merkle from './merkle';
export * from './ledger';
export * as firmware from './firmware';
export * as contracts from './contracts';
export { meanKineticTemperature } from './contracts/mkt';
export { auditLedger, formatReport, formatFinding } from './audit';
export type { AuditOptions, AuditReport, DeviceStatus, Finding, FindingKind } from './audit';
export * from './ledger';
export * as tiles from './tiles';
export * as replica from './replica';
