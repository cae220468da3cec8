// Group commit: jobs that arrive while a write is in flight wait, then all of them go
// out together in the next write. One write at a time, in arrival order.

export interface Job<T, R> {
  item: T;
  /** How much this job adds to a write (e.g. its record count); bounds one write. */
  weight: number;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * `write` receives the items of every queued job, in order, and returns one result per
 * item. When it throws, every job of that write is rejected with the error; jobs queued
 * after it are still written (the caller decides whether to fail them).
 */
export class GroupCommit<T, R> {
  readonly #write: (items: T[]) => Promise<R[]>;
  readonly #maxWeight: number;
  #queue: Job<T, R>[] = [];
  #running = false;
  #idle: (() => void)[] = [];

  constructor(write: (items: T[]) => Promise<R[]>, maxWeight = Infinity) {
    this.#write = write;
    this.#maxWeight = maxWeight;
  }

  /** Jobs waiting for the next write (not counting the one in flight). */
  get queued(): number {
    return this.#queue.length;
  }

  get busy(): boolean {
    return this.#running;
  }

  submit(item: T, weight = 1): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, weight, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // Let the appends issued in the same tick join this first write.
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const jobs = this.#take();
      let results: R[];
      try {
        results = await this.#write(jobs.map((j) => j.item));
      } catch (err) {
        for (const j of jobs) j.reject(err);
        continue;
      }
      for (let i = 0; i < jobs.length; i++) jobs[i].resolve(results[i]);
    }
    this.#running = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  /** The queued jobs up to the weight limit (always at least one). */
  #take(): Job<T, R>[] {
    let weight = 0;
    let n = 0;
    while (n < this.#queue.length && (n === 0 || weight + this.#queue[n].weight <= this.#maxWeight)) {
      weight += this.#queue[n].weight;
      n++;
    }
    return this.#queue.splice(0, n);
  }
}
