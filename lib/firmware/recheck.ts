// Audit support: does a recorded firmware record follow from the rules, given the state as it
// stood just before it? A forged "approved" decision (a rollback, a release never registered,
// an expired or revoked manifest, a digest that is not the registered one) fails here.
import { isLedgerError } from '../errors';
import { type Envelope } from './payload';
import { isFirmwareRejection, type RejectionReason } from './reasons';
import { checkRelease, checkReport, checkUpdate, checkVendor, type IsEnrolled } from './rules';
import {
  parseDecisionBody,
  parseReleaseBody,
  parseReportBody,
  parseVendorBody,
  type FirmwareState,
} from './state';

export interface RecheckResult {
  ok: boolean;
  /** Why not: the rule that refuses it, 'body-mismatch' when the rules give another body, or 'malformed'. */
  reason?: RejectionReason | 'body-mismatch';
  message?: string;
}

export interface RecheckOptions {
  /** Gateway time of the record (ms). A decision is judged at its own `at`, which must lie within `maxSkewMs` of it. */
  time?: number;
  /** How far a decision's `at` may lie from the record time (default 5 minutes). */
  maxSkewMs?: number;
  /** Enrolment at the time of the record (default: everyone counts as enrolled; the audit checks enrolment itself). */
  isEnrolled?: IsEnrolled;
  /** For reports: how far ts may run ahead (as given to checkReport). */
  maxFutureMs?: number;
}

const OK: RecheckResult = { ok: true };
const DEFAULT_SKEW_MS = 5 * 60 * 1000;

/** A body's `at` must lie near the record's gateway time, or the check time was made up. */
function skewed(at: number, time: number | undefined, maxSkewMs = DEFAULT_SKEW_MS, what: string): RecheckResult | undefined {
  if (time === undefined || Math.abs(at - time) <= maxSkewMs) return undefined;
  return { ok: false, reason: 'body-mismatch', message: `${what} says it was checked at ${at}, the record was written at ${time}` };
}

function failure(err: unknown): RecheckResult {
  if (isFirmwareRejection(err)) return { ok: false, reason: err.details.reason, message: err.message };
  if (isLedgerError(err)) return { ok: false, reason: 'malformed', message: err.message };
  throw err;
}

/** JSON with sorted keys, for comparing bodies field by field. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      return Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return val;
  });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Paths (a.b) of the fields that differ, descending into maps present on both sides. */
function differingFields(a: Record<string, unknown>, b: Record<string, unknown>, prefix = ''): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of [...keys].sort()) {
    if (isMap(a[k]) && isMap(b[k])) out.push(...differingFields(a[k], b[k], `${prefix}${k}.`));
    else if (canonical(a[k]) !== canonical(b[k])) out.push(`${prefix}${k}`);
  }
  return out;
}

function compare(expected: object, recorded: object, what: string): RecheckResult {
  const diff = differingFields(expected as Record<string, unknown>, recorded as Record<string, unknown>);
  if (diff.length === 0) return OK;
  const imageDigest = diff.some((p) => p === 'digest' || p.endsWith('.digest'));
  const reason: RecheckResult['reason'] = imageDigest ? 'digest-mismatch' : 'body-mismatch';
  return { ok: false, reason, message: `recorded ${what} differs from what the rules give in: ${diff.join(', ')}` };
}

/**
 * Whether a recorded 'firmware.decision' follows from the rules over `stateBefore` (the state
 * after every record before it). Rejections are always consistent (a refusal installs
 * nothing); an approval must be exactly what checkUpdate returns for the same request.
 */
export function recheckDecision(stateBefore: FirmwareState, decisionBody: unknown, opts: RecheckOptions = {}): RecheckResult {
  let body;
  try {
    body = parseDecisionBody(decisionBody);
  } catch (err) {
    return failure(err);
  }
  if (body.decision === 'rejected') return OK;
  const bad = skewed(body.at, opts.time, opts.maxSkewMs, 'decision');
  if (bad) return bad;
  try {
    const expected = checkUpdate(
      stateBefore,
      {
        device: body.device,
        vendor: body.vendor,
        class: body.class,
        sequence: body.sequence,
        ...(body.deviceClass !== undefined ? { deviceClass: body.deviceClass } : {}),
        ...(body.deviceVendor !== undefined ? { deviceVendor: body.deviceVendor } : {}),
      },
      {
        now: body.at,
        isEnrolled: opts.isEnrolled ?? (() => true),
        ...(body.image !== undefined ? { image: body.image } : {}),
        ...(body.approver !== undefined ? { approver: body.approver } : {}),
      },
    );
    return compare(expected, body, 'approval');
  } catch (err) {
    return failure(err);
  }
}

/**
 * Whether a recorded 'firmware.release' follows from its envelope and the rules, judged at the
 * body's `at`, which must lie within `maxSkewMs` of the record time when that is given.
 */
export function recheckRelease(
  stateBefore: FirmwareState,
  releaseBody: unknown,
  envelope: Envelope | undefined,
  time?: number,
  opts: { maxSkewMs?: number } = {},
): RecheckResult {
  try {
    const body = parseReleaseBody(releaseBody);
    if (envelope === undefined) return { ok: false, reason: 'malformed', message: 'release record carries no manifest envelope' };
    const bad = skewed(body.at, time, opts.maxSkewMs, 'release');
    if (bad) return bad;
    // Read as the gateway recorded it: one before a4b5c5d took expiries that do not exist, rolled over.
    return compare(checkRelease(stateBefore, envelope, body.at, true), body, 'release');
  } catch (err) {
    return failure(err);
  }
}

/** Whether a recorded 'firmware.report' follows from the device's envelope and the rules. */
export function recheckReport(
  stateBefore: FirmwareState,
  reportBody: unknown,
  envelope: Envelope | undefined,
  time: number,
  opts: Omit<RecheckOptions, 'time'> = {},
): RecheckResult {
  try {
    const body = parseReportBody(reportBody);
    if (envelope === undefined) return { ok: false, reason: 'malformed', message: 'report record carries no device envelope' };
    const expected = checkReport(stateBefore, envelope, body.device, {
      now: time,
      isEnrolled: opts.isEnrolled ?? (() => true),
      // Read as the gateway recorded it: one before a4b5c5d took a ts that does not exist, rolled over.
      recorded: true,
      ...(opts.maxFutureMs !== undefined ? { maxFutureMs: opts.maxFutureMs } : {}),
    });
    return compare(expected, body, 'report');
  } catch (err) {
    return failure(err);
  }
}

/** Whether a recorded 'firmware.vendor' follows from the rules (no re-trusting a revoked key). */
export function recheckVendor(stateBefore: FirmwareState, vendorBody: unknown): RecheckResult {
  try {
    const body = parseVendorBody(vendorBody);
    return compare(checkVendor(stateBefore, body), body, 'vendor key change');
  } catch (err) {
    return failure(err);
  }
}

/** Dispatches on the record type; other types are OK (not firmware's business). */
export function recheckRecord(
  stateBefore: FirmwareState,
  record: { type: string; time: number; body?: unknown; envelope?: Envelope },
  opts: Omit<RecheckOptions, 'time'> = {},
): RecheckResult {
  switch (record.type) {
    case 'firmware.vendor':
      return recheckVendor(stateBefore, record.body);
    case 'firmware.release':
      return recheckRelease(stateBefore, record.body, record.envelope, record.time, opts);
    case 'firmware.decision':
      return recheckDecision(stateBefore, record.body, { ...opts, time: record.time });
    case 'firmware.report':
      return recheckReport(stateBefore, record.body, record.envelope, record.time, opts);
    default:
      return OK;
  }
}
