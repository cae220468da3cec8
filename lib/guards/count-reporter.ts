// Aggregated reporting of what a flood makes happen (requests dropped, restores deferred): the
// count is handed on at once the first time, then at most once per interval, with what came
// in between, so a flood costs one warning a minute rather than a log line per message.

export class CountReporter {
  #unreported = 0;
  #reportedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly report: ((count: number) => void) | undefined,
  ) {}

  /** Counts `n` more; reports now when the last report is an interval old, else when it will be. */
  add(n = 1): void {
    if (n <= 0 || this.#closed || !this.report) return;
    this.#unreported += n;
    if (this.#timer) return;
    const wait = this.#reportedAt + this.intervalMs - Date.now();
    if (wait <= 0) return this.#flush();
    this.#timer = setTimeout(() => this.#flush(), wait);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed || this.#unreported === 0) return;
    this.#reportedAt = Date.now();
    const n = this.#unreported;
    this.#unreported = 0;
    this.report?.(n);
  }
}
