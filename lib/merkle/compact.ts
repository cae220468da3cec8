/**
 * The compact range: the right frontier of an append-only Merkle tree, the
 * O(log size) perfect-subtree roots needed to append and to compute MTH.
 */
import { checkHashes, half, invalid, isCount, isHash, isOdd } from './arith';
import { EMPTY_ROOT, foldRight, nodeHash } from './hash';
import { rangeNodes, type NodeId } from './proof';

/**
 * The roots of the perfect subtrees covering [0, size), largest first.
 * `append` reports every perfect node it completes, so a store that saves
 * them holds everything rootPlan, inclusionPlan and consistencyPlan ask for.
 */
export class CompactRange {
  #size: number;
  #hashes: Uint8Array[];

  constructor(size = 0, hashes: Uint8Array[] = []) {
    if (!isCount(size)) throw invalid(`size must be a non-negative safe integer, got ${String(size)}`);
    checkHashes(hashes, rangeNodes(0, size).length);
    this.#size = size;
    this.#hashes = hashes.map((h) => h.slice());
  }

  get size(): number {
    return this.#size;
  }

  /** The perfect subtree roots, largest first (the hashes of rootPlan(size).ids). */
  hashes(): Uint8Array[] {
    return this.#hashes.map((h) => h.slice());
  }

  /** Adds the next leaf hash, merging completed perfect subtrees; `visit` sees the leaf and each new node. */
  append(leafHash: Uint8Array, visit?: (id: NodeId, hash: Uint8Array) => void): void {
    if (!isHash(leafHash)) throw invalid('leaf hash must be 32 bytes');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw invalid('tree is full');
    let id: NodeId = { level: 0, index: this.#size };
    let hash: Uint8Array = leafHash.slice();
    visit?.(id, hash.slice());
    // A right child completes its parent: merge with the left sibling on the stack.
    while (isOdd(id.index)) {
      hash = nodeHash(this.#hashes.pop() as Uint8Array, hash);
      id = { level: id.level + 1, index: half(id.index) };
      visit?.(id, hash.slice());
    }
    this.#hashes.push(hash);
    this.#size += 1;
  }

  /** MTH of the leaves appended so far; EMPTY_ROOT for none. */
  root(): Uint8Array {
    return this.#size === 0 ? EMPTY_ROOT.slice() : foldRight(this.#hashes);
  }
}
