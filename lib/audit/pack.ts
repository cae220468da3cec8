// Entries (index, value bytes) packed into flat arrays, so a chunk of work crosses to a
// worker thread as three transferred buffers instead of thousands of cloned objects.
import { GrowingBytes } from '../encoding/growing-bytes';

/** One section of a pack: entry i is (ids[i], data[offsets[i], offsets[i + 1])). */
export interface Packed {
  ids: Float64Array;
  offsets: Uint32Array;
  data: Uint8Array;
}

/** Builds consecutive sections that share three buffers. */
export class PackBuilder {
  #ids = new Float64Array(1024);
  #offsets = new Uint32Array(1025);
  #data = new GrowingBytes();
  #count = 0;
  #sections: number[] = [];

  /** Starts the next section. */
  section(): this {
    this.#sections.push(this.#count);
    return this;
  }

  push(id: number, value: Uint8Array): void {
    if (this.#count + 1 >= this.#ids.length) {
      const ids = new Float64Array(this.#ids.length * 2);
      ids.set(this.#ids);
      this.#ids = ids;
      const offsets = new Uint32Array(ids.length + 1);
      offsets.set(this.#offsets);
      this.#offsets = offsets;
    }
    this.#ids[this.#count] = id;
    this.#offsets[this.#count] = this.#data.length;
    this.#data.append(value);
    this.#count++;
  }

  /** The sections, in the order they were started. */
  build(): Packed[] {
    this.#offsets[this.#count] = this.#data.length;
    const data = this.#data.backing;
    return this.#sections.map((from, s) => {
      const to = this.#sections[s + 1] ?? this.#count; // the last section ends with the pack
      return { ids: this.#ids.subarray(from, to), offsets: this.#offsets.subarray(from, to + 1), data };
    });
  }
}

/** The value of entry `i`; an `i` outside the section is a RangeError (a caller bug: loop over p.ids). */
export function packedValue(p: Packed, i: number): Uint8Array {
  const from = p.offsets[i];
  const to = p.offsets[i + 1];
  if (from === undefined || to === undefined) throw new RangeError(`entry ${i} is outside a section of ${p.ids.length}`);
  return p.data.subarray(from, to);
}

/** The distinct buffers to transfer with a message carrying these packs. */
export function transferList(packs: Packed[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const p of packs) for (const a of [p.ids, p.offsets, p.data]) out.add(a.buffer as ArrayBuffer);
  return [...out];
}
