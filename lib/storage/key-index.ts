// The file store's in-memory index: every live key and where its value lies in the segment
// files. Dense families (records, Merkle nodes, blocks) live in typed arrays, the rest in a
// sorted structure; iteration merges them in key order. snapshot() is cheap: it shares the
// typed-array chunks (copy-on-write) and the sorted array, copying only recent changes.
import { DenseFamily, type Chunk, type Loc } from './dense';
import { SortedIndex, type Bound } from './sorted';

export type { Loc } from './dense';

const P_RECORD = 0x72;
const P_BLOCK = 0x62;
const P_NODE = 0x6e;
const TOP = 2 ** 32;

export interface IndexRange {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
}

export interface IndexEntry {
  key: Buffer;
  at: number;
  len: number;
}

/** The dense family and slot of the key buf[at, at + length), or undefined for a key kept in the sorted part. */
function denseSlot(buf: Buffer, at = 0, length = buf.length): { prefix: number; prefixLength: number; index: number } | undefined {
  const first = buf[at];
  if (first === undefined) return undefined;
  if (length === 9 && (first === P_RECORD || first === P_BLOCK) && buf.readUInt32BE(at + 1) === 0)
    return { prefix: first, prefixLength: 1, index: buf.readUInt32BE(at + 5) };
  if (length === 10 && first === P_NODE && buf.readUInt32BE(at + 2) === 0)
    return { prefix: 0x10000 | ((buf[at + 1] ?? 0) << 8) | first, prefixLength: 2, index: buf.readUInt32BE(at + 6) };
  return undefined;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The slots [lo, hi) of a family whose keys lie within the range. */
function slotRange(f: DenseFamily, r: IndexRange): [number, number] {
  const below = (i: number): boolean => {
    // true while key(i) is under the lower bound
    const k = f.keyOf(i);
    if (r.gte && compare(k, r.gte) < 0) return true;
    return r.gt !== undefined && compare(k, r.gt) <= 0;
  };
  const within = (i: number): boolean => {
    const k = f.keyOf(i);
    if (r.lt && compare(k, r.lt) >= 0) return false;
    return !(r.lte && compare(k, r.lte) > 0);
  };
  const first = (pred: (i: number) => boolean): number => {
    // the first i in [0, TOP] with pred(i) false, pred being true then false
    let lo = 0;
    let hi = TOP;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (pred(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return [first(below), first(within)];
}

export class KeyIndex {
  readonly #frozen: WeakSet<Chunk>;
  readonly #families: Map<number, DenseFamily>;
  readonly #sorted: SortedIndex;

  constructor(frozen = new WeakSet<Chunk>(), families = new Map<number, DenseFamily>(), sorted = new SortedIndex()) {
    this.#frozen = frozen;
    this.#families = families;
    this.#sorted = sorted;
  }

  /** A read-only copy of this moment, for snapshots and iterators. */
  snapshot(): KeyIndex {
    const families = new Map<number, DenseFamily>();
    for (const [p, f] of this.#families) families.set(p, f.share());
    return new KeyIndex(this.#frozen, families, this.#sorted.share());
  }

  get(key: Buffer, out: Loc): boolean {
    const d = denseSlot(key);
    if (!d) return this.#sorted.get(key.toString('latin1'), out);
    const f = this.#families.get(d.prefix);
    return f ? f.get(d.index, out) : false;
  }

  set(key: Buffer, at: number, len: number): void {
    this.setAt(key, 0, key.length, at, len);
  }

  del(key: Buffer): void {
    this.delAt(key, 0, key.length);
  }

  /** set() of the key buf[keyAt, keyAt + keyLength), without a Buffer for it. */
  setAt(buf: Buffer, keyAt: number, keyLength: number, at: number, len: number): void {
    const d = denseSlot(buf, keyAt, keyLength);
    if (!d) return this.#sorted.set(buf.toString('latin1', keyAt, keyAt + keyLength), at, len);
    let f = this.#families.get(d.prefix);
    if (!f) {
      f = new DenseFamily(Buffer.from(buf.subarray(keyAt, keyAt + d.prefixLength)), this.#frozen);
      this.#families.set(d.prefix, f);
    }
    f.set(d.index, at, len);
  }

  delAt(buf: Buffer, keyAt: number, keyLength: number): void {
    const d = denseSlot(buf, keyAt, keyLength);
    if (!d) return this.#sorted.del(buf.toString('latin1', keyAt, keyAt + keyLength));
    this.#families.get(d.prefix)?.del(d.index);
  }

  /** Starts or ends a bulk load (replay): see SortedIndex.loading. */
  loading(on: boolean): void {
    this.#sorted.loading(on);
  }

  /** Entries within the range, in key order (descending with reverse). */
  *entries(r: IndexRange): Generator<IndexEntry> {
    if ((r.gt && r.gte) || (r.lt && r.lte)) throw new RangeError('give at most one lower bound (gt or gte) and one upper bound (lt or lte)');
    const reverse = r.reverse === true;
    const sources: Iterator<IndexEntry>[] = [];
    for (const f of this.#families.values()) {
      const [lo, hi] = slotRange(f, r);
      if (lo >= hi) continue;
      sources.push(
        (function* (): Generator<IndexEntry> {
          const loc = { at: 0, len: 0 };
          for (const i of f.slots(lo, hi, reverse)) if (f.get(i, loc)) yield { key: f.keyOf(i), at: loc.at, len: loc.len };
        })(),
      );
    }
    const lower: Bound | undefined = r.gt ? { key: latin1(r.gt), open: true } : r.gte ? { key: latin1(r.gte), open: false } : undefined;
    const upper: Bound | undefined = r.lt ? { key: latin1(r.lt), open: true } : r.lte ? { key: latin1(r.lte), open: false } : undefined;
    const sorted = this.#sorted;
    sources.push(
      (function* (): Generator<IndexEntry> {
        for (const e of sorted.range(lower, upper, reverse)) yield { key: Buffer.from(e.key, 'latin1'), at: e.at, len: e.len };
      })(),
    );
    const only = sources.length === 1 ? sources[0] : undefined;
    if (only) {
      for (let n = only.next(); !n.done; n = only.next()) yield n.value;
      return;
    }
    const heads = sources.map((s) => s.next());
    while (true) {
      let best = -1;
      for (let s = 0; s < heads.length; s++) {
        const h = heads[s]!;
        if (h.done) continue;
        if (best < 0) best = s;
        else {
          const c = compare(h.value.key, (heads[best] as IteratorYieldResult<IndexEntry>).value.key);
          if (reverse ? c > 0 : c < 0) best = s;
        }
      }
      if (best < 0) return;
      yield (heads[best] as IteratorYieldResult<IndexEntry>).value;
      heads[best] = sources[best]!.next();
    }
  }

  /** Bytes held by the index structures (approximate for the sorted part). */
  get bytes(): number {
    let b = this.#sorted.bytes;
    for (const f of this.#families.values()) b += f.bytes;
    return b;
  }
}
