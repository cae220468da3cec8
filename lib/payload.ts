import { fromUtf8 } from './bytes';
import { decodeCbor, type CborValue } from './codec';
import { LedgerError } from './errors';

/** Decodes a signed payload: JSON text first (what most devices send), then CBOR. */
export function decodePayload(bytes: Uint8Array): unknown {
  let text: string | undefined;
  try {
    text = fromUtf8(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      return JSON.parse(text);
    } catch {
      /* not JSON: try CBOR */
    }
  }
  try {
    return decodeCbor(bytes, { canonical: false });
  } catch {
    if (text !== undefined) return text;
    throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'signed payload is neither JSON, CBOR nor text');
  }
}

/** Turns a payload into something deterministic CBOR can hold (drops undefined, refuses NaN/functions). */
export function toRecordBody(value: unknown): CborValue {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  return JSON.parse(JSON.stringify(value ?? null)) as CborValue;
}
