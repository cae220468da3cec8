import { fromUtf8 } from './bytes';
import { decodeCbor, type CborValue } from './codec';
import { isLedgerError, LedgerError } from './errors';
import { cloneRisk } from './safe-value';
import { checkJsonDepth, checkSize, MAX_ENVELOPE_BYTES, MAX_PAYLOAD_DEPTH, tooDeep } from './limits';

/**
 * Decodes a signed payload: JSON text first (what most devices send), then CBOR. Throws
 * ERR_PAYLOAD_TOO_LARGE / ERR_PAYLOAD_TOO_DEEP past the limits of lib/limits.ts.
 */
export function decodePayload(bytes: Uint8Array): unknown {
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
      return JSON.parse(text);
    } catch {
      /* not JSON: try CBOR */
    }
  }
  try {
    return decodeCbor(bytes, { canonical: false, maxDepth: MAX_PAYLOAD_DEPTH });
  } catch (err) {
    if (isLedgerError(err, 'ERR_MALFORMED_CBOR') && /^nesting deeper/.test(err.message)) throw tooDeep('signed payload', MAX_PAYLOAD_DEPTH);
    if (text !== undefined) return text;
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
