/**
 * RFC 9162 §2.1.1 hashing: leaf and interior node hashes and the tree head
 * MTH over an in-memory list of leaf hashes.
 */
import { sha256 } from '../crypto/hash';
import { invalid, largestPowerOfTwoBelow } from './arith';

export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** The hash of a leaf entry: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, data);
}

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** MTH({}) = SHA-256(): the root of the empty tree. Treat as read-only. */
export const EMPTY_ROOT: Uint8Array = sha256();

/** MTH(D[n]) of a list of leaf hashes (the hashes, not the entries). */
export function rootFromLeafHashes(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT.slice();
  return subtreeHash(leaves, 0, leaves.length);
}

/** MTH(D[lo:hi]) for hi > lo: split at the largest power of two below the size. */
export function subtreeHash(leaves: Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leafAt(leaves, lo);
  const k = largestPowerOfTwoBelow(hi - lo);
  return nodeHash(subtreeHash(leaves, lo, lo + k), subtreeHash(leaves, lo + k, hi));
}

/** The hash of the tree whose perfect subtrees, largest first, are `hashes`: fold from the right. */
export function foldRight(hashes: Uint8Array[]): Uint8Array {
  let h = leafAt(hashes, hashes.length - 1);
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(leafAt(hashes, i), h);
  return h;
}

/** list[i], which the callers' bounds guarantee; a hole is a caller's error, not a hash. */
function leafAt(list: Uint8Array[], i: number): Uint8Array {
  const h = list[i];
  if (h === undefined) throw invalid(`no hash at position ${i} of ${list.length}`);
  return h;
}
