// `iot-ledger append`'s per-line work, done in a worker thread: JSON lines (bytes) to validated,
// encoded records (RecordPacker: the ledger's own validation and encoding), in batches.
import { isLedgerError } from '../errors';
import { RecordPacker, type EncodedRecords } from '../ledger/encoded';
import type { RecordInput } from '../ledger/record';
import { inputFromJson } from './ledger-view';

/** A line longer than this many bytes (without its line break) stops the input. */
export const MAX_LINE_BYTES = 1024 * 1024;

export interface LineSettings {
  /** The ledger's largest record in bytes. */
  maxBytes: number;
  /** Records per batch at most. */
  batchLines: number;
  maxLineBytes: number;
  /** Lines counted before this encoder's first (another encoder took them). */
  startNo?: number;
}

/** The refusal of one line: the line's number, the message and the ledger's error code if any. */
export interface LineRefusal {
  no: number;
  message: string;
  code?: string;
}

export interface LineBatch {
  kind: 'batch';
  encoded: EncodedRecords;
  /** The line number of each record. */
  nos: Uint32Array;
  /** The line that stopped the input (the batch holds the records before it). */
  refusal?: LineRefusal;
  /** The last batch of a chunk of input. */
  chunkDone: boolean;
}

/** An error that is not a line's fault (a bug): the command fails with it, as any other. */
export interface LineFatal {
  kind: 'fatal';
  message: string;
}

/** The worker has loaded its code and takes lines. */
export interface LineReady {
  kind: 'ready';
}

export type LineMessage = LineBatch | LineFatal | LineReady;

/**
 * Turns chunks of whole lines, in order, into batches of encoded records; numbers lines from 1
 * across chunks. Blank lines are skipped (they keep their number), a trailing CR is dropped.
 * The first refused line stops it: everything after is ignored.
 */
export class LineEncoder {
  readonly #s: LineSettings;
  readonly #packer = new RecordPacker();
  #nos: number[] = [];
  #no = 0;
  #stopped = false;

  constructor(settings: LineSettings) {
    this.#s = settings;
    this.#no = settings.startNo ?? 0;
  }

  /** Lines counted so far (including blank ones). */
  get lineCount(): number {
    return this.#no;
  }

  #batch(chunkDone: boolean, refusal?: LineRefusal): LineBatch {
    const b: LineBatch = { kind: 'batch', encoded: this.#packer.take(), nos: Uint32Array.from(this.#nos), chunkDone };
    if (refusal) b.refusal = refusal;
    this.#nos = [];
    return b;
  }

  /**
   * Encodes the lines of `chunk` (each ended by LF, but for the input's last line); a record
   * without its own time gets `now`. Emits batches; the last one of the chunk has chunkDone.
   */
  lines(chunk: Uint8Array, now: number, emit: (m: LineMessage) => void): void {
    if (this.#stopped) return emit(this.#batch(true));
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    while (at < b.length) {
      let end = b.indexOf(0x0a, at);
      if (end < 0) end = b.length;
      const no = ++this.#no;
      if (end - at > this.#s.maxLineBytes) return this.#refuse({ no, message: `longer than ${this.#s.maxLineBytes} bytes (the limit of a line)` }, emit);
      const text = b.toString('utf8', at, end > at && b[end - 1] === 0x0d ? end - 1 : end);
      at = end + 1;
      if (text.trim() === '') continue;
      let input: RecordInput;
      try {
        input = inputFromJson(text);
      } catch (err) {
        return this.#refuse({ no, message: (err as Error).message }, emit);
      }
      try {
        this.#packer.add(input, now, this.#s.maxBytes);
      } catch (err) {
        if (isLedgerError(err)) return this.#refuse({ no, message: err.message, code: err.code }, emit);
        // Not a refusal of the line (appendMany would have thrown it as it is): the command fails with it.
        this.#stopped = true;
        return emit({ kind: 'fatal', message: err instanceof Error ? err.message : String(err) });
      }
      this.#nos.push(no);
      if (this.#nos.length >= this.#s.batchLines) emit(this.#batch(false));
    }
    emit(this.#batch(true));
  }

  /** The next line is longer than the limit (its start was read, its end was not found within it). */
  overlong(emit: (m: LineMessage) => void): void {
    if (this.#stopped) return emit(this.#batch(true));
    this.#refuse({ no: this.#no + 1, message: `longer than ${this.#s.maxLineBytes} bytes (the limit of a line)` }, emit);
  }

  #refuse(refusal: LineRefusal, emit: (m: LineMessage) => void): void {
    this.#stopped = true;
    emit(this.#batch(true, refusal));
  }
}
