// A run of missing records: the hashes over it are the stored nodes that tile it, a few
// per level whatever the run's length (docs/AUDIT.md "The work follows what is stored").
import { nodeHash, type NodeId } from '../merkle';

/** The aligned perfect subtrees that tile leaves [from, to), in order (at most two per level). */
export function tiles(from: number, to: number): NodeId[] {
  const out: NodeId[] = [];
  for (let at = from; at < to; ) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= to) level++;
    out.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/**
 * A tree's right frontier (the hashes of rootPlan(size).ids) grown by whole aligned subtrees
 * instead of leaves, as CompactRange.append merges them. Undefined: unknown, and so is every
 * parent of it.
 */
export class SubtreeFrontier {
  readonly hashes: (Uint8Array | undefined)[];

  constructor(hashes: readonly Uint8Array[]) {
    this.hashes = hashes.slice();
  }

  /** Appends subtree `id`, which starts where the tree ends; `merged` sees each parent it completes. */
  append(id: NodeId, hash: Uint8Array | undefined, merged?: (id: NodeId, hash: Uint8Array | undefined) => void): void {
    let { level, index } = id;
    let h = hash;
    // A right child completes its parent: its left sibling is the frontier's last subtree.
    while (index % 2 === 1) {
      const left = this.hashes.pop();
      h = left && h && nodeHash(left, h);
      level += 1;
      index = (index - 1) / 2;
      merged?.({ level, index }, h);
    }
    this.hashes.push(h);
  }

  /** The subtree hashes when all are known. */
  known(): Uint8Array[] | undefined {
    const hashes = this.hashes;
    return hashes.every((h) => h !== undefined) ? hashes : undefined;
  }
}
