// The bounded wait for signature checks: one lane per enrolled device, served in turn, and a
// low-priority lane (devices not enrolled yet: trust on first use) served only when the
// lanes are empty. A flood on one lane fills that lane only; the rest are shed at once.

export class FairQueue<T> {
  readonly #lanes = new Map<string, T[]>();
  readonly #low: T[] = [];
  #size = 0;

  constructor(
    readonly maxTotal = 8192,
    readonly maxPerLane = 1024,
    readonly maxLow = 1024,
  ) {}

  get size(): number {
    return this.#size;
  }

  /** Adds to `lane` (undefined: the low-priority lane); false when that lane or the queue is full. */
  push(lane: string | undefined, item: T): boolean {
    if (this.#size >= this.maxTotal) return false;
    if (lane === undefined) {
      if (this.#low.length >= this.maxLow) return false;
      this.#low.push(item);
    } else {
      let q = this.#lanes.get(lane);
      if (!q) this.#lanes.set(lane, (q = []));
      if (q.length >= this.maxPerLane) return false;
      q.push(item);
    }
    this.#size++;
    return true;
  }

  /** Up to `n` items: one from each lane in turn (each lane in its own order), then low-priority ones. */
  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.#lanes.size > 0) {
      for (const [lane, q] of this.#lanes) {
        out.push(q.shift() as T);
        // Served: to the back of the line (a Map keeps insertion order).
        this.#lanes.delete(lane);
        if (q.length > 0) this.#lanes.set(lane, q);
        if (out.length >= n) break;
      }
    }
    while (out.length < n && this.#low.length > 0) out.push(this.#low.shift() as T);
    this.#size -= out.length;
    return out;
  }

  /** Removes and returns everything (on close). */
  drain(): T[] {
    return this.take(this.#size);
  }
}
