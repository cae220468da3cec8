/**
 * Values appended one after another into one buffer that doubles as it fills: one allocation
 * per doubling instead of one per value, so many small values cross to another thread as one
 * transferable buffer.
 */
export class GrowingBytes {
  #buf: Uint8Array;
  #used = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = new Uint8Array(initialBytes);
  }

  /** Bytes appended so far. */
  get length(): number {
    return this.#used;
  }

  /** Appends `value`; returns the offset where it ends. */
  append(value: Uint8Array): number {
    if (this.#used + value.length > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(this.#buf.length * 2, this.#used + value.length));
      bigger.set(this.#buf.subarray(0, this.#used));
      this.#buf = bigger;
    }
    this.#buf.set(value, this.#used);
    this.#used += value.length;
    return this.#used;
  }

  /** The current backing array, bytes past `length` unused; replaced by the next append that grows it. */
  get backing(): Uint8Array {
    return this.#buf;
  }

  /** The bytes appended, copied into an ArrayBuffer of their own length. */
  copy(): ArrayBuffer {
    const out = new ArrayBuffer(this.#used);
    new Uint8Array(out).set(this.#buf.subarray(0, this.#used));
    return out;
  }
}
