// The sorted part of the file store's index: every key that is not in a dense family (index
// entries, meta, head, cosignatures...). Keys are latin1 strings, whose code-unit order is the
// byte order. A large sorted array (never changed in place, so snapshots share it) plus a
// small map of recent changes, merged into a new array once the map grows past ~4·sqrt(n).
import type { Loc } from './dense';

interface Change {
  at: number;
  len: number;
}

/** A range bound as a latin1 string; `open` excludes the bound itself. */
export interface Bound {
  key: string;
  open: boolean;
}

export interface SortedEntry {
  key: string;
  at: number;
  len: number;
}

const MIN_DELTA = 4096;

function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedIndex {
  #keys: string[];
  #at: Float64Array<ArrayBuffer>;
  #len: Uint32Array<ArrayBuffer>;
  /** Changes since the last merge; null deletes a key of the sorted array. */
  #delta: Map<string, Change | null>;
  #deltaKeys: string[] | undefined;
  /** While loading (replaying a log), changes pile up here (len -1: a delete), sorted and merged once at the end. */
  #load: { keys: string[]; at: number[]; len: number[] } | undefined;

  constructor(keys: string[] = [], at = new Float64Array(0), len = new Uint32Array(0), delta = new Map<string, Change | null>()) {
    this.#keys = keys;
    this.#at = at;
    this.#len = len;
    this.#delta = delta;
  }

  /** A copy for a snapshot: the sorted array is shared (it is never changed in place). */
  share(): SortedIndex {
    return new SortedIndex(this.#keys, this.#at, this.#len, new Map(this.#delta));
  }

  get size(): number {
    return this.#keys.length + this.#delta.size;
  }

  #find(key: string): number {
    const i = lowerBound(this.#keys, key);
    return i < this.#keys.length && this.#keys[i] === key ? i : -1;
  }

  get(key: string, out: Loc): boolean {
    const d = this.#delta.get(key);
    if (d === null) return false;
    if (d) {
      out.at = d.at;
      out.len = d.len;
      return true;
    }
    const i = this.#find(key);
    if (i < 0) return false;
    out.at = this.#at[i]!;
    out.len = this.#len[i]!;
    return true;
  }

  set(key: string, at: number, len: number): void {
    if (this.#load) {
      this.#load.keys.push(key);
      this.#load.at.push(at);
      this.#load.len.push(len);
      return;
    }
    if (!this.#delta.has(key)) this.#deltaKeys = undefined;
    this.#delta.set(key, { at, len });
    if (this.#delta.size > Math.max(MIN_DELTA, 4 * Math.sqrt(this.#keys.length))) this.#merge();
  }

  /** Starts (true) or ends (false) a bulk load (a replay): one sort and merge at the end instead of many. */
  loading(on: boolean): void {
    if (on) {
      this.#load ??= { keys: [], at: [], len: [] };
      return;
    }
    const load = this.#load;
    this.#load = undefined;
    if (!load || load.keys.length === 0) return;
    const { keys, at, len } = load;
    // positions in key order, a later write of a key after an earlier one (the sort is stable)
    const order = Array.from({ length: keys.length }, (_, i) => i);
    order.sort((a, b) => {
      const ka = keys[a]!;
      const kb = keys[b]!;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    const outKeys: string[] = [];
    const outAt: number[] = [];
    const outLen: number[] = [];
    const deleted: string[] = [];
    for (let i = 0; i < order.length; i++) {
      const o = order[i]!;
      const k = keys[o]!;
      if (i + 1 < order.length && keys[order[i + 1]!] === k) continue; // the last write of k wins
      if (len[o]! < 0) {
        deleted.push(k);
        continue;
      }
      outKeys.push(k);
      outAt.push(at[o]!);
      outLen.push(len[o]!);
    }
    if (this.#keys.length === 0 && this.#delta.size === 0) {
      // a replay into an empty index: deletes only undid earlier writes of the load
      this.#keys = outKeys;
      this.#at = Float64Array.from(outAt);
      this.#len = Uint32Array.from(outLen);
      return;
    }
    for (let i = 0; i < outKeys.length; i++) this.#delta.set(outKeys[i]!, { at: outAt[i]!, len: outLen[i]! });
    this.#deltaKeys = undefined;
    this.#merge();
    for (const k of deleted) this.del(k);
  }

  del(key: string): void {
    if (this.#load) {
      this.#load.keys.push(key);
      this.#load.at.push(0);
      this.#load.len.push(-1);
      return;
    }
    if (this.#find(key) >= 0) {
      if (!this.#delta.has(key)) this.#deltaKeys = undefined;
      this.#delta.set(key, null);
    } else if (this.#delta.delete(key)) this.#deltaKeys = undefined;
  }

  #sortedDelta(): string[] {
    return (this.#deltaKeys ??= [...this.#delta.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Folds the changes into a new sorted array. */
  #merge(): void {
    const dk = this.#sortedDelta();
    const n = this.#keys.length;
    const keys: string[] = [];
    const at = new Float64Array(n + dk.length);
    const len = new Uint32Array(n + dk.length);
    let i = 0;
    let j = 0;
    while (i < n || j < dk.length) {
      if (j >= dk.length || (i < n && this.#keys[i]! < dk[j]!)) {
        at[keys.length] = this.#at[i]!;
        len[keys.length] = this.#len[i]!;
        keys.push(this.#keys[i++]!);
        continue;
      }
      if (i < n && this.#keys[i] === dk[j]) i++;
      const c = this.#delta.get(dk[j]!);
      if (c) {
        at[keys.length] = c.at;
        len[keys.length] = c.len;
        keys.push(dk[j]!);
      }
      j++;
    }
    this.#keys = keys;
    this.#at = at.slice(0, keys.length);
    this.#len = len.slice(0, keys.length);
    this.#delta = new Map();
    this.#deltaKeys = [];
  }

  /** Entries within the bounds in key order (or reverse). */
  *range(lower: Bound | undefined, upper: Bound | undefined, reverse: boolean): Generator<SortedEntry> {
    const keys = this.#keys;
    const dk = this.#sortedDelta();
    const start = (arr: string[]): number => {
      if (!lower) return 0;
      const i = lowerBound(arr, lower.key);
      return lower.open && arr[i] === lower.key ? i + 1 : i;
    };
    const end = (arr: string[]): number => {
      if (!upper) return arr.length;
      const i = lowerBound(arr, upper.key);
      return !upper.open && arr[i] === upper.key ? i + 1 : i;
    };
    const [a0, a1, b0, b1] = [start(keys), end(keys), start(dk), end(dk)];
    let i = reverse ? a1 - 1 : a0;
    let j = reverse ? b1 - 1 : b0;
    const step = reverse ? -1 : 1;
    const inA = (): boolean => (reverse ? i >= a0 : i < a1);
    const inB = (): boolean => (reverse ? j >= b0 : j < b1);
    while (inA() || inB()) {
      const ka = inA() ? keys[i] : undefined;
      const kb = inB() ? dk[j] : undefined;
      const takeA = kb === undefined || (ka !== undefined && (reverse ? ka > kb : ka < kb));
      if (takeA) {
        yield { key: ka!, at: this.#at[i]!, len: this.#len[i]! };
        i += step;
        continue;
      }
      if (ka === kb) i += step;
      const c = this.#delta.get(kb);
      j += step;
      if (c) yield { key: kb, at: c.at, len: c.len };
    }
  }

  /** Approximate bytes held: key strings (V8 header + bytes, 8-byte aligned), slots and pointers. */
  get bytes(): number {
    let b = this.#keys.length * (8 + 12) + this.#delta.size * 120;
    for (const k of this.#keys) b += (12 + k.length + 7) & ~7;
    return b;
  }
}
