// Entries (index, value bytes) packed into three flat arrays, so a batch crosses to a
// worker thread as transferred buffers instead of thousands of cloned objects.

export interface Packed {
  ids: Float64Array;
  /** offsets[i]..offsets[i+1] is entry i's value in data. */
  offsets: Uint32Array;
  data: Uint8Array;
}

export class PackBuilder {
  #ids: number[] = [];
  #values: Uint8Array[] = [];
  #bytes = 0;

  get length(): number {
    return this.#ids.length;
  }

  push(id: number, value: Uint8Array): void {
    this.#ids.push(id);
    this.#values.push(value);
    this.#bytes += value.length;
  }

  build(): Packed {
    const n = this.#ids.length;
    const ids = Float64Array.from(this.#ids);
    const offsets = new Uint32Array(n + 1);
    const data = new Uint8Array(this.#bytes);
    let at = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = at;
      data.set(this.#values[i], at);
      at += this.#values[i].length;
    }
    offsets[n] = at;
    return { ids, offsets, data };
  }
}

export function packedValue(p: Packed, i: number): Uint8Array {
  return p.data.subarray(p.offsets[i], p.offsets[i + 1]);
}

/** The buffers to transfer with a message carrying these packs. */
export function transferList(packs: Packed[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const p of packs) out.push(p.ids.buffer as ArrayBuffer, p.offsets.buffer as ArrayBuffer, p.data.buffer as ArrayBuffer);
  return out;
}
