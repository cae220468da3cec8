// Payload helpers shared by manifests and reports: reading an envelope's payload without
// trusting it, decoding JSON or CBOR maps, and the field checks both formats share.
import { fromBase64Url, fromUtf8, toHex, utf8 } from '../encoding/bytes';
import { CborTag, decodeCbor, type CborValue } from '../encoding/codec';
import { parseEnvelopeInput, peekEnvelope, type EnvelopeFormat } from '../envelope/envelope';
import { isLedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import { reject } from './reasons';
import { dateTimeExists } from '../encoding/iso-time';

/** A signed envelope as it travels: JWS compact text or COSE_Sign1 bytes (hex/base64 text accepted too). */
export type Envelope = string | Uint8Array;

export interface UnverifiedEnvelope {
  format: EnvelopeFormat;
  kid?: string;
  payload: Uint8Array;
}

function malformedEnvelope(err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return reject('malformed', `not a signed envelope: ${why}`);
}

/** Reads kid and payload of an envelope WITHOUT checking its signature. */
export function peekPayload(envelope: unknown): UnverifiedEnvelope {
  let parsed: { format: EnvelopeFormat; data: string | Uint8Array };
  let kid: string | undefined;
  try {
    parsed = parseEnvelopeInput(envelope);
    kid = peekEnvelope(parsed.data).kid;
  } catch (err) {
    throw malformedEnvelope(err);
  }
  if (parsed.format === 'jws') {
    const [, body] = (parsed.data as string).split('.');
    if (body === undefined) throw malformedEnvelope('a JWS needs three parts');
    let payload: Uint8Array;
    try {
      payload = fromBase64Url(body);
    } catch (err) {
      throw malformedEnvelope(err);
    }
    return kid === undefined ? { format: 'jws', payload } : { format: 'jws', kid, payload };
  }
  let msg: CborValue;
  try {
    msg = decodeCbor(parsed.data as Uint8Array, { canonical: false });
  } catch (err) {
    throw malformedEnvelope(err);
  }
  if (msg instanceof CborTag) msg = msg.value;
  const payload = Array.isArray(msg) ? msg[2] : undefined;
  if (!(payload instanceof Uint8Array)) throw reject('malformed', 'COSE_Sign1 has no embedded payload');
  return kid === undefined ? { format: 'cose', payload } : { format: 'cose', kid, payload };
}

/** The bytes an envelope is recorded as (JWS as UTF-8 text, COSE as given), for hashing. */
export function envelopeBytes(envelope: Envelope): Uint8Array {
  return typeof envelope === 'string' ? utf8(envelope.trim()) : envelope;
}

/** Hex SHA-256 of the envelope bytes; binds a record body to the exact envelope it came from. */
export function envelopeDigest(envelope: Envelope): string {
  return toHex(sha256(envelopeBytes(envelope)));
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map) && !(v instanceof CborTag);
}

/** Decodes a payload that is a JSON object or a CBOR map with text keys. */
export function decodeObject(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  const first = payload[0];
  try {
    if (first === 0x7b /* { */ || first === 0x20 || first === 0x0a || first === 0x0d || first === 0x09) {
      value = JSON.parse(fromUtf8(payload));
    } else {
      value = decodeCbor(payload, { canonical: false });
    }
  } catch (err) {
    const why = isLedgerError(err) || err instanceof Error ? err.message : String(err);
    throw reject('malformed', `${what} payload is neither a JSON object nor a CBOR map: ${why}`);
  }
  if (!isPlainMap(value)) throw reject('malformed', `${what} payload must be an object with text keys`);
  return value;
}

export const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

export function fieldError(what: string, field: string, expected: string, got: unknown): Error {
  const shown = typeof got === 'string' ? JSON.stringify(got.slice(0, 80)) : typeof got === 'bigint' ? `${got}n` : String(got);
  return reject('malformed', `${what} field "${field}" must be ${expected}, got ${shown}`, { field });
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
function hasControlOrLoneSurrogate(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) < 0x20 || v.charCodeAt(i) === 0x7f) return true;
  return LONE_SURROGATE.test(v);
}

export function text(obj: Record<string, unknown>, what: string, field: string, max = 256): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > max || hasControlOrLoneSurrogate(v))
    throw fieldError(what, field, `non-empty text of at most ${max} characters`, v);
  return v;
}

/** A non-negative safe integer; CBOR may hand over a bigint for large values. */
export function count(obj: Record<string, unknown>, what: string, field: string): number {
  let v = obj[field];
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) v = Number(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw fieldError(what, field, 'an integer >= 0', v);
  return v;
}

export function digestField(obj: Record<string, unknown>, what: string, field = 'digest'): string {
  const v = obj[field];
  if (typeof v !== 'string' || !HEX_DIGEST.test(v)) throw fieldError(what, field, 'a hex SHA-256 digest (64 hex digits)', v);
  return v.toLowerCase();
}

/** What a time field must be, as a field error says. */
export const TIME_EXPECTED = 'milliseconds since the epoch or an ISO 8601 time';

/**
 * Milliseconds since the epoch from a number of ms or an ISO 8601 time (with zone when it has a
 * time), read as recorded: Date.parse rolls a date or time that does not exist over ("2026-02-30"
 * is March 2nd), as the gateways that recorded such values before a4b5c5d read them. New input
 * is refused such values by checkTimeExists, where it is accepted.
 */
export function timeValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  const m = typeof v === 'string' ? ISO_TIME.exec(v) : null;
  if (!m) return undefined;
  const ms = Date.parse(m[0]);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/**
 * New input only (a manifest or report being accepted, not one on the ledger): an ISO 8601 time
 * in `field` must name a date and time that exist, else reason 'malformed' as for any bad time.
 */
export function checkTimeExists(what: string, field: string, v: unknown): void {
  const m = typeof v === 'string' ? ISO_TIME.exec(v) : null;
  if (!m) return;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => Number(x ?? 0));
  if (!dateTimeExists(year, month, day, hour, minute, second)) throw fieldError(what, field, TIME_EXPECTED, v);
}

/** `now` as milliseconds: a number of ms or a Date. */
export function nowMs(now: number | Date): number {
  const ms = now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw reject('malformed', `"now" must be milliseconds or a Date, got ${String(now)}`);
  return ms;
}

/** did:key without a `#fragment` (a kid may name the verification method). */
export function didOfKid(kid: string): string {
  const hash = kid.indexOf('#');
  return hash === -1 ? kid : kid.slice(0, hash);
}
