// Reading one record's canonical bytes (docs/FORMAT.md "Records") and the freshness
// fields of a device payload.
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';

export const ENROL_TYPES: ReadonlySet<string> = new Set(['device.enrol', 'device.tofu']);
export const REVOKE_TYPE = 'device.revoke';
/** Records that document a rejected input carry its envelope as evidence: not checked as accepted data. */
/** Signed by the did:key they name (a contract party), which need not be an enrolled device. */
export const SELF_SIGNED_TYPES: ReadonlySet<string> = new Set(['contract.sign']);
/** Signed by someone other than a device (a firmware vendor); the firmware re-check verifies them. */
export const VENDOR_SIGNED_TYPES: ReadonlySet<string> = new Set(['firmware.release']);
export const EVIDENCE_TYPES: ReadonlySet<string> = new Set(['security']);
/**
 * Device-signed, but with a counter of their own: a device's firmware reports are ordered
 * against its earlier reports by the firmware rules (as the gateway does), not against its
 * readings.
 */
export const OWN_ORDER_TYPES: ReadonlySet<string> = new Set(['firmware.report']);

/** Whether a record's envelope is a device message whose counter/ts the replay check follows. */
export function inDeviceOrder(type: string): boolean {
  return !EVIDENCE_TYPES.has(type) && !VENDOR_SIGNED_TYPES.has(type) && !SELF_SIGNED_TYPES.has(type) && !OWN_ORDER_TYPES.has(type);
}

const RECORD_FIELDS = new Set(['v', 'type', 'time', 'device', 'body', 'envelope']);

/** docs/FORMAT.md: a record type is lower-case ASCII of this shape (the writer refuses others). */
export const RECORD_TYPE = /^[a-z][a-z0-9._-]{0,63}$/;

export interface RecordView {
  type: string;
  time: number;
  device?: string;
  body?: CborValue;
  /** The body's CBOR bytes as stored (set when the record carries an envelope). */
  bodyBytes?: Uint8Array;
  envelope?: string | Uint8Array;
}

function isObject(v: CborValue): v is { [key: string]: CborValue } {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Map) &&
    !(v instanceof CborTag)
  );
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Decodes and shape-checks a record; `problem` says what is wrong when it is not a v1 record. */
export function readRecord(bytes: Uint8Array): { record?: RecordView; problem?: string } {
  let v: CborValue;
  try {
    v = decodeCbor(bytes);
  } catch (err) {
    return { problem: `record is not canonical CBOR: ${(err as Error).message}` };
  }
  if (!isObject(v)) return { problem: 'record is not a CBOR map with text keys' };
  if (v.v !== 1) return { problem: `record format version is ${describe(v.v)}, expected 1` };
  if (typeof v.type !== 'string' || v.type === '') return { problem: 'record has no type' };
  if (!RECORD_TYPE.test(v.type)) return { problem: `record type ${JSON.stringify(v.type.slice(0, 80))} does not match ${String(RECORD_TYPE)}` };
  if (!isUint(v.time)) return { problem: 'record time is not an unsigned integer' };
  for (const key of Object.keys(v)) if (!RECORD_FIELDS.has(key)) return { problem: `record has an unknown field "${key}"` };
  if (v.device !== undefined && (typeof v.device !== 'string' || !v.device.startsWith('did:key:')))
    return { problem: 'record device is not a did:key' };
  if (v.envelope !== undefined && typeof v.envelope !== 'string' && !(v.envelope instanceof Uint8Array))
    return { problem: 'record envelope is neither text nor bytes' };
  if (v.body !== undefined) {
    const bad = bodyProblem(v.body, 'body', 0);
    if (bad) return { problem: bad };
  }
  const record: RecordView = { type: v.type, time: v.time };
  if (v.body !== undefined) record.body = v.body;
  if (v.body !== undefined && v.envelope !== undefined) record.bodyBytes = encodeCbor(v.body);
  if (v.device !== undefined) record.device = v.device;
  if (v.envelope !== undefined) record.envelope = v.envelope;
  return { record };
}

/**
 * A body holds only what decodes back to the same value (docs/FORMAT.md): null, booleans,
 * finite numbers, integers, text, bytes, arrays and maps with text keys.
 */
function bodyProblem(v: CborValue, path: string, depth: number): string | undefined {
  if (v === undefined) return `${path} is undefined`;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${path} is ${String(v)}, not a finite number`;
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return undefined;
  if (v instanceof CborTag) return `${path} is a CBOR tag (${v.tag})`;
  if (v instanceof Map) return `${path} is a map with keys that are not text`;
  if (depth > 64) return `${path} nests too deep`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = bodyProblem(v[i], `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    const bad = bodyProblem(v[k], `${path}.${k}`, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

/** What a readable but broken record still tells: its time and device, for the finding. */
export function peekRecordContext(bytes: Uint8Array): { time?: number; device?: string } {
  try {
    const v = decodeCbor(bytes, { canonical: false });
    if (!isObject(v)) return {};
    return {
      ...(isUint(v.time) ? { time: v.time } : {}),
      ...(typeof v.device === 'string' ? { device: v.device } : {}),
    };
  } catch {
    return {};
  }
}

function describe(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

/** The did an enrolment or revocation record is about: body.did, else the record's device. */
export function subjectDid(record: RecordView): string | undefined {
  const body = record.body;
  if (body !== undefined && isObject(body) && typeof body.did === 'string') return body.did;
  return record.device;
}

export interface Freshness {
  counter?: number;
  ts?: number;
}

export function isRuleRecord(type: string): boolean {
  return type.startsWith('contract.') || type.startsWith('firmware.');
}
