// An append request from one line of JSON (what `iot-ledger append` reads).
import { parseTime } from '../contracts/time';
import { fromBase64, fromHex } from '../encoding/bytes';
import type { RecordInput } from '../ledger/record';

/**
 * An append request from one JSON line: {type, body?, device?, envelope?, time?}. The
 * envelope is text (JWS compact) or bytes written {"hex": ...} or {"base64": ...} (COSE_Sign1);
 * `time` is ms since the epoch or an ISO 8601 (RFC 3339) date-time with an offset (`Z` or ±hh:mm)
 * whose fields exist, read as contracts' parseTime reads it. Anything else is left to the ledger to refuse.
 */
export function inputFromJson(line: string): RecordInput {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('each line must be a JSON object {type, body?, device?, envelope?, time?}');
  const input = v as Record<string, unknown>; // freshly parsed: nobody else holds it
  const env = input.envelope;
  if (env !== null && typeof env === 'object' && !Array.isArray(env)) {
    const e = env as Record<string, unknown>;
    const keys = Object.keys(e);
    if (keys.length === 1 && typeof e.hex === 'string') input.envelope = bytesFrom(() => fromHex(e.hex as string), 'hex');
    else if (keys.length === 1 && typeof e.base64 === 'string') input.envelope = bytesFrom(() => fromBase64(e.base64 as string), 'base64');
    else throw new Error('envelope must be text, {"hex": ...} or {"base64": ...}');
  }
  if (typeof input.time === 'string') {
    // Strictly, as contracts read times: an offset (a local time means another instant on another
    // machine) and fields that exist (Date.parse rolls "2026-02-30" over to March 2nd).
    const t = parseTime(input.time);
    if (t === undefined) throw new Error('time must be ms since the epoch or an ISO 8601 date-time');
    input.time = t;
  }
  return input as unknown as RecordInput;
}

function bytesFrom(decode: () => Uint8Array, what: string): Uint8Array {
  try {
    return decode();
  } catch {
    throw new Error(`envelope is not valid ${what}`);
  }
}
