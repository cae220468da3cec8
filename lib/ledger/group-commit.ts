// Group commit: jobs that arrive while a write is in flight wait, then go out together in
// the next write. One write at a time, in arrival order. When a full write's worth of jobs
// is waiting, it is planned (encoded, hashed) while the current write is still in flight,
// so the CPU work of one write overlaps the disk work of the one before.
//
// A write that is not full starts at the end of the event-loop turn (setImmediate), not at
// once: a burst handed over in one turn (a Node-RED flow delivers each message in its own
// immediate callback, a worker answers a batch of signature checks in one message) goes out
// as one synced write, instead of its first job alone and the rest after that write's sync.
import { LedgerError } from '../errors';


/** A write prepared from some jobs: it goes to disk with write(), then commit() gives the results. */
export interface PlannedWrite<R> {
  write(): Promise<void>;
  /** After a successful write: adopt its state and return one result per job. */
  commit(): R[];
}

/** Called once with the job's result or the error that failed its write. */
export type JobCallback<R> = (err: unknown, result?: R) => void;

interface Job<T, R> {
  item: T;
  weight: number;
  done: JobCallback<R>;
}

interface Batch<T, R> {
  jobs: Job<T, R>[];
  planned: PlannedWrite<R>;
}

/**
 * `plan` receives the items of the jobs of one write, in order, and prepares that write on
 * top of every write planned before it. When planning throws, the jobs of that write are
 * rejected. When a write fails, its jobs and those of a write planned on top of it are
 * rejected (the caller decides whether later jobs may still be written).
 */
export class GroupCommit<T, R> {
  readonly #plan: (items: T[]) => PlannedWrite<R>;
  readonly #maxWeight: number;
  #queue: Job<T, R>[] = [];
  #queuedWeight = 0;
  #running = false;
  #ahead: Batch<T, R> | null = null;
  #inFlight = false;
  /** A write went out in this drain (the first one has already waited for the turn's end). */
  #written = false;
  #idle: (() => void)[] = [];

  constructor(plan: (items: T[]) => PlannedWrite<R>, maxWeight = Infinity) {
    this.#plan = plan;
    this.#maxWeight = maxWeight;
  }

  /** Jobs waiting for a write (not counting those being written). */
  get queued(): number {
    return this.#queue.length + (this.#ahead ? this.#ahead.jobs.length : 0);
  }

  get busy(): boolean {
    return this.#running;
  }

  submit(item: T, weight = 1): Promise<R> {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the write's or plan's own error, as before
    return new Promise<R>((resolve, reject) => this.submitThen(item, weight, (err, result) => (err ? reject(err) : resolve(result as R))));
  }

  /**
   * submit() with a callback (no promise per job: what a Node-RED message costs). The callback
   * is called once, never synchronously; one that throws does not keep the other jobs waiting.
   */
  submitThen(item: T, weight: number, done: JobCallback<R>): void {
    this.#queue.push({ item, weight, done });
    this.#queuedWeight += weight;
    if (!this.#running) {
      this.#running = true;
      setImmediate(this.#start);
    } else if (this.#inFlight && !this.#ahead && this.#queuedWeight >= this.#maxWeight) {
      this.#ahead = this.#planNext();
    }
  }

  readonly #start = (): void => void this.#drain();

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#ahead || this.#queue.length > 0) {
      // Less than a full write waiting: let the rest of this turn's jobs join it.
      if (!this.#ahead && this.#queuedWeight < this.#maxWeight && this.#written) await new Promise<void>((resolve) => setImmediate(resolve));
      this.#written = true;
      const batch = this.#ahead ?? this.#planNext();
      this.#ahead = null;
      if (!batch) continue;
      this.#inFlight = true;
      const writing = batch.planned.write();
      if (this.#queuedWeight >= this.#maxWeight) this.#ahead = this.#planNext();
      try {
        await writing;
      } catch (err) {
        this.#inFlight = false;
        fail(batch.jobs, err);
        const ahead = this.#ahead as Batch<T, R> | null;
        if (ahead) fail(ahead.jobs, err);
        this.#ahead = null;
        continue;
      }
      this.#inFlight = false;
      let results: R[];
      try {
        results = batch.planned.commit();
        if (results.length !== batch.jobs.length) throw new LedgerError('ERR_INTERNAL', `a write of ${batch.jobs.length} jobs gave ${results.length} results`);
      } catch (err) {
        fail(batch.jobs, err);
        continue;
      }
      const jobs = batch.jobs;
      // One result per job, checked just above.
      for (let i = 0; i < jobs.length; i++) answer(jobs[i]!, null, results[i]);
    }
    this.#running = false;
    this.#written = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  /** Takes the queued jobs up to the weight limit (at least one) and plans their write. */
  #planNext(): Batch<T, R> | null {
    let weight = 0;
    let n = 0;
    for (const job of this.#queue) {
      if (n > 0 && weight + job.weight > this.#maxWeight) break;
      weight += job.weight;
      n++;
    }
    const jobs = this.#queue.splice(0, n);
    this.#queuedWeight -= weight;
    const items = new Array<T>(n);
    for (let i = 0; i < n; i++) items[i] = jobs[i]!.item;
    try {
      return { jobs, planned: this.#plan(items) };
    } catch (err) {
      // Answered from the drain loop's turn, as every job is (never inside submitThen).
      setImmediate(fail, jobs, err);
      return null;
    }
  }
}

function answer<T, R>(job: Job<T, R>, err: unknown, result?: R): void {
  try {
    job.done(err, result);
  } catch (e) {
    process.emitWarning(`a group commit callback threw: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function fail<T, R>(jobs: Job<T, R>[], err: unknown): void {
  for (const j of jobs) answer(j, err);
}
