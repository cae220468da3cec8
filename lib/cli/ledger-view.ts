// Reading ledger append requests from JSON lines (the views for people are in lib/ledger/view).
import * as fs from 'node:fs';
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

/** A line of input longer than this many bytes (without its line break) stops `append`. */
export const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Lines that arrived together: the text of each non-blank one (without its CR LF or LF) and
 * its 1-based line number; `tooLong`: the number of a line longer than the limit, which ends
 * the input (the lines before it are in this run).
 */
export interface LineRun {
  nos: number[];
  texts: string[];
  tooLong?: number;
}

async function* inputChunks(io: CliIo, chunkBytes: number): AsyncGenerator<Buffer> {
  if (io === processIo) {
    for await (const chunk of stdinStream()) yield chunk as Buffer;
    return;
  }
  const all = await io.stdin();
  for (let at = 0; at < all.length; at += chunkBytes) yield all.subarray(at, at + chunkBytes);
}

/**
 * The lines of standard input in runs of whatever arrived together (streamed chunk by chunk
 * from the real process stdin; a test's stdin in pieces of `chunkBytes`; a line split across
 * chunks is joined). Blank lines are left out but counted. Stops at a line longer than
 * `maxLineBytes`, without reading it whole.
 */
export async function* stdinLines(io: CliIo, maxLineBytes = MAX_LINE_BYTES, chunkBytes = 64 * 1024): AsyncGenerator<LineRun> {
  let no = 0;
  let rest: Buffer | null = null;
  let run: LineRun = { nos: [], texts: [] };
  const line = (text: string): boolean => {
    no++;
    const t = text.length > 0 && text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    if (t.length > maxLineBytes / 3 && Buffer.byteLength(t) > maxLineBytes) {
      run.tooLong = no;
      return false;
    }
    if (t.trim() !== '') {
      run.nos.push(no);
      run.texts.push(t);
    }
    return true;
  };
  for await (const chunk of inputChunks(io, chunkBytes)) {
    let at = 0;
    if (rest) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        rest = Buffer.concat([rest, chunk]);
        if (rest.length > maxLineBytes + 1) {
          run.tooLong = no + 1;
          yield run;
          return;
        }
        continue;
      }
      if (!line(Buffer.concat([rest, chunk.subarray(0, nl)]).toString('utf8'))) {
        yield run;
        return;
      }
      rest = null;
      at = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last >= at) {
      for (const text of chunk.toString('utf8', at, last).split('\n')) {
        if (!line(text)) {
          yield run;
          return;
        }
      }
      at = last + 1;
    }
    if (at < chunk.length) rest = Buffer.from(chunk.subarray(at));
    if (rest && rest.length > maxLineBytes + 1) {
      // No line break within the limit (the +1: a CR before the LF is not the line's).
      run.tooLong = no + 1;
      yield run;
      return;
    }
    if (run.texts.length > 0) {
      yield run;
      run = { nos: [], texts: [] };
    }
  }
  if (rest) line(rest.toString('utf8'));
  if (run.texts.length > 0 || run.tooLong !== undefined) yield run;
}
