// Reading ledger append requests from JSON lines (the views for people are in lib/ledger/view).
import * as readline from 'node:readline';
import { fromBase64, fromHex } from '../encoding/bytes';
import type { RecordInput } from '../ledger';
export { jsonView, recordView } from '../ledger/view';
import { processIo, type CliIo } from './io';

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
  const input = { ...(v as Record<string, unknown>) };
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

/** Lines of standard input, streamed when reading the real process stdin. */
export async function* stdinLines(io: CliIo): AsyncGenerator<string> {
  if (io === processIo) {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    try {
      for await (const line of rl) yield line;
    } finally {
      rl.close();
    }
    return;
  }
  const text = (await io.stdin()).toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  yield* lines;
}
