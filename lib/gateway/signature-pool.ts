// Envelope signature checks on another thread, so that Node-RED's thread keeps routing
// messages and writing the ledger. Jobs go out in batches and come back in the order they
// were given, which keeps each device's replay check in arrival order.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { VerifiedEnvelope } from '../envelope';
import { LedgerError, type ErrorCode } from '../errors';

interface Job {
  data: string | Uint8Array;
  did: string;
  resolve: (v: VerifiedEnvelope) => void;
  reject: (err: Error) => void;
}

export type WorkerAnswer = { ok: true; v: VerifiedEnvelope } | { ok: false; code: ErrorCode; message: string };

const MAX_BATCH = 256;

export class SignaturePool {
  #worker: Worker | undefined;
  #queue: Job[] = [];
  readonly #inflight: Job[][] = [];
  #scheduled = false;
  #closed = false;

  verify(data: string | Uint8Array, did: string): Promise<VerifiedEnvelope> {
    if (this.#closed) return Promise.reject(new LedgerError('ERR_LEDGER_CLOSED', 'the gateway is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ data, did, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      this.#inflight.push(batch);
      this.#start().postMessage(batch.map((j) => [j.data, j.did]));
    }
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(path.join(__dirname, 'signature-worker.js'));
    w.unref();
    w.on('message', (answers: WorkerAnswer[]) => {
      const batch = this.#inflight.shift() ?? [];
      batch.forEach((job, i) => {
        const a = answers[i];
        if (a?.ok) job.resolve(a.v);
        else job.reject(new LedgerError(a?.code ?? 'ERR_INTERNAL', a?.message ?? 'no answer from the signature worker'));
      });
    });
    const fail = (err: Error) => {
      this.#worker = undefined;
      for (const batch of this.#inflight.splice(0)) for (const job of batch) job.reject(new LedgerError('ERR_INTERNAL', `signature worker stopped: ${err.message}`));
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
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }
}
