// Limits on what the pack parses from untrusted input (docs/FORMAT.md, "Limits").
// Anyone who can publish on a gateway's topics can send anything: a size cap keeps the work per
// message bounded, and a depth cap keeps recursive code (JSON.stringify, Node-RED's message
// cloning, CBOR encoding) from overflowing the stack on a value that parsed fine.
import { fromUtf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';

/** Largest envelope accepted (bytes, or characters of a JWS / hex / base64 text). A record cannot be larger. */
export const MAX_ENVELOPE_BYTES = 64 * 1024;
/** Deepest nesting of arrays and objects (maps) in a signed payload or a JWS header. */
export const MAX_PAYLOAD_DEPTH = 64;

export function tooLarge(what: string, size: number, max: number): LedgerError {
  return new LedgerError('ERR_PAYLOAD_TOO_LARGE', `${what} is ${size} bytes, more than the limit of ${max}`, { size, max });
}

export function tooDeep(what: string, max: number): LedgerError {
  return new LedgerError('ERR_PAYLOAD_TOO_DEEP', `${what} nests arrays or objects deeper than the limit of ${max}`, { max });
}

/** Throws ERR_PAYLOAD_TOO_LARGE when `size` is over `max`. */
export function checkSize(what: string, size: number, max: number = MAX_ENVELOPE_BYTES): void {
  if (size > max) throw tooLarge(what, size, max);
}

/**
 * The deepest nesting of `[`/`{` in a JSON text, without parsing it (brackets inside strings
 * do not count). Stops counting once past `max` and returns max + 1.
 */
export function jsonDepth(text: string, max: number = MAX_PAYLOAD_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Throws ERR_PAYLOAD_TOO_DEEP when the JSON text nests deeper than `max`. */
export function checkJsonDepth(what: string, text: string, max: number = MAX_PAYLOAD_DEPTH): void {
  if (jsonDepth(text, max) > max) throw tooDeep(what, max);
}

/**
 * JSON text or UTF-8 bytes parsed only within bounds: ERR_PAYLOAD_TOO_LARGE over `maxBytes`,
 * ERR_PAYLOAD_TOO_DEEP past MAX_PAYLOAD_DEPTH, both before parsing; text that is not UTF-8 or
 * not JSON is the caller's error, `malformed(message)`.
 */
export function parseBoundedJson(what: string, payload: string | Uint8Array, maxBytes: number, malformed: (message: string) => Error): unknown {
  checkSize(what, payload.length, maxBytes);
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : fromUtf8(payload);
  } catch {
    throw malformed(`${what} must be UTF-8 JSON`);
  }
  checkJsonDepth(what, text);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformed(`${what} must be JSON: ${(err as Error).message}`);
  }
}

/** A numeric limit of a caller's options: `v` when it is a safe integer of at least `min` (1 or 0), else ERR_INVALID_ARGUMENT naming `what`. */
export function wholeLimit(v: unknown, min: 0 | 1, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new LedgerError('ERR_INVALID_ARGUMENT', `${what} must be a ${min === 1 ? 'positive integer' : 'whole number from 0'}, got ${typeof v === 'number' ? v : typeof v}`);
  return v;
}

/** An optional numeric limit of a caller's options: `fallback` when undefined, else a positive safe integer (throws ERR_INVALID_ARGUMENT naming `what`). */
export function positiveLimit(v: unknown, fallback: number, what: string): number {
  return v === undefined ? fallback : wholeLimit(v, 1, what);
}
