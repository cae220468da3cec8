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
/** Marks a constructor call from inside this module, with hashes already checked and owned. */
const OWNED = Symbol('owned');

export class CompactRange {
  #size: number;
  #hashes: Uint8Array[];

  constructor(size = 0, hashes: Uint8Array[] = [], owned?: typeof OWNED) {
    if (owned === OWNED) {
      this.#size = size;
      this.#hashes = hashes;
      return;
    }
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

  /** An independent copy: appending to either leaves the other as it was. */
  clone(): CompactRange {
    // The hashes themselves are never changed in place (append pushes new arrays), so they are shared.
    return new CompactRange(this.#size, this.#hashes.slice(), OWNED);
  }

  /**
   * append() for a caller that hands over `leafHash` (a 32-byte array it no longer changes) and
   * whose `visit` only reads the hashes it is shown (level, index within the level, hash)
   * during the call: no copies, no node ids.
   */
  appendOwned(leafHash: Uint8Array, visit: (level: number, index: number, hash: Uint8Array) => void): void {
    if (leafHash.length !== 32) throw invalid('leaf hash must be 32 bytes');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw invalid('tree is full');
    let level = 0;
    let index = this.#size;
    let hash = leafHash;
    visit(0, index, hash);
    while (isOdd(index)) {
      hash = nodeHash(this.#hashes.pop() as Uint8Array, hash);
      level += 1;
      index = half(index);
      visit(level, index, hash);
    }
    this.#hashes.push(hash);
    this.#size += 1;
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
