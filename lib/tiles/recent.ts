// The most recently appended records' canonical bytes and leaf hashes, kept in memory from the
// ledger's 'leaves' event (what it just wrote durably), so that the level-0 hash tiles and entry
// bundles a following replica asks for are not read back from LevelDB and re-hashed: serving a
// live follower then costs the gateway almost nothing per record. Bounded: at most the last
// RECENT_CAPACITY records and RECENT_MAX_BYTES of record bytes, one contiguous run.
import type { Ledger } from '../ledger';
import type { Leaf } from '../ledger/commit';

export const RECENT_CAPACITY = 8192;
export const RECENT_MAX_BYTES = 8 * 1024 * 1024;

export class RecentLeaves {
  #start = 0;
  #items: Leaf[] = [];
  #bytes = 0;
  readonly #capacity: number;
  readonly #maxBytes: number;

  constructor(capacity = RECENT_CAPACITY, maxBytes = RECENT_MAX_BYTES) {
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
  }

  readonly add = (first: number, leaves: Leaf[]): void => {
    if (first !== this.#start + this.#items.length) {
      this.#start = first;
      this.#items = [];
      this.#bytes = 0;
    }
    for (const l of leaves) {
      this.#items.push(l);
      this.#bytes += l.bytes.length;
    }
    const over = this.#items.length - this.#capacity;
    if (over > 0 || this.#bytes > this.#maxBytes) {
      // Drop in chunks (a quarter of either bound), so trimming stays cheap per record.
      let drop = over > 0 ? Math.min(this.#items.length, Math.max(over, this.#capacity >> 2)) : 0;
      let dropped = 0;
      for (let i = 0; i < drop; i++) dropped += this.#items[i].bytes.length;
      const target = this.#bytes - dropped > this.#maxBytes ? (this.#maxBytes * 3) / 4 : this.#maxBytes;
      while (drop < this.#items.length && this.#bytes - dropped > target) dropped += this.#items[drop++].bytes.length;
      this.#items = this.#items.slice(drop);
      this.#start += drop;
      this.#bytes -= dropped;
    }
  };

  /** Leaves [from, to) when all are held, else undefined. */
  range(from: number, to: number): Leaf[] | undefined {
    if (from < this.#start || to > this.#start + this.#items.length || from > to) return undefined;
    return this.#items.slice(from - this.#start, to - this.#start);
  }
}

const byLedger = new WeakMap<Ledger, RecentLeaves>();

/** The cache of `ledger`, started on first use (records appended before that are read from disk). */
export function recentLeaves(ledger: Ledger): RecentLeaves {
  let r = byLedger.get(ledger);
  if (!r) {
    r = new RecentLeaves();
    byLedger.set(ledger, r);
    ledger.on('leaves', r.add);
  }
  return r;
}
