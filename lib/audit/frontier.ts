// The right frontier of a chunk's subtree while its leaves are appended: merkle's CompactRange
// for the audit's hot loop, over hash strings (sha.ts) and without CompactRange's copies.
import { nodeHashString } from './sha';

/** The hash of a subtree with a leaf whose hash is unknown: its parents are unknown too (until a stored node supplies one). */
export const UNKNOWN = '\0'.repeat(32);

export class Frontier {
  #size: number;
  readonly #hashes: string[];

  /** `hashes`: the perfect subtrees covering [0, size), largest first. */
  constructor(size: number, hashes: string[]) {
    let expected = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) expected += s % 2;
    if (hashes.length !== expected) throw new RangeError(`a frontier of ${size} leaves has ${expected} hashes, got ${hashes.length}`);
    this.#size = size;
    this.#hashes = [...hashes];
  }

  /** The perfect subtree roots, largest first. */
  hashes(): string[] {
    return [...this.#hashes];
  }

  /**
   * Appends a leaf hash; `node` sees each perfect node above level 0 it completes (level, index
   * within the subtree), and may return another hash to build on in its place (the audit's
   * choice between two copies of a leaf, decided by the stored node over it).
   */
  append(leaf: string, node: (level: number, index: number, hash: string) => string | undefined): void {
    let index = this.#size;
    let level = 0;
    let hash = leaf;
    while (index % 2 === 1) {
      const left = this.#hashes.pop() as string;
      hash = left === UNKNOWN || hash === UNKNOWN ? UNKNOWN : nodeHashString(left, hash);
      level++;
      index = (index - 1) / 2;
      hash = node(level, index, hash) ?? hash;
    }
    this.#hashes.push(hash);
    this.#size++;
  }
}
