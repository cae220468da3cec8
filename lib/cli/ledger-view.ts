// Reading ledger append requests from JSON lines (the views for people are in lib/ledger/view).
import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
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

/** Bytes read from stdin at a time when it is a file (a pipe gives what its buffer holds). */
const FILE_CHUNK = 1 << 20;

/**
 * The process's stdin; a file redirected to it is read in 1 MiB chunks rather than the
 * 64 KiB a stream reads by default, so that a batch of lines is as large as the ledger takes.
 */
function stdinStream(): NodeJS.ReadableStream {
  let isFile = false;
  try {
    isFile = fs.fstatSync(0).isFile();
  } catch {
    // no stdin to stat: the stream says what is wrong
  }
  return isFile ? fs.createReadStream('', { fd: 0, highWaterMark: FILE_CHUNK, autoClose: false }) : process.stdin;
}

/**
 * Lines of standard input with their 1-based numbers, in runs of whatever arrived together
 * (streamed chunk by chunk from the real process stdin; a line split across chunks is joined).
 */
export async function* stdinLineChunks(io: CliIo): AsyncGenerator<{ no: number; text: string }[]> {
  let no = 0;
  const numbered = (texts: string[]): { no: number; text: string }[] => texts.map((text) => ({ no: ++no, text: text.endsWith('\r') ? text.slice(0, -1) : text }));
  if (io !== processIo) {
    const text = (await io.stdin()).toString('utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    yield numbered(lines);
    return;
  }
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stdinStream()) {
    const text = rest + decoder.write(chunk);
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      rest = text;
      continue;
    }
    rest = text.slice(end + 1);
    yield numbered(text.slice(0, end).split('\n'));
  }
  rest += decoder.end();
  if (rest !== '') yield numbered([rest]);
}
