// A small pool of worker threads that check chunks; the calling thread does the
// work itself when there are no workers or one fails.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkChunk, type ChunkJob, type ChunkResult } from './chunk';
import { transferList } from './pack';

type Reply = { ok: true; result: ChunkResult } | { ok: false; seq: number; error: string };

interface Pending {
  job: ChunkJob;
  resolve: (r: ChunkResult) => void;
  reject: (e: unknown) => void;
  /** Handed to a worker (its buffers were transferred). */
  sent?: boolean;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

const WORKER_FILE = path.join(__dirname, 'worker.js');

/** Worker threads to use: os.availableParallelism(), capped at 2. */
export function defaultWorkers(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, n));
}

export class ChunkPool {
  readonly #slots: Slot[] = [];
  readonly #waiting: Pending[] = [];
  #closed = false;
  #active = Infinity;

  /** `workers` threads; 0 (or no compiled worker file) runs every chunk in this thread. */
  constructor(workers: number) {
    if (workers > 0 && fs.existsSync(WORKER_FILE)) {
      for (let i = 0; i < workers; i++) this.#slots.push(this.#spawn());
    }
  }

  get threads(): number {
    return this.#slots.length;
  }

  /**
   * How many workers take chunks. Fewer than there are leaves cores to the thread
   * that reads LevelDB when it, not checking, limits the pace.
   */
  set active(n: number) {
    this.#active = Math.max(1, n);
    this.#dispatch();
  }

  run(job: ChunkJob): Promise<ChunkResult> {
    if (this.#slots.length === 0) return Promise.resolve().then(() => checkChunk(job));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_FILE) };
    slot.worker.on('message', (reply: Reply) => {
      const busy = slot.busy;
      slot.busy = undefined;
      if (busy) {
        if (reply.ok) busy.resolve(reply.result);
        else busy.reject(new Error(`audit worker failed on chunk ${reply.seq}: ${reply.error}`));
      }
      this.#dispatch();
    });
    slot.worker.on('error', (err) => this.#lost(slot, err));
    slot.worker.on('exit', (code) => {
      if (!this.#closed) this.#lost(slot, new Error(`audit worker exited with code ${code}`));
    });
    return slot;
  }

  /** A worker died: its chunk is lost (its buffers went with it); later chunks run in this thread. */
  #lost(slot: Slot, err: unknown): void {
    const at = this.#slots.indexOf(slot);
    if (at < 0) return;
    this.#slots.splice(at, 1);
    const busy = slot.busy;
    slot.busy = undefined;
    if (busy) busy.reject(new Error(`audit worker died: ${err instanceof Error ? err.message : String(err)}`));
    if (this.#slots.length === 0) for (const w of this.#waiting.splice(0)) this.#inThread(w);
    else this.#dispatch();
  }

  #inThread(w: Pending): void {
    try {
      w.resolve(checkChunk(w.job));
    } catch (err) {
      w.reject(err);
    }
  }

  #dispatch(): void {
    for (const [i, slot] of this.#slots.entries()) {
      if (i >= this.#active) return;
      if (this.#waiting.length === 0) return;
      if (slot.busy) continue;
      const next = this.#waiting.shift() as Pending;
      slot.busy = next;
      // Transferred, not copied: the job's buffers now belong to the worker.
      slot.worker.postMessage(next.job, transferList([next.job.records, ...next.job.nodes]));
      next.sent = true;
    }
  }
}
