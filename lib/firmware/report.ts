// Device reports: a device signs what it runs ({class, version, sequence, digest}) with its own
// key, together with a strictly increasing counter and/or a timestamp against replay.
import { encodeCbor, type CborValue } from '../encoding/codec';
import { isDidKey, keyToDid, type PrivateKey } from '../crypto';
import { signEnvelope, verifyEnvelope, type EnvelopeFormat } from '../envelope/envelope';
import { isLedgerError } from '../errors';
import { parseTime } from '../contracts/time';
import { checkTimeExists, count, decodeObject, didOfKid, digestField, fieldError, text, TIME_EXPECTED, timeValue, type Envelope } from './payload';
import { REJECTION_REASONS, reject, type RejectionReason } from './reasons';

export interface Report {
  class: string;
  version: string;
  sequence: number;
  digest: string;
  /** Vendor id, when the device states it. */
  vendor?: string;
  /** Strictly increasing per device. */
  counter?: number;
  /** Device time in ms since the epoch (an RFC 3339 date-time with an offset accepted on input); strictly increasing per device. */
  ts?: number;
  /** An offer the device refused (it still runs what the other fields say). */
  refused?: Refusal;
}

/** What a device refused: the offered manifest's sequence and digest, and why (a RejectionReason). */
export interface Refusal {
  sequence: number;
  digest: string;
  reason: RejectionReason;
}

export interface ReportInput extends Omit<Report, 'ts'> {
  ts?: number | string;
}

export interface OpenedReport {
  report: Report;
  device: string;
  envelope: Envelope;
  format: EnvelopeFormat;
}

const FIELDS = new Set(['class', 'version', 'sequence', 'digest', 'vendor', 'counter', 'ts', 'refused']);
const WHAT = 'report';

/**
 * Checks report fields; at least one of counter and ts is required. Throws reason 'malformed'.
 * A ts is read as recorded (timeValue: also a date alone, or a date or time that does not exist,
 * rolled over, as earlier gateways took them); a report being accepted is parseNewReport.
 */
export function parseReport(obj: Record<string, unknown>): Report {
  for (const key of Object.keys(obj)) if (!FIELDS.has(key)) throw reject('malformed', `report has an unknown field "${key}"`, { field: key });
  const r: Report = {
    class: text(obj, WHAT, 'class'),
    version: text(obj, WHAT, 'version', 64),
    sequence: count(obj, WHAT, 'sequence'),
    digest: digestField(obj, WHAT),
  };
  if (obj.vendor !== undefined) r.vendor = text(obj, WHAT, 'vendor');
  if (obj.counter !== undefined) r.counter = count(obj, WHAT, 'counter');
  if (obj.ts !== undefined) {
    const ts = timeValue(obj.ts);
    if (ts === undefined) throw fieldError(WHAT, 'ts', TIME_EXPECTED, obj.ts);
    r.ts = ts;
  }
  if (obj.refused !== undefined) r.refused = parseRefusal(obj.refused);
  if (r.counter === undefined && r.ts === undefined) throw reject('malformed', 'report needs a counter or a ts (replay protection)');
  return r;
}

/** What a report's ts must be when the report is accepted, as a field error says. */
export const REPORT_TS_EXPECTED = 'milliseconds since the epoch or an RFC 3339 date-time with an offset (Z or ±hh:mm), e.g. "2026-12-06T10:00:00Z"';

/**
 * A report being accepted (signed, or checked by the gateway): parseReport, and a ts that exists
 * (checkTimeExists) and, given as text, is a date-time with an offset that contracts' parseTime
 * takes, as the gateway admits a reading's time (lib/registry/freshness.ts admissionProblem): a
 * date alone ("2026-12-06", read as midnight UTC), which parseReport reads as recorded, is
 * refused here (reason 'malformed', field ts). Every ts text accepted is one timeValue reads as
 * parseTime does.
 */
export function parseNewReport(obj: Record<string, unknown>): Report {
  const r = parseReport(obj);
  checkTimeExists(WHAT, 'ts', obj.ts);
  if (typeof obj.ts === 'string' && parseTime(obj.ts) === undefined) throw fieldError(WHAT, 'ts', REPORT_TS_EXPECTED, obj.ts);
  return r;
}

const REFUSAL_FIELDS = new Set(['sequence', 'digest', 'reason']);

/** `refused`: {sequence, digest, reason}, nothing else. Throws reason 'malformed'. */
export function parseRefusal(v: unknown): Refusal {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw reject('malformed', 'report field "refused" must be a map');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!REFUSAL_FIELDS.has(key)) throw reject('malformed', `report.refused has an unknown field "${key}"`, { field: key });
  const reason = o.reason;
  if (typeof reason !== 'string' || !(REJECTION_REASONS as readonly string[]).includes(reason))
    throw reject('malformed', `report.refused.reason must be one of ${REJECTION_REASONS.join(', ')}`);
  return { sequence: count(o, 'report.refused', 'sequence'), digest: digestField(o, 'report.refused'), reason: reason as RejectionReason };
}

export function reportValue(r: Report): Record<string, CborValue> {
  const out: Record<string, CborValue> = { class: r.class, version: r.version, sequence: r.sequence, digest: r.digest };
  if (r.vendor !== undefined) out.vendor = r.vendor;
  if (r.counter !== undefined) out.counter = r.counter;
  if (r.ts !== undefined) out.ts = r.ts;
  if (r.refused !== undefined) out.refused = { sequence: r.refused.sequence, digest: r.refused.digest, reason: r.refused.reason };
  return out;
}

/** Signs a report with the device key (kid = the device's did:key). For devices, simulators and tests. */
export function createReport(fields: ReportInput, deviceKey: PrivateKey, format: EnvelopeFormat = 'jws'): Envelope {
  const r = parseNewReport({ ...fields });
  const value = reportValue(r);
  const payload = format === 'cose' ? encodeCbor(value) : JSON.stringify(value);
  return signEnvelope(payload, deviceKey, { format, kid: keyToDid(deviceKey) });
}

/**
 * Verifies a report being accepted under the device's did:key and parses it (parseNewReport). A
 * kid, when present, must name the same device. Throws reasons 'bad-signature' or 'malformed'.
 * The envelope of a record on the ledger is read with readReport.
 */
export function openReport(envelope: Envelope, deviceDid: string): OpenedReport {
  return reportEnvelope(envelope, deviceDid, parseNewReport);
}

/** openReport of the envelope of a record on the ledger: its ts read as recorded (parseReport). */
export function readReport(envelope: Envelope, deviceDid: string): OpenedReport {
  return reportEnvelope(envelope, deviceDid, parseReport);
}

function reportEnvelope(envelope: Envelope, deviceDid: string, parse: (obj: Record<string, unknown>) => Report): OpenedReport {
  if (!isDidKey(deviceDid)) throw reject('malformed', 'device must be a did:key id');
  const device = didOfKid(deviceDid);
  let verified;
  try {
    verified = verifyEnvelope(envelope, device);
  } catch (err) {
    if (isLedgerError(err) && (err.code === 'ERR_MALFORMED_ENVELOPE' || err.code === 'ERR_MALFORMED_DID' || err.code === 'ERR_MALFORMED_KEY'))
      throw reject('malformed', `report: ${err.message}`, { device });
    const why = err instanceof Error ? err.message : String(err);
    throw reject('bad-signature', `report signature does not verify under ${device}: ${why}`, { device });
  }
  const report = parse(decodeObject(verified.payload, WHAT));
  return { report, device, envelope, format: verified.format };
}
