// JSON views of ledger records for people: bytes as {"hex": ...}, big integers as text.
import * as readline from 'node:readline';
import { fromBase64, fromHex, toHex } from '../bytes';
import type { CborValue } from '../codec';
import type { RecordInput, StoredRecord } from '../ledger';
import { processIo, type CliIo } from './io';

/** A JSON-safe view of a CBOR value. */
export function jsonView(v: CborValue): unknown {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonView);
  if (v instanceof Map) return [...v].map(([k, val]) => [jsonView(k), jsonView(val)]);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v as Record<string, CborValue>)) {
      Object.defineProperty(out, k, { value: jsonView(val), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** One exported line: index, leaf hash, type, ISO time, device, body and envelope. */
export function recordView(r: StoredRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    index: r.index,
    leafHash: toHex(r.leafHash),
    type: r.record.type,
    time: new Date(r.record.time).toISOString(),
  };
  if (r.record.device !== undefined) view.device = r.record.device;
  if (r.record.body !== undefined) view.body = jsonView(r.record.body);
  if (r.record.envelope !== undefined) view.envelope = jsonView(r.record.envelope);
  return view;
}

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
