import { types } from 'node:util';
import { fromUtf8 } from '../encoding/bytes';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';
import { isLedgerError, LedgerError } from '../errors';
import { cloneRisk } from '../guards/safe-value';
import { checkJsonDepth, checkSize, MAX_ENVELOPE_BYTES, MAX_PAYLOAD_DEPTH, tooDeep } from '../guards/limits';

/**
 * Decodes a signed payload: JSON text first (what most devices send), then CBOR. Throws
 * ERR_PAYLOAD_TOO_LARGE / ERR_PAYLOAD_TOO_DEEP past the limits of lib/limits.ts.
 */
export function decodePayload(bytes: Uint8Array): unknown {
  return decodePayloadFrom(bytes).value;
}

/** decodePayload, also telling whether the value came from JSON text (so it holds JSON values only). */
export function decodePayloadFrom(bytes: Uint8Array): { value: unknown; json: boolean } {
  checkSize('signed payload', bytes.length, MAX_ENVELOPE_BYTES);
  let text: string | undefined;
  try {
    text = fromUtf8(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    if (/^\s*[[{]/.test(text)) checkJsonDepth('signed payload', text);
    try {
      return { value: JSON.parse(text), json: true };
    } catch {
      /* not JSON: try CBOR */
    }
  }
  try {
    return { value: decodeCbor(bytes, { canonical: false, maxDepth: MAX_PAYLOAD_DEPTH }), json: false };
  } catch (err) {
    if (isLedgerError(err, 'ERR_MALFORMED_CBOR') && /^nesting deeper/.test(err.message)) throw tooDeep('signed payload', MAX_PAYLOAD_DEPTH);
    if (text !== undefined) return { value: text, json: true };
    throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'signed payload is neither JSON, CBOR nor text');
  }
}

/** Turns a payload into something deterministic CBOR can hold (drops undefined, refuses NaN/functions). */
export function toRecordBody(value: unknown): CborValue {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  const risk = cloneRisk(value, MAX_PAYLOAD_DEPTH);
  if (risk === 'deep') throw tooDeep('record body', MAX_PAYLOAD_DEPTH);
  if (risk === 'large') throw new LedgerError('ERR_PAYLOAD_TOO_LARGE', 'record body has too many entries');
  let text: string | undefined;
  try {
    text = JSON.stringify(value ?? null);
  } catch (err) {
    throw new LedgerError('ERR_MALFORMED_RECORD', `record body cannot be written as JSON: ${(err as Error).message}`);
  }
  return (text === undefined ? null : JSON.parse(text)) as CborValue;
}

const MAX_BODY_DEPTH = MAX_PAYLOAD_DEPTH;

function bodyError(path: string, what: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_RECORD', `the signed payload cannot be a record body: ${path} ${what}`, { path });
}

/** A decoded payload value in the record body model (docs/FORMAT.md "Bodies of signed records"). */
function bodyValue(v: CborValue, path: string, depth: number): CborValue {
  if (depth > MAX_BODY_DEPTH) throw bodyError(path, `is nested deeper than ${MAX_BODY_DEPTH} levels`);
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) return null; // NaN and ±Infinity, as JSON writes them
      return Object.is(v, -0) ? 0 : v;
    case 'string':
    case 'boolean':
      return v;
    case 'undefined':
      return null;
    case 'bigint':
      throw bodyError(path, 'is an integer beyond ±(2^53 − 1)');
    default:
      break;
  }
  if (v === null) return null;
  if (types.isUint8Array(v)) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map((x, i) => bodyValue(x, `${path}[${i}]`, depth + 1));
  if (v instanceof CborTag) throw bodyError(path, `is a CBOR tag (${v.tag})`);
  if (v instanceof Map) throw bodyError(path, 'is a map with keys that are not text');
  const out: { [key: string]: CborValue } = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    // defineProperty: a "__proto__" key is a key like any other.
    Object.defineProperty(out, k, { value: bodyValue(x, `${path}.${k}`, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The body of a record that carries a device-signed envelope, from the envelope's payload
 * bytes: JSON text, else CBOR, else UTF-8 text (decodePayload), in the record body model:
 * NaN and ±Infinity become null, -0 becomes 0, undefined becomes null in arrays and is left
 * out of maps; integers beyond ±(2^53 − 1), tags and maps with non-text keys are refused
 * (ERR_MALFORMED_RECORD). The audit requires exactly this body (docs/FORMAT.md).
 */
export function bodyFromPayload(payload: Uint8Array): CborValue {
  return bodyFromDecoded(decodePayload(payload));
}

/** bodyFromPayload for a payload already decoded with decodePayload. */
export function bodyFromDecoded(decoded: unknown): CborValue {
  return bodyValue(decoded as CborValue, 'payload', 0);
}

/** Whether two bodies are the same value (the same deterministic CBOR). */
export function sameBody(a: CborValue | undefined, b: CborValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(encodeCbor(a)).equals(Buffer.from(encodeCbor(b)));
}
