// Group commit: jobs that arrive while a write is in flight wait, then go out together in
// the next write. One write at a time, in arrival order.
//
// The CPU work of a write (encoding, hashing, filling the storage batch) overlaps the disk
// work of the one before it:
// - jobs that arrive while a write is in flight are planned at the end of their event-loop
//   turn into the write that goes next (the one "ahead"), which each later turn extends;
// - when a write is done, the write ahead starts before the finished write's jobs are
//   answered, so answering them, and the new jobs their callers submit, run during its sync;
//   unless the write ahead was ready early in that sync (the disk is the slower side): then
//   it takes the jobs that answering brings in that turn too, one sync for both.
// (Splitting a large write from an idle disk in two, so that callers who all waited for the
// same write settle into two groups, was measured and left out: twice the syncs cost more CPU
// than the overlap saved on this project's 2-core machine; bench/RESULTS.md, append round.)
//
// A write that is not full starts at the end of the event-loop turn (setImmediate), not at
// once: a burst handed over in one turn (a Node-RED flow delivers each message in its own
// immediate callback, a worker answers a batch of signature checks in one message) goes out
// as one synced write, instead of its first job alone and the rest after that write's sync.
import { LedgerError } from '../errors';

/** A write prepared from some jobs: it goes to disk with write(), then commit() gives the results. */
export interface PlannedWrite<R, T = unknown> {
  write(): Promise<void>;
  /** After a successful write: adopt its state and return one result per job. */
  commit(): R[];
  /**
   * Optional: plans more jobs into this write before it starts, on top of those already in it.
   * When it throws, the write is unusable: the planner has rolled back to before it, and the
   * jobs of the write and the added ones are rejected.
   */
  add?(items: T[]): void;
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
  weight: number;
  planned: PlannedWrite<R, T>;
  /** performance.now() when its write started. */
  startedAt: number;
}

/**
 * `plan` receives the items of the jobs of one write, in order, and prepares that write on
 * top of every write planned before it. When planning throws, the jobs of that write are
 * rejected. When a write fails, its jobs and those of a write planned on top of it are
 * rejected (the caller decides whether later jobs may still be written).
 */
export class GroupCommit<T, R> {
  readonly #plan: (items: T[]) => PlannedWrite<R, T>;
  readonly #maxWeight: number;
  #queue: Job<T, R>[] = [];
  #queuedWeight = 0;
  #running = false;
  #ahead: Batch<T, R> | null = null;
  #inFlight = false;
  /** A setImmediate that plans the queued jobs ahead is pending. */
  #aheadSoon = false;
  /** When the write ahead last took jobs, and how long the last write took (ms, performance.now()). */
  #aheadAt = 0;
  #lastDuration = Infinity;
  #idle: (() => void)[] = [];

  constructor(plan: (items: T[]) => PlannedWrite<R, T>, maxWeight = Infinity) {
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
    } else if (this.#inFlight) {
      if (!this.#ahead && this.#queuedWeight >= this.#maxWeight) this.#planAhead();
      else if (!this.#aheadSoon) {
        this.#aheadSoon = true;
        setImmediate(this.#planAheadSoon);
      }
    }
  }

  readonly #start = (): void => void this.#drain();

  readonly #planAheadSoon = (): void => {
    this.#aheadSoon = false;
    if (this.#inFlight) this.#planAhead();
  };

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    // The first write starts at the end of the turn that queued its first job (see above).
    let current = this.#first();
    let writing = current ? this.#startWrite(current) : null;
    while (current && writing) {
      try {
        await writing;
      } catch (err) {
        this.#inFlight = false;
        fail(current.jobs, err);
        const ahead = this.#ahead as Batch<T, R> | null;
        this.#ahead = null;
        if (ahead) fail(ahead.jobs, err);
        current = this.#first();
        writing = current ? this.#startWrite(current) : null;
        continue;
      }
      this.#inFlight = false;
      this.#lastDuration = performance.now() - current.startedAt;
      let results: R[] | null = null;
      let failure: unknown = null;
      try {
        results = current.planned.commit();
        if (results.length !== current.jobs.length) throw new LedgerError('ERR_INTERNAL', `a write of ${current.jobs.length} jobs gave ${results.length} results`);
      } catch (err) {
        failure = err;
      }
      // The next write goes out before this one's jobs are answered: their callers' next jobs
      // are prepared while it syncs. Unless the write ahead was ready early in this write's
      // sync (the disk, not the preparing, is what takes the time): then it waits for the jobs
      // that answering this write brings in the same turn, one sync for both.
      const done = current;
      const merge = this.#ahead !== null && this.#ahead.planned.add !== undefined && this.#aheadAt - done.startedAt < this.#lastDuration / 2;
      current = merge ? null : (this.#ahead ?? (this.#queue.length > 0 ? this.#planNext(this.#maxWeight) : null));
      if (!merge) this.#ahead = null;
      writing = current ? this.#startWrite(current) : null;
      if (results === null) fail(done.jobs, failure);
      else for (let i = 0; i < done.jobs.length; i++) answer(done.jobs[i]!, null, results[i]);
      if (!current) {
        // Jobs submitted by the callbacks just answered: wait for the rest of their turn.
        if (this.#queue.length > 0 || merge) await new Promise<void>((resolve) => setImmediate(resolve));
        current = this.#first();
        writing = current ? this.#startWrite(current) : null;
      }
    }
    this.#running = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  #startWrite(batch: Batch<T, R>): Promise<void> {
    this.#inFlight = true;
    batch.startedAt = performance.now();
    const writing = batch.planned.write();
    if (this.#queue.length > 0) this.#planAhead();
    return writing;
  }

  /**
   * The write to start with the disk idle, past the end of the turn that queued its jobs: the
   * write ahead (a merge, see #drain) with the queued jobs added, or the queued jobs.
   */
  #first(): Batch<T, R> | null {
    while (this.#queue.length > 0 || this.#ahead) {
      if (this.#ahead) {
        this.#planAhead();
        const a = this.#ahead as Batch<T, R> | null;
        this.#ahead = null;
        if (a) return a;
        continue;
      }
      const b = this.#planNext(this.#maxWeight);
      if (b) return b;
    }
    return null;
  }

  /** Plans the queued jobs into the write ahead (extending it when it can), up to the weight limit. */
  #planAhead(): void {
    const ahead = this.#ahead;
    if (!ahead) {
      this.#ahead = this.#planNext(this.#maxWeight);
      return;
    }
    if (!ahead.planned.add || this.#queue.length === 0) return;
    const { jobs, weight } = this.#take(this.#maxWeight - ahead.weight, false);
    if (jobs.length === 0) return;
    try {
      ahead.planned.add(jobs.map((j) => j.item));
    } catch (err) {
      // The whole write ahead is unusable (the planner rolled back to before it).
      this.#ahead = null;
      setImmediate(fail, [...ahead.jobs, ...jobs], err);
      return;
    }
    ahead.jobs.push(...jobs);
    ahead.weight += weight;
    this.#aheadAt = performance.now();
  }

  /** Takes queued jobs up to `limit` weight; at least one when `one`. */
  #take(limit: number, one: boolean): { jobs: Job<T, R>[]; weight: number } {
    let weight = 0;
    let n = 0;
    for (const job of this.#queue) {
      if ((n > 0 || !one) && weight + job.weight > limit) break;
      weight += job.weight;
      n++;
    }
    const jobs = this.#queue.splice(0, n);
    this.#queuedWeight -= weight;
    return { jobs, weight };
  }

  /** Takes the queued jobs up to `limit` weight (at least one) and plans their write. */
  #planNext(limit: number): Batch<T, R> | null {
    const { jobs, weight } = this.#take(limit, true);
    const items = new Array<T>(jobs.length);
    for (let i = 0; i < jobs.length; i++) items[i] = jobs[i]!.item;
    try {
      const planned = this.#plan(items);
      this.#aheadAt = performance.now();
      return { jobs, weight, planned, startedAt: 0 };
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
