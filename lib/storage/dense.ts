// Dense key families of the file store's index: keys `prefix || u64(i)` with i < 2^32 (records
// `r`, Merkle nodes `n`+level, blocks `b`; see lib/ledger/layout.ts). A slot is a value's place
// in the segment files held in typed arrays (12 bytes), in chunks of 4096 slots allocated on
// first use. Chunks are shared with snapshots and copied before a write touches a shared one.

const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const FIRST_CAPACITY = 16;

export interface Chunk {
  /** segment * 2^32 + offset of each value */
  at: Float64Array;
  /** value length + 1; 0 = no value */
  len: Uint32Array;
}

/** Where a value lies; filled in by the lookups. */
export interface Loc {
  at: number;
  len: number;
}

function grow(c: Chunk, slot: number): Chunk {
  let cap = c.at.length;
  while (cap <= slot) cap *= 2;
  const at = new Float64Array(Math.min(cap, CHUNK));
  const len = new Uint32Array(at.length);
  at.set(c.at);
  len.set(c.len);
  return { at, len };
}

export class DenseFamily {
  readonly prefix: Buffer;
  readonly #frozen: WeakSet<Chunk>;
  #chunks: (Chunk | undefined)[];

  constructor(prefix: Buffer, frozen: WeakSet<Chunk>, chunks: (Chunk | undefined)[] = []) {
    this.prefix = prefix;
    this.#frozen = frozen;
    this.#chunks = chunks;
  }

  /** A copy sharing every chunk, which becomes copy-on-write for both. */
  share(): DenseFamily {
    for (const c of this.#chunks) if (c) this.#frozen.add(c);
    return new DenseFamily(this.prefix, this.#frozen, this.#chunks.slice());
  }

  keyOf(i: number): Buffer {
    const p = this.prefix.length;
    const key = Buffer.allocUnsafe(p + 8);
    this.prefix.copy(key, 0);
    key.writeUInt32BE(0, p);
    key.writeUInt32BE(i, p + 4);
    return key;
  }

  get(i: number, out: Loc): boolean {
    const c = this.#chunks[i >>> CHUNK_BITS];
    const slot = i & (CHUNK - 1);
    if (!c || slot >= c.len.length || c.len[slot] === 0) return false;
    out.at = c.at[slot]!;
    out.len = c.len[slot]! - 1;
    return true;
  }

  #writable(i: number): { c: Chunk; slot: number } {
    const n = i >>> CHUNK_BITS;
    const slot = i & (CHUNK - 1);
    let c = this.#chunks[n];
    if (!c) c = { at: new Float64Array(FIRST_CAPACITY), len: new Uint32Array(FIRST_CAPACITY) };
    if (slot >= c.at.length) c = grow(c, slot);
    else if (this.#frozen.has(c)) c = { at: c.at.slice(), len: c.len.slice() };
    this.#chunks[n] = c;
    return { c, slot };
  }

  set(i: number, at: number, len: number): void {
    const { c, slot } = this.#writable(i);
    c.at[slot] = at;
    c.len[slot] = len + 1;
  }

  del(i: number): void {
    const c = this.#chunks[i >>> CHUNK_BITS];
    const slot = i & (CHUNK - 1);
    if (!c || slot >= c.len.length || c.len[slot] === 0) return;
    this.#writable(i).c.len[slot] = 0;
  }

  /** Indexes of present slots in [lo, hi), ascending or descending. */
  *slots(lo: number, hi: number, reverse: boolean): Generator<number> {
    if (lo >= hi) return;
    const first = Math.floor(lo / CHUNK);
    const last = Math.floor((hi - 1) / CHUNK);
    for (let n = reverse ? last : first; reverse ? n >= first : n <= last; reverse ? n-- : n++) {
      const c = this.#chunks[n];
      if (!c) continue;
      const base = n * CHUNK;
      const from = Math.max(lo - base, 0);
      const to = Math.min(hi - base, c.len.length);
      if (reverse) {
        for (let s = to - 1; s >= from; s--) if (this.#chunks[n]!.len[s] !== 0) yield base + s;
      } else {
        for (let s = from; s < to; s++) if (this.#chunks[n]!.len[s] !== 0) yield base + s;
      }
    }
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    let b = 0;
    for (const c of this.#chunks) if (c) b += c.at.byteLength + c.len.byteLength;
    return b + this.#chunks.length * 8;
  }
}
