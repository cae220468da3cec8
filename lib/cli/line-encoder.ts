// `iot-ledger append`'s second thread: it turns the input's chunks into encoded records
// (lib/ledger/encoded-batch.ts) while this thread plans and writes the ones before.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LedgerError } from '../errors';
import type { EncodedBatch } from '../ledger/encoded-batch';

export interface EncodeRequest {
  /** The next chunk of input; none: the input has ended. */
  chunk?: Uint8Array;
  /** The gateway clock for records without a time of their own. */
  now: number;
  maxBytes: number;
}

export interface EncodeAnswer {
  /** The records of the lines the chunk completed, in order. */
  batches: EncodedBatch[];
  /** Why the input stops here ("line N: ..."): a line refused or too long. The batches hold the lines before it; later answers hold none. */
  stop?: string;
}

interface Pending {
  resolve: (a: EncodeAnswer) => void;
  reject: (err: LedgerError) => void;
}

/** One worker; chunks are answered in the order they were given. */
export class LineEncoder {
  readonly #worker: Worker;
  readonly #pending: Pending[] = [];
  #failure: LedgerError | null = null;
  readonly #onFailure: (err: LedgerError) => void;

  /**
   * `onFailure` is called once if the thread fails or stops before close(), also while no
   * chunk waits for an answer: a reader of a pipe left open has nothing else to wake it.
   */
  constructor(onFailure: (err: LedgerError) => void = () => undefined) {
    this.#onFailure = onFailure;
    this.#worker = new Worker(path.join(__dirname, 'append-worker.js'));
    this.#worker.on('message', (answer: EncodeAnswer) => this.#pending.shift()?.resolve(answer));
    this.#worker.on('error', (err) => this.#fail(new LedgerError('ERR_INTERNAL', `the line encoder failed: ${err.message}`, undefined, err)));
    this.#worker.on('exit', (code) => this.#fail(new LedgerError('ERR_INTERNAL', `the line encoder stopped (exit ${code})`)));
  }

  /** The next chunk of input (copied: the caller keeps its buffer). */
  push(chunk: Uint8Array, now: number, maxBytes: number): Promise<EncodeAnswer> {
    const own = new Uint8Array(chunk.byteLength);
    own.set(chunk);
    return this.#ask({ chunk: own, now, maxBytes }, [own.buffer]);
  }

  /** The end of the input: its last line, if it had no line break. */
  end(now: number, maxBytes: number): Promise<EncodeAnswer> {
    return this.#ask({ now, maxBytes }, []);
  }

  /**
   * The answer's promise is marked handled: the caller takes answers in order and stops at the
   * first failure, so those after it are never awaited (a rejection nobody handles would end
   * the process before the ledger is closed).
   */
  #ask(request: EncodeRequest, transfer: ArrayBuffer[]): Promise<EncodeAnswer> {
    const answer: Promise<EncodeAnswer> = this.#failure
      ? Promise.reject(this.#failure)
      : new Promise((resolve, reject) => {
          this.#pending.push({ resolve, reject });
          this.#worker.postMessage(request, transfer);
        });
    answer.catch(() => undefined);
    return answer;
  }

  #fail(err: LedgerError): void {
    const first = this.#failure === null;
    this.#failure ??= err;
    for (const p of this.#pending.splice(0)) p.reject(this.#failure);
    if (first) this.#onFailure(err);
  }

  async close(): Promise<void> {
    this.#failure ??= new LedgerError('ERR_INTERNAL', 'the line encoder was closed');
    await this.#worker.terminate();
  }
}
