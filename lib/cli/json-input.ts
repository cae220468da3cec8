// An append request from one line of JSON (what `iot-ledger append` reads).
import { fromBase64, fromHex } from '../encoding/bytes';
import type { RecordInput } from '../ledger/record';

/**
 * An append request from one JSON line: {type, body?, device?, envelope?, time?}. The
 * envelope is text (JWS compact) or bytes written {"hex": ...} or {"base64": ...} (COSE_Sign1);
 * `time` is ms since the epoch or an ISO 8601 string. Anything else is left to the ledger to refuse.
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
    const t = Date.parse(input.time);
    if (!/^\d{4}-\d\d-\d\dT/.test(input.time) || Number.isNaN(t)) throw new Error('time must be ms since the epoch or an ISO 8601 date-time');
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
