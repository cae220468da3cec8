// Independent verification of a ledger directory: full and incremental audits.
export { auditLedger } from './audit';
export { formatReport, formatFinding } from './report';
export type { AuditOptions, AuditReport, DeviceStatus, Finding, FindingKind } from './types';
export type { OpenLedgerDb } from './store';
