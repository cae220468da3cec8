// The most recently appended records' canonical bytes and leaf hashes, kept in memory from the
// ledger's 'leaves' event (what it just wrote durably), so that the level-0 hash tiles and entry
// bundles a following replica asks for are not read back from LevelDB and re-hashed: serving a
// live follower then costs the gateway almost nothing per record. Bounded: at most the last
// RECENT_CAPACITY records and RECENT_MAX_BYTES of record bytes, one contiguous run.
//
// Kept per tile, already in the served form (the uint16 length-prefixed entry bundle and the
// concatenated hashes), in a few large buffers: a tile is answered with a view, without
// encoding, and the held records are not thousands of small objects the gateway's garbage
// collector copies on every scavenge (that cost a followed gateway more than serving did).
import type { Ledger } from '../ledger';
import type { Leaf } from '../ledger/commit';
import { MAX_ENTRY_BYTES } from './content';
import { TILE_WIDTH } from './path';

/**
 * A follower that falls behind by more than this (a replica at low priority on a busy host, a
 * slow link) makes the gateway read its entries back from LevelDB at ~12 µs of CPU a record:
 * 8,192 was often too few in the replica bench (15,000-24,000 records read back per 50,000
 * appended). The byte bound below still caps the memory (records of ~250 bytes reach both).
 */
export const RECENT_CAPACITY = 32768;
export const RECENT_MAX_BYTES = 8 * 1024 * 1024;

const HASH = 32;

/** Records [origin, origin + ends.length) of one tile; those before `first` are trimmed. */
class TileRun {
  readonly origin: number;
  first: number;
  count = 0;
  bundle: Buffer = Buffer.allocUnsafe(16 * 1024);
  /** ends[i]: where record origin + i ends in `bundle`. */
  readonly ends = new Uint32Array(TILE_WIDTH);
  readonly hashes = new Uint8Array(TILE_WIDTH * HASH);

  constructor(origin: number) {
    this.origin = origin;
    this.first = origin;
  }

  get end(): number {
    return this.origin + this.count;
  }

  #at(i: number): number {
    return i === this.origin ? 0 : (this.ends[i - this.origin - 1] ?? 0);
  }

  /** Bytes held for records [first, end): length prefixes included. */
  get bytes(): number {
    return this.#at(this.end) - this.#at(this.first);
  }

  push(l: Leaf): void {
    const need = this.#at(this.end) + 2 + l.bytes.length;
    if (need > this.bundle.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.bundle.length * 2));
      this.bundle.copy(grown, 0, 0, this.#at(this.end));
      this.bundle = grown;
    }
    const at = this.#at(this.end);
    this.bundle.writeUInt16BE(l.bytes.length, at);
    this.bundle.set(l.bytes, at + 2);
    this.hashes.set(l.leaf, this.count * HASH);
    this.ends[this.count] = need;
    this.count++;
  }

  holds(from: number, to: number): boolean {
    return from >= this.first && to <= this.end && from < to;
  }

  entryBundle(from: number, to: number): Uint8Array {
    return this.bundle.subarray(this.#at(from), this.#at(to));
  }

  hashTile(from: number, to: number): Uint8Array {
    return this.hashes.subarray((from - this.origin) * HASH, (to - this.origin) * HASH);
  }
}

export class RecentLeaves {
  #runs: TileRun[] = [];
  #count = 0;
  #bytes = 0;
  readonly #capacity: number;
  readonly #maxBytes: number;

  constructor(capacity = RECENT_CAPACITY, maxBytes = RECENT_MAX_BYTES) {
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
  }

  #end(): number | undefined {
    return this.#runs[this.#runs.length - 1]?.end;
  }

  readonly add = (first: number, leaves: Leaf[]): void => {
    if (first !== this.#end()) this.#clear();
    leaves.forEach((l, i) => {
      const index = first + i;
      // An entry bundle cannot carry it: nothing before it can be served from here either.
      if (l.bytes.length > MAX_ENTRY_BYTES) return this.#clear();
      let run = this.#runs[this.#runs.length - 1];
      if (!run || index % TILE_WIDTH === 0) {
        run = new TileRun(index);
        this.#runs.push(run);
      }
      run.push(l);
      this.#count++;
      this.#bytes += 2 + l.bytes.length;
    });
    this.#trim();
  };

  #clear(): void {
    this.#runs = [];
    this.#count = 0;
    this.#bytes = 0;
  }

  /** Drops the oldest records past either bound: a whole tile when all of it must go. */
  #trim(): void {
    for (;;) {
      const run = this.#runs[0];
      const overCount = this.#count > this.#capacity;
      const overBytes = this.#bytes > this.#maxBytes;
      if (!run || (!overCount && !overBytes)) return;
      const held = run.end - run.first;
      if ((overCount && this.#count - held >= this.#capacity) || (overBytes && this.#bytes - run.bytes >= this.#maxBytes)) {
        this.#count -= held;
        this.#bytes -= run.bytes;
        this.#runs.shift();
        continue;
      }
      const before = run.bytes;
      run.first++;
      this.#count--;
      this.#bytes -= before - run.bytes;
    }
  }

  #run(from: number, to: number): TileRun | undefined {
    return this.#runs.find((r) => r.holds(from, to));
  }

  /** The entry bundle of records [from, to) (within one tile) when all are held, else undefined. */
  entryBundle(from: number, to: number): Uint8Array | undefined {
    return this.#run(from, to)?.entryBundle(from, to);
  }

  /** The level-0 hashes of records [from, to) (within one tile) when all are held, else undefined. */
  hashTile(from: number, to: number): Uint8Array | undefined {
    return this.#run(from, to)?.hashTile(from, to);
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
