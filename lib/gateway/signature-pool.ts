// Envelope signature checks on another thread, so that Node-RED's thread keeps routing
// messages and writing the ledger. Jobs go out in batches and come back in the order they
// were given, which keeps each device's replay check in arrival order. Jobs wait in a bounded
// FairQueue (a lane per device) and only a few batches are in flight, so a flood is shed with
// ERR_OVERLOADED instead of piling up, and one device's flood does not delay the others.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { VerifiedEnvelope } from '../envelope/envelope';
import { LedgerError, withoutStack, type ErrorCode } from '../errors';
import { FairQueue } from './fair-queue';

/** Called once with the checked envelope or the error (a callback: no promise per message). */
export type SignatureCallback = (err: Error | null, v?: VerifiedEnvelope) => void;

interface Job {
  data: string | Uint8Array;
  did: string;
  done: SignatureCallback;
}

export type WorkerAnswer = { ok: true; v: VerifiedEnvelope } | { ok: false; code: ErrorCode; message: string };

const MAX_BATCH = 256;
/**
 * The worker only holds a few batches of short strings; V8's default young generation (up to
 * 48 MB per isolate) would let a flood grow Node-RED's RSS for nothing.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 };
/** Batches posted to the worker and not answered yet; the rest wait in the fair queue. */
const MAX_IN_FLIGHT = 2;

export interface SignaturePoolOptions {
  /** Jobs waiting at most, in all (default 8192). */
  maxWaiting?: number;
  /** Jobs of one device waiting at most (default 1024: a device's burst, e.g. its backlog after a reconnect, fits). */
  maxPerDevice?: number;
  /** Jobs of devices not enrolled (trust on first use) waiting at most (default 1024). */
  maxUnenrolled?: number;
}

export class SignaturePool {
  #worker: Worker | undefined;
  readonly #queue: FairQueue<Job>;
  readonly #inflight: Job[][] = [];
  #scheduled = false;
  #closed = false;

  constructor(opts: SignaturePoolOptions = {}) {
    this.#queue = new FairQueue<Job>(opts.maxWaiting, opts.maxPerDevice, opts.maxUnenrolled);
  }

  /** Jobs waiting for the worker. */
  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Checks an envelope's signature with the did:key `did`. `enrolled` puts the job in the
   * device's own lane, otherwise in the low-priority lane. Rejects with ERR_OVERLOADED at
   * once when that lane or the queue is full.
   */
  verify(data: string | Uint8Array, did: string, enrolled = true): Promise<VerifiedEnvelope> {
    return new Promise((resolve, reject) => this.check(data, did, enrolled, (err, v) => (err ? reject(err) : resolve(v as VerifiedEnvelope))));
  }

  /** verify() with a callback, called synchronously when the job is refused at once. */
  check(data: string | Uint8Array, did: string, enrolled: boolean, done: SignatureCallback): void {
    if (this.#closed) return done(new LedgerError('ERR_LEDGER_CLOSED', 'the gateway is closed'));
    if (!this.#queue.push(enrolled ? did : undefined, { data, did, done })) {
      done(withoutStack(() => new LedgerError('ERR_OVERLOADED', `too many messages waiting for a signature check (${enrolled ? 'this device' : 'devices not enrolled'}); shed`, { device: enrolled ? did : undefined })));
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushNow);
    }
  }

  readonly #flushNow = (): void => this.#flush();

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.size > 0 && this.#inflight.length < MAX_IN_FLIGHT) {
      const batch = this.#queue.take(MAX_BATCH);
      this.#inflight.push(batch);
      this.#start().postMessage(batch.map((j) => [j.data, j.did]));
    }
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(path.join(__dirname, 'signature-worker.js'), { resourceLimits: WORKER_LIMITS });
    w.unref();
    w.on('message', (answers: WorkerAnswer[]) => {
      const batch = this.#inflight.shift() ?? [];
      for (const [i, job] of batch.entries()) {
        const a = answers[i];
        // One callback that throws must not leave the rest of the batch unanswered.
        try {
          if (a?.ok) job.done(null, a.v);
          else job.done(withoutStack(() => new LedgerError(a?.code ?? 'ERR_INTERNAL', a?.message ?? 'no answer from the signature worker')));
        } catch (err) {
          process.emitWarning(`signature check callback threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      this.#flush();
    });
    const fail = (err: Error) => {
      this.#worker = undefined;
      for (const batch of this.#inflight.splice(0)) for (const job of batch) job.done(new LedgerError('ERR_INTERNAL', `signature worker stopped: ${err.message}`));
      if (!this.#closed) this.#flush();
    };
    w.on('error', fail);
    w.on('exit', (code) => {
      if (this.#inflight.length > 0) fail(new Error(`exit ${code}`));
    });
    this.#worker = w;
    return w;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const closed = () => new LedgerError('ERR_LEDGER_CLOSED', 'the gateway is closed');
    for (const job of this.#queue.drain()) job.done(closed());
    for (const batch of this.#inflight.splice(0)) for (const job of batch) job.done(closed());
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }
}
