// The newest records of one type, for the sidebar, which asks every second while records
// arrive. The first request reads back as far as it must; later ones read only the records
// appended since, so a request costs no more than the appends before it. (A reverse type query
// each time would decode every record of each block back to the newest match: a long pause on
// a busy gateway whose last match is old.)
import type { Ledger, StoredRecord } from '../ledger';

export class RecentRecords<T> {
  readonly #ledger: Ledger;
  readonly #type: string;
  readonly #limit: number;
  readonly #map: (r: StoredRecord) => T;
  /** Newest first, at most #limit. */
  #items: T[] = [];
  /** Records below this index have been looked at. */
  #seen = 0;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(ledger: Ledger, type: string, limit: number, map: (r: StoredRecord) => T) {
    this.#ledger = ledger;
    this.#type = type;
    this.#limit = limit;
    this.#map = map;
  }

  /** The newest records of the type, mapped, newest first. Requests read one at a time. */
  list(): Promise<T[]> {
    const next = this.#tail.then(() => this.#update());
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async #update(): Promise<T[]> {
    const to = this.#ledger.size;
    if (to > this.#seen) {
      const fresh: T[] = [];
      for await (const r of this.#ledger.byType(this.#type, { from: this.#seen, to, reverse: true, limit: this.#limit })) fresh.push(this.#map(r));
      this.#items = [...fresh, ...this.#items].slice(0, this.#limit);
      this.#seen = to;
    }
    return [...this.#items];
  }
}
