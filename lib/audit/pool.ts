// A small pool of worker threads that check chunks; the calling thread does the
// work itself when there are no workers or one fails.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LedgerError } from '../errors';
import { checkChunk, type ChunkEntries, type ChunkJob, type ChunkResult } from './chunk';
import { transferList } from './pack';

type Reply = { ok: true; result: ChunkResult } | { ok: false; seq: number; read: boolean; error: string } | { ready: true } | { closed: true };

interface Pending {
  job: ChunkJob;
  resolve: (r: ChunkResult) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** It has loaded its modules (and opened the ledger): until one has, this thread checks chunks itself. */
  ready?: boolean;
  /** Chunks sent to it, answered in order. */
  jobs: Pending[];
  closed?: () => void;
}

const WORKER_FILE = path.join(__dirname, 'worker.js');

/** Worker threads to use: os.availableParallelism(), capped at 2. */
export function defaultWorkers(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, n));
}

export interface PoolOptions {
  /**
   * A LevelDB location the workers open themselves (see RawStore.sharedLocation): chunks
   * sent without entries are read by the worker that checks them.
   */
  location?: string;
  /** Reads the entries of a chunk sent without them, in this thread (when no worker is left). */
  readInThread?: (job: ChunkJob) => Promise<ChunkEntries>;
}

export class ChunkPool {
  readonly #slots: Slot[] = [];
  readonly #waiting: Pending[] = [];
  readonly #opts: PoolOptions;
  /** Chunks a worker holds at once: with reading workers, one checked while the next is read. */
  readonly #depth: number;
  #closed = false;
  #active = Infinity;
  /** A chunk this thread is checking while no worker is ready yet. */
  #meanwhile = false;

  /** `workers` threads; 0 (or no compiled worker file) runs every chunk in this thread. */
  constructor(workers: number, opts: PoolOptions = {}) {
    this.#opts = opts;
    this.#depth = opts.location === undefined ? 1 : 2;
    if (workers > 0 && fs.existsSync(WORKER_FILE)) {
      for (let i = 0; i < workers; i++) this.#slots.push(this.#spawn());
    }
  }

  get threads(): number {
    return this.#slots.length;
  }

  /** Whether the workers read the chunks sent without entries themselves. */
  get reading(): boolean {
    return this.#opts.location !== undefined && this.#slots.length > 0;
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
    if (this.#slots.length === 0) return Promise.resolve().then(() => this.#inThread(job));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  /** Ends the pool: chunks not started are refused, no more are checked in this thread. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new Error('the audit ended before this chunk was checked'));
    const slots = this.#slots.splice(0);
    // Reading workers close their LevelDB handle first: the ledger stays locked while any is open.
    await Promise.all(
      slots.map(async (s) => {
        if (this.#opts.location !== undefined) {
          await new Promise<void>((resolve) => {
            s.closed = resolve;
            s.worker.once('exit', () => resolve());
            s.worker.postMessage({ close: true });
          });
        }
        await s.worker.terminate();
      }),
    );
  }

  async #inThread(job: ChunkJob): Promise<ChunkResult> {
    if (job.records || !this.#opts.readInThread) return checkChunk(job);
    return checkChunk(job, await this.#opts.readInThread(job));
  }

  #spawn(): Slot {
    const slot: Slot = {
      worker: new Worker(WORKER_FILE, this.#opts.location === undefined ? {} : { workerData: { location: this.#opts.location } }),
      jobs: [],
    };
    slot.worker.on('message', (reply: Reply) => {
      if ('closed' in reply) return slot.closed?.();
      if ('ready' in reply) {
        slot.ready = true;
        return this.#dispatch();
      }
      const done = slot.jobs.shift();
      if (done) {
        if (reply.ok) done.resolve(reply.result);
        else if (reply.read) done.reject(new LedgerError('ERR_LEDGER_IO', `cannot read the ledger (chunk ${reply.seq}): ${reply.error}`));
        else done.reject(new Error(`audit worker failed on chunk ${reply.seq}: ${reply.error}`));
      }
      this.#dispatch();
    });
    slot.worker.on('error', (err) => this.#lost(slot, err));
    slot.worker.on('exit', (code) => {
      if (!this.#closed) this.#lost(slot, new Error(`audit worker exited with code ${code}`));
    });
    return slot;
  }

  /**
   * A worker died. A chunk it held that carried its entries is lost (its buffers went with
   * it); one it was to read itself is checked elsewhere. With no worker left, this thread
   * checks the rest.
   */
  #lost(slot: Slot, err: unknown): void {
    if (this.#closed) return;
    const at = this.#slots.indexOf(slot);
    if (at < 0) return;
    this.#slots.splice(at, 1);
    const why = `audit worker died: ${err instanceof Error ? err.message : String(err)}`;
    const retry: Pending[] = [];
    for (const p of slot.jobs.splice(0)) {
      if (p.job.records) p.reject(new Error(why));
      else retry.push(p);
    }
    this.#waiting.unshift(...retry);
    if (this.#slots.length === 0) {
      for (const w of this.#waiting.splice(0)) this.#inThread(w.job).then(w.resolve, w.reject);
    } else this.#dispatch();
  }

  #dispatch(): void {
    if (this.#closed) return;
    for (let depth = 1; depth <= this.#depth; depth++) {
      for (const [i, slot] of this.#slots.entries()) {
        if (i >= this.#active || this.#waiting.length === 0) break;
        // A starting worker already takes chunks it reads itself: they wait in its port and are
        // checked elsewhere if it fails, so it starts on them with no round trip through a thread
        // that may be busy checking a chunk meanwhile.
        if (slot.jobs.length >= depth || (!slot.ready && this.#waiting[0]!.job.records !== undefined)) continue;
        const next = this.#waiting.shift() as Pending;
        slot.jobs.push(next);
        // Transferred, not copied: the job's buffers now belong to the worker.
        const packs = next.job.records && next.job.nodes ? [next.job.records, ...next.job.nodes] : [];
        slot.worker.postMessage(next.job, transferList(packs));
      }
    }
    // A worker takes a while to start (a new isolate loading the audit's modules): this thread,
    // which has them, checks chunks in the meantime, one at a time.
    if (this.#waiting.length > 0 && !this.#meanwhile && !this.#slots.some((s) => s.ready)) {
      const next = this.#waiting.shift() as Pending;
      this.#meanwhile = true;
      this.#inThread(next.job)
        .then(next.resolve, next.reject)
        .finally(() => {
          this.#meanwhile = false;
          this.#dispatch();
        });
    }
  }
}
