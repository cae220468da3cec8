// The lines of `iot-ledger append`'s input, read chunk by chunk.
import * as fs from 'node:fs';
import { addAbortSignal, type Readable } from 'node:stream';
import { processIo, type CliIo } from './io';

/**
 * Bytes read from stdin at a time when it is a file (a pipe gives what its buffer holds, 64 KiB
 * at most). Each chunk is one message to the line encoder's thread: chunks of about 650 lines
 * keep both threads busy from the start (1 MiB chunks left this one idle while the first was
 * encoded; measured in bench/RESULTS.md).
 */
const FILE_CHUNK = 128 * 1024;

/** The process's stdin; a file redirected to it is read in FILE_CHUNK pieces rather than the 64 KiB a stream reads by default. */
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

/**
 * Standard input in chunks as they arrive (a test's stdin in pieces of `chunkBytes`). Once
 * `stop` is aborted no more is read: the stream is destroyed, even while a read waits for
 * input that may not come (a pipe left open), and the chunks end.
 */
export async function* inputChunks(io: CliIo, chunkBytes = 64 * 1024, stop?: AbortSignal): AsyncGenerator<Buffer> {
  if (io === processIo) {
    const stream = stdinStream() as NodeJS.ReadableStream & Readable;
    if (stop) addAbortSignal(stop, stream);
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      if (!stop?.aborted) throw err;
    }
    return;
  }
  const all = await io.stdin();
  for (let at = 0; at < all.length && !stop?.aborted; at += chunkBytes) yield all.subarray(at, at + chunkBytes);
}

/**
 * Splits input into lines as its chunks arrive: each push() gives the lines the chunk completes,
 * numbered from 1 (a line split across chunks is joined; CR LF and LF end a line; blank lines
 * are left out but counted). A line longer than the limit (without its line break) is not read
 * whole: the run that reaches it says `tooLong`, and the splitter is `stopped`.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #no = 0;
  #rest: Buffer | null = null;
  #run: LineRun = { nos: [], texts: [] };
  #stopped = false;

  constructor(maxLineBytes = MAX_LINE_BYTES) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** A line was too long: nothing more is read. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The lines `chunk` completes (none once stopped). */
  push(chunk: Buffer): LineRun {
    if (this.#stopped) return { nos: [], texts: [] };
    let at = 0;
    if (this.#rest) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.#rest = Buffer.concat([this.#rest, chunk]);
        this.#checkRest();
        return this.#take();
      }
      const joined = Buffer.concat([this.#rest, chunk.subarray(0, nl)]).toString('utf8');
      this.#rest = null;
      if (!this.#line(joined)) return this.#take();
      at = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last >= at) {
      for (const text of chunk.toString('utf8', at, last).split('\n')) if (!this.#line(text)) return this.#take();
      at = last + 1;
    }
    if (at < chunk.length) this.#rest = Buffer.from(chunk.subarray(at));
    this.#checkRest();
    return this.#take();
  }

  /** The last line, when the input does not end with a line break. */
  end(): LineRun {
    if (this.#rest && !this.#stopped) this.#line(this.#rest.toString('utf8'));
    this.#rest = null;
    this.#stopped = true;
    return this.#take();
  }

  #take(): LineRun {
    const run = this.#run;
    this.#run = { nos: [], texts: [] };
    return run;
  }

  /** An unfinished line past the limit (the +1: a CR before the LF is not the line's). */
  #checkRest(): void {
    if (this.#rest && this.#rest.length > this.#maxLineBytes + 1) this.#tooLong(this.#no + 1);
  }

  #tooLong(no: number): void {
    this.#run.tooLong = no;
    this.#rest = null;
    this.#stopped = true;
  }

  #line(text: string): boolean {
    const no = ++this.#no;
    const t = text.length > 0 && text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    if (t.length > this.#maxLineBytes / 3 && Buffer.byteLength(t) > this.#maxLineBytes) {
      this.#tooLong(no);
      return false;
    }
    if (t.trim() !== '') {
      this.#run.nos.push(no);
      this.#run.texts.push(t);
    }
    return true;
  }
}
