// Records: their canonical CBOR bytes (docs/FORMAT.md "Records") and strict validation.
import { types } from 'node:util';
import { decodeCbor, encodeCbor, encodeKnownMapWithRoom, KnownKeys, type CborValue } from '../encoding/codec';
import { didToKey } from '../crypto/didkey';
import { storedEnvelopeFormat } from '../envelope/envelope';
import { isLedgerError, LedgerError } from '../errors';

export const RECORD_VERSION = 1;
/** The largest record a C2SP entry bundle carries (a uint16 length): larger ones could never be replicated. */
export const DEFAULT_MAX_RECORD_BYTES = 65535;
/** Record types are free-form text of this shape (`reading`, `device.enrol`, `firmware.report`, ...). */
export const TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;
/** How deep a body may nest; the record map and its body take one more level each within CBOR's 64. */
export const MAX_BODY_DEPTH = 60;

export interface LedgerRecord {
  v: 1;
  type: string;
  time: number;
  device?: string;
  body?: CborValue;
  envelope?: string | Uint8Array;
}

export interface RecordInput {
  type: string;
  body?: CborValue;
  device?: string;
  envelope?: string | Uint8Array;
  time?: number;
}

const RECORD_KEYS = new Set(['v', 'type', 'time', 'device', 'body', 'envelope']);
const INPUT_KEYS = new Set(['type', 'time', 'device', 'body', 'envelope']);

function malformed(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_MALFORMED_RECORD', message, details);
}

function isPlainObject(v: object): v is Record<string, unknown> {
  // Structural check, so objects from another realm (a Node-RED function sandbox) count as plain.
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(v) === '[object Object]');
}

const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/**
 * Checks that a body holds only what deterministic CBOR carries and decodes back to the
 * same value: null, booleans, finite numbers, 64-bit bigints, strings, byte strings,
 * arrays and plain objects. Undefined (also inside arrays and as object values), NaN,
 * ±Infinity, Maps, tags, dates, class instances, functions and symbols are refused.
 */
export function checkBody(v: unknown, path = 'body', depth = 0): void {
  if (depth > MAX_BODY_DEPTH) throw malformed(`${path}: nested deeper than ${MAX_BODY_DEPTH} levels`, { path });
  switch (typeof v) {
    case 'string':
      if (/[\uD800-\uDFFF]/u.test(v)) throw malformed(`${path}: text holds an unpaired surrogate`, { path });
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) throw malformed(`${path}: ${String(v)} has no deterministic form here (numbers must be finite)`, { path });
      return;
    case 'bigint':
      if (v > MAX_U64 || v < -1n - MAX_U64) throw malformed(`${path}: integer outside the 64-bit range`, { path });
      return;
    case 'undefined':
      throw malformed(`${path}: undefined cannot be recorded (use null or leave the field out)`, { path });
    case 'object': {
      if (v === null || types.isUint8Array(v)) return;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw malformed(`${path}[${i}]: arrays cannot have holes`, { path: `${path}[${i}]` });
          checkBody(v[i], `${path}[${i}]`, depth + 1);
        }
        return;
      }
      if (!isPlainObject(v)) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        throw malformed(`${path}: a ${name} cannot be recorded (use plain objects, arrays, text, numbers, booleans, null or bytes)`, { path });
      }
      if (Object.getOwnPropertySymbols(v).length > 0) throw malformed(`${path}: symbol keys cannot be recorded`, { path });
      for (const key of Object.keys(v)) checkBody(v[key], `${path}.${key}`, depth + 1);
      return;
    }
    default:
      throw malformed(`${path}: a ${typeof v} cannot be recorded`, { path });
  }
}

export function checkType(type: unknown): asserts type is string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type))
    throw malformed(`type must match ${String(TYPE_PATTERN)}, got ${JSON.stringify(type)?.slice(0, 80)}`, { field: 'type' });
}

export function checkTime(time: unknown, field = 'time'): asserts time is number {
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0)
    throw malformed(`${field} must be milliseconds since the epoch (a non-negative integer), got ${String(time)}`, { field });
}

/**
 * Device ids already found valid: decoding a did:key (base58, and for P-256 a point
 * decompression) costs more than encoding the record, and a gateway sees few devices.
 * Only successes are kept, and the set is bounded.
 */
const validDevices = new Set<string>();
const VALID_DEVICES_MAX = 4096;

export function checkDevice(device: unknown): asserts device is string {
  if (typeof device !== 'string') throw malformed('device must be a did:key string', { field: 'device' });
  if (validDevices.has(device)) return;
  try {
    didToKey(device);
  } catch (err) {
    if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
    throw malformed(`device must be a did:key id: ${(err as Error).message}`, { field: 'device' });
  }
  if (device.includes('#')) throw malformed('device must be a did:key id without a fragment', { field: 'device' });
  if (validDevices.size >= VALID_DEVICES_MAX) validDevices.clear();
  validDevices.add(device);
}

function checkEnvelope(envelope: unknown): asserts envelope is string | Uint8Array {
  if (typeof envelope === 'string') {
    if (/[\uD800-\uDFFF]/u.test(envelope)) throw malformed('envelope text holds an unpaired surrogate', { field: 'envelope' });
    return;
  }
  if (!types.isUint8Array(envelope)) throw malformed('envelope must be text (JWS compact) or bytes (COSE_Sign1)', { field: 'envelope' });
}

/** What is written: JWS compact as text, COSE_Sign1 as bytes, nothing else (docs/FORMAT.md). */
function checkEnvelopeForm(envelope: string | Uint8Array): void {
  try {
    storedEnvelopeFormat(envelope);
  } catch (err) {
    throw malformed((err as Error).message, { field: 'envelope' });
  }
}

/** Validates a whole record; throws ERR_MALFORMED_RECORD naming the first bad field. */
export function checkRecord(r: unknown): asserts r is LedgerRecord {
  if (typeof r !== 'object' || r === null || !isPlainObject(r)) throw malformed('a record must be a plain object');
  for (const key of Object.keys(r)) if (!RECORD_KEYS.has(key)) throw malformed(`unknown record field "${key}"`, { field: key });
  if (r.v !== RECORD_VERSION) throw malformed(`record version must be ${RECORD_VERSION}`, { field: 'v' });
  checkType(r.type);
  checkTime(r.time);
  if (r.device !== undefined) checkDevice(r.device);
  if (r.envelope !== undefined) checkEnvelope(r.envelope);
  if ('body' in r && r.body !== undefined) checkBody(r.body);
}

/** The record as a map with only its present fields, ready for the encoder. */
function recordMap(r: LedgerRecord): Record<string, CborValue> {
  const m: Record<string, CborValue> = { v: r.v, type: r.type, time: r.time };
  if (r.device !== undefined) m.device = r.device;
  if (r.body !== undefined) m.body = r.body;
  if (r.envelope !== undefined) m.envelope = r.envelope;
  return m;
}

/** The canonical bytes of a record (deterministic CBOR). Throws ERR_MALFORMED_RECORD / ERR_RECORD_TOO_LARGE. */
export function encodeRecord(r: LedgerRecord, maxBytes: number = DEFAULT_MAX_RECORD_BYTES): Uint8Array {
  return encodeChecked(r, maxBytes, () => encodeCbor(recordMap(r)), 0);
}

/**
 * encodeRecord into a Buffer with `room` bytes before the canonical bytes (a storage value
 * filled in place: the ledger puts the leaf hash there). Transient: see encodeCborWithRoom.
 */
export function encodeRecordWithRoom(r: LedgerRecord, maxBytes: number, room: number): Buffer {
  // checkRecord has refused any other field: the record's own fields, encoded in their fixed order.
  return encodeChecked(r, maxBytes, () => encodeKnownMapWithRoom(r as unknown as Record<string, CborValue | undefined>, RECORD_MAP_KEYS, room), room);
}

/** The record map's keys, encoded and in canonical order (v, body, time, type, device, envelope). */
const RECORD_MAP_KEYS = new KnownKeys([...RECORD_KEYS]);

function encodeChecked<B extends Uint8Array>(r: LedgerRecord, maxBytes: number, encode: () => B, room: number): B {
  checkRecord(r);
  if (r.envelope !== undefined) checkEnvelopeForm(r.envelope);
  let out: B;
  try {
    out = encode();
  } catch (err) {
    throw malformed(`record cannot be encoded: ${(err as Error).message}`);
  }
  const size = out.length - room;
  if (size > maxBytes)
    throw new LedgerError('ERR_RECORD_TOO_LARGE', `record is ${size} bytes, more than the limit of ${maxBytes}`, {
      size: size,
      limit: maxBytes,
    });
  return out;
}

/** Decodes canonical record bytes, refusing anything encodeRecord would not have produced. */
export function decodeRecord(bytes: Uint8Array): LedgerRecord {
  let v: CborValue;
  try {
    v = decodeCbor(bytes, { canonical: true });
  } catch (err) {
    throw malformed(`record bytes are not canonical CBOR: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || v instanceof Map || Array.isArray(v) || types.isUint8Array(v))
    throw malformed('record bytes must hold a map with text keys');
  if ('body' in v && v.body === undefined) throw malformed('body: undefined cannot be recorded', { path: 'body' });
  checkRecord(v);
  return v;
}

/**
 * Checks an append request without appending it (the time defaults to 0 for the check);
 * throws what append would. For callers that must know before they submit, like the CLI.
 */
export function checkRecordInput(input: RecordInput, maxBytes: number = DEFAULT_MAX_RECORD_BYTES): void {
  recordFromInput(input, 0, maxBytes);
}

/** recordFromInput's check of the request, and the record it makes. */
function recordOf(input: RecordInput, now: number): LedgerRecord {
  if (typeof input !== 'object' || input === null || !isPlainObject(input)) throw malformed('append takes a plain object {type, body?, device?, envelope?, time?}');
  for (const key of Object.keys(input))
    if (!INPUT_KEYS.has(key))
      throw malformed(`unknown record field "${key}" (a record is {type, body?, device?, envelope?, time?}: a reading's own fields go in its body)`, { field: key });
  if ('body' in input && input.body === undefined) throw malformed('body: undefined cannot be recorded (leave the field out)', { path: 'body' });
  const record: LedgerRecord = { v: 1, type: input.type, time: input.time ?? now };
  if (input.device !== undefined) record.device = input.device;
  if (input.body !== undefined) record.body = input.body;
  if (input.envelope !== undefined) record.envelope = input.envelope;
  return record;
}

/** Turns an append request into a record with the gateway time, and its canonical bytes. */
export function recordFromInput(input: RecordInput, now: number, maxBytes: number): { record: LedgerRecord; bytes: Uint8Array } {
  const record = recordOf(input, now);
  return { record, bytes: encodeRecord(record, maxBytes) };
}

/**
 * recordFromInput for the ledger's own writes: `value` holds `room` free bytes, then the
 * canonical bytes (`bytes` is that part of it).
 */
export function recordValueFromInput(input: RecordInput, now: number, maxBytes: number, room: number): { record: LedgerRecord; bytes: Buffer; value: Buffer } {
  const record = recordOf(input, now);
  const value = encodeRecordWithRoom(record, maxBytes, room);
  return { record, bytes: value.subarray(room), value };
}
