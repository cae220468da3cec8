// The right frontier of a chunk's subtree while its leaves are appended: merkle's CompactRange
// without its defensive copies and checks, for the audit's hot loop. The hashes it holds and
// hands out are never written to (each is a fresh digest or a caller's hash).
import { nodeHashOnce } from './sha';

export class Frontier {
  #size: number;
  readonly #hashes: Uint8Array[];

  /** `hashes`: the perfect subtrees covering [0, size), largest first. */
  constructor(size: number, hashes: Uint8Array[]) {
    let expected = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) expected += s % 2;
    if (hashes.length !== expected) throw new RangeError(`a frontier of ${size} leaves has ${expected} hashes, got ${hashes.length}`);
    this.#size = size;
    this.#hashes = [...hashes];
  }

  /** The perfect subtree roots, largest first (a new array; the hashes are shared, read-only). */
  hashes(): Uint8Array[] {
    return [...this.#hashes];
  }

  /** Appends a leaf hash; `node` sees each perfect node above level 0 it completes (level, index within the subtree). */
  append(leaf: Uint8Array, node: (level: number, index: number, hash: Uint8Array) => void): void {
    let index = this.#size;
    let level = 0;
    let hash = leaf;
    while (index % 2 === 1) {
      hash = nodeHashOnce(this.#hashes.pop() as Uint8Array, hash);
      level++;
      index = (index - 1) / 2;
      node(level, index, hash);
    }
    this.#hashes.push(hash);
    this.#size++;
  }
}
