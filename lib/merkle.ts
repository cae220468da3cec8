/**
 * RFC 6962 / RFC 9162 Merkle tree hashing and proofs.
 *
 * The ledger is one append-only Merkle tree whose leaves are records. Three
 * jobs are kept apart, as in the RFC:
 *   - hashing: leaf and interior node hashes, the tree head (MTH);
 *   - proof building: the audit path (PATH) and consistency proof (PROOF),
 *     both directly over a list of leaf hashes and as "plans" naming the
 *     stored perfect subtrees a proof is made of;
 *   - proof checking: the verification algorithms of RFC 9162 §2.1.3.2 and
 *     §2.1.4.2, which never throw.
 *
 * Sizes and indexes are JS numbers; every value up to 2^53 - 1 works, so no
 * bitwise operators (32-bit in JS) are used on them.
 */
import { bytesEqual } from './encoding/bytes';
import { LedgerError } from './errors';
import { sha256 } from './crypto/hash';

export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

// ---------------------------------------------------------------------------
// Hashing (RFC 9162 §2.1.1)

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
function subtreeHash(leaves: Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leaves[lo];
  const k = largestPowerOfTwoBelow(hi - lo);
  return nodeHash(subtreeHash(leaves, lo, lo + k), subtreeHash(leaves, lo + k, hi));
}

// ---------------------------------------------------------------------------
// Proof checking (RFC 9162 §2.1.3.2 and §2.1.4.2)

/** True when `proof` proves `leafHash` is entry `index` of the tree of `treeSize` entries with `root`. Never throws. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  const computed = tryRootFromInclusionProof(leafHash, index, treeSize, proof);
  return computed !== undefined && bytesEqual(computed, root);
}

/**
 * The root that an inclusion proof leads to (RFC 9162 §2.1.3.2, steps 1-4
 * and the size check of step 5). Throws ERR_MALFORMED_PROOF when the inputs
 * cannot form a proof: hashes that are not 32 bytes, index >= size, or a
 * proof of the wrong length.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: Uint8Array[],
): Uint8Array {
  if (!isHash(leafHash)) throw malformed('leaf hash must be 32 bytes');
  if (!isCount(index) || !isCount(treeSize)) throw malformed('index and tree size must be non-negative safe integers');
  if (!isHashList(proof)) throw malformed('proof must be an array of 32-byte hashes');
  // 1. leaf_index must be below tree_size.
  if (index >= treeSize) throw malformed(`index ${index} is not below tree size ${treeSize}`);
  // 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  // 4. For each value p in the inclusion path:
  for (const p of proof) {
    // a. the path is longer than the tree is deep.
    if (sn === 0) throw malformed('inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      // b. p is the left sibling; skip the levels where our node has no right sibling.
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      // p is the right sibling.
      r = nodeHash(r, p);
    }
    // c. one level up.
    [fn, sn] = [half(fn), half(sn)];
  }
  // 5. (size part) the path must reach the root.
  if (sn !== 0) throw malformed('inclusion proof is too short');
  return r;
}

function tryRootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: Uint8Array[],
): Uint8Array | undefined {
  try {
    return rootFromInclusionProof(leafHash, index, treeSize, proof);
  } catch {
    return undefined;
  }
}

/**
 * True when `proof` shows that the tree of `size1` entries with `root1` is a
 * prefix of the tree of `size2` entries with `root2`. Never throws.
 *
 * Equal sizes need an empty proof and equal roots (the empty tree's root is
 * EMPTY_ROOT). There is no proof from the empty tree to a larger one: that
 * case is rejected, as in RFC 9162, which defines proofs for 0 < size1.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    if (!isCount(size1) || !isCount(size2) || size1 > size2) return false;
    if (!isHash(root1) || !isHash(root2) || !isHashList(proof)) return false;
    if (size1 === size2) return proof.length === 0 && bytesEqual(root1, root2) && (size1 > 0 || bytesEqual(root1, EMPTY_ROOT));
    if (size1 === 0) return false;
    return checkConsistencyPath(size1, size2, proof, root1, root2);
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2 for 0 < size1 < size2, with well-formed inputs. */
function checkConsistencyPath(
  size1: number,
  size2: number,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  // 1. An empty path fails.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash to the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // 3. fn = first - 1, sn = second - 1.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // 4. If LSB(fn) is set, right-shift both until it is not.
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  // 5. fr = sr = path[0].
  let fr = path[0];
  let sr = path[0];
  // 6. For each subsequent value c in the path:
  for (const c of path.slice(1)) {
    // a. the path is longer than the tree is deep.
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      // b. c is a left sibling in both trees.
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      // c is a right sibling, only in the second tree.
      sr = nodeHash(sr, c);
    }
    // c. one level up.
    [fn, sn] = [half(fn), half(sn)];
  }
  // 7. Both roots match and the path reached the top.
  return sn === 0 && bytesEqual(fr, root1) && bytesEqual(sr, root2);
}

// ---------------------------------------------------------------------------
// Proof building over an in-memory list of leaf hashes (RFC 9162 §2.1.3.1, §2.1.4.1)

/** The inclusion proof (audit path) of entry `index` in the tree of the first `size` leaves. */
export function inclusionProof(leaves: Uint8Array[], index: number, size: number = leaves.length): Uint8Array[] {
  checkSize(size, leaves.length);
  checkIndex(index, size);
  return auditPath(leaves, index, 0, size);
}

/** PATH(m, D[lo:hi]): the siblings from the leaf up to MTH(D[lo:hi]). */
function auditPath(leaves: Uint8Array[], m: number, lo: number, hi: number): Uint8Array[] {
  if (hi - lo === 1) return [];
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m < k) return [...auditPath(leaves, m, lo, lo + k), subtreeHash(leaves, lo + k, hi)];
  return [...auditPath(leaves, m - k, lo + k, hi), subtreeHash(leaves, lo, lo + k)];
}

/**
 * The consistency proof from the tree of the first `size1` leaves to that of
 * the first `size2`. Empty when the sizes are equal; throws
 * ERR_INVALID_ARGUMENT for size1 = 0 < size2, which has no proof.
 */
export function consistencyProof(leaves: Uint8Array[], size1: number, size2: number = leaves.length): Uint8Array[] {
  checkSize(size2, leaves.length);
  checkSizes(size1, size2);
  if (size1 === size2) return [];
  return subproof(leaves, size1, 0, size2, true);
}

/** SUBPROOF(m, D[lo:hi], b). */
function subproof(leaves: Uint8Array[], m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
  if (m === hi - lo) return b ? [] : [subtreeHash(leaves, lo, hi)];
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m <= k) return [...subproof(leaves, m, lo, lo + k, b), subtreeHash(leaves, lo + k, hi)];
  return [...subproof(leaves, m - k, lo + k, hi, false), subtreeHash(leaves, lo, lo + k)];
}

// ---------------------------------------------------------------------------
// Proof building from stored perfect subtrees

/** A perfect subtree: the 2^level leaves [index * 2^level, (index + 1) * 2^level). Level 0 = leaf hashes. */
export interface NodeId {
  level: number;
  index: number;
}

/**
 * The stored perfect-subtree hashes a proof is made of (`ids`), and how to
 * turn them, fetched in the same order, into the proof: `rehash` folds the
 * run of ids that make up an ephemeral node (a right-edge subtree that is not
 * perfect) into that node's hash and keeps the others as they are.
 */
export interface ProofPlan {
  ids: NodeId[];
  rehash(hashes: Uint8Array[]): Uint8Array[];
}

/** The plan for the inclusion proof of entry `index` in the tree of `size` entries. */
export function inclusionPlan(index: number, size: number): ProofPlan {
  checkIndex(index, size);
  return siblingsPlan({ level: 0, index }, size);
}

/**
 * The plan for the consistency proof from `size1` to `size2` entries: the
 * largest perfect subtree ending at size1 (left out when it is the whole
 * first tree, i.e. size1 is a power of two), then its siblings up to the
 * root of the second tree. Empty when the sizes are equal; throws
 * ERR_INVALID_ARGUMENT for size1 = 0 < size2.
 */
export function consistencyPlan(size1: number, size2: number): ProofPlan {
  checkSizes(size1, size2);
  if (size1 === size2) return plan([]);
  const level = trailingZeros(size1);
  const last: NodeId = { level, index: size1 / 2 ** level - 1 };
  const siblings = siblingsPlan(last, size2);
  if (last.index === 0) return siblings;
  return plan([last, ...siblings.ids], siblings.ephemeral && shift(siblings.ephemeral, 1));
}

/** The perfect subtrees covering [0, size), largest first; `rehash` returns [MTH]. */
export function rootPlan(size: number): ProofPlan {
  if (!isCount(size)) throw invalid(`size must be a non-negative safe integer, got ${String(size)}`);
  const ids = rangeNodes(0, size);
  return {
    ids,
    rehash: (hashes) => {
      checkHashes(hashes, ids.length);
      return [size === 0 ? EMPTY_ROOT.slice() : foldRight(hashes)];
    },
  };
}

/** [begin, end): the run of ids that rehash folds into one ephemeral node. */
interface Span {
  begin: number;
  end: number;
}

interface Plan extends ProofPlan {
  ephemeral?: Span;
}

function plan(ids: NodeId[], ephemeral?: Span): Plan {
  return {
    ids,
    ephemeral,
    rehash: (hashes) => {
      checkHashes(hashes, ids.length);
      if (!ephemeral) return hashes.slice();
      const { begin, end } = ephemeral;
      return [...hashes.slice(0, begin), foldRight(hashes.slice(begin, end)), ...hashes.slice(end)];
    },
  };
}

function shift(span: Span, by: number): Span {
  return { begin: span.begin + by, end: span.end + by };
}

/**
 * The siblings of `node` and of its ancestors, bottom up, within the tree of
 * `size` leaves. A sibling that starts at or past `size` does not exist (the
 * node is carried up unchanged); one that straddles `size` is ephemeral and
 * is rebuilt from the perfect subtrees covering its part below `size`. At
 * most one sibling straddles: above it the path runs along the right edge.
 */
function siblingsPlan(node: NodeId, size: number): Plan {
  const ids: NodeId[] = [];
  let ephemeral: Span | undefined;
  for (let { level, index } = node; 2 ** level < size; level++, index = half(index)) {
    const sibling = isOdd(index) ? index - 1 : index + 1;
    const width = 2 ** level;
    const begin = sibling * width;
    if (begin >= size) continue;
    if (begin + width <= size) {
      ids.push({ level, index: sibling });
    } else {
      const parts = rangeNodes(begin, size);
      ephemeral = { begin: ids.length, end: ids.length + parts.length };
      ids.push(...parts);
    }
  }
  return plan(ids, ephemeral);
}

/**
 * The perfect subtrees covering [begin, end), largest first. Requires begin
 * to be 0 or a multiple of a power of two larger than end - begin, which is
 * what the right edge of a tree looks like.
 */
function rangeNodes(begin: number, end: number): NodeId[] {
  const ids: NodeId[] = [];
  let at = begin;
  for (let level = bitLength(end - begin) - 1; level >= 0; level--) {
    const width = 2 ** level;
    if (at + width > end) continue;
    ids.push({ level, index: at / width });
    at += width;
  }
  return ids;
}

/** The hash of the tree whose perfect subtrees, largest first, are `hashes`: fold from the right. */
function foldRight(hashes: Uint8Array[]): Uint8Array {
  let h = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i], h);
  return h;
}

// ---------------------------------------------------------------------------
// Compact range: the right frontier of an append-only tree

/**
 * The roots of the perfect subtrees covering [0, size), largest first: all
 * that is needed to append and to compute the root, O(log size) hashes.
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

// ---------------------------------------------------------------------------
// Arithmetic on safe integers (no 32-bit bitwise operators)

const half = (n: number): number => Math.floor(n / 2);
const isOdd = (n: number): boolean => n % 2 === 1;
const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** trailingZeros(n) === n;

function trailingZeros(n: number): number {
  let zeros = 0;
  for (let v = n; v > 0 && !isOdd(v); v = half(v)) zeros++;
  return zeros;
}

/** The number of bits needed to write n (0 for 0). */
function bitLength(n: number): number {
  const high = Math.floor(n / 2 ** 32);
  return high > 0 ? 64 - Math.clz32(high) : 32 - Math.clz32(n);
}

/** The largest power of two strictly below n, for n > 1: the RFC's k. */
function largestPowerOfTwoBelow(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

// ---------------------------------------------------------------------------
// Argument checks

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function isHashList(list: unknown): list is Uint8Array[] {
  return Array.isArray(list) && list.every(isHash);
}

function checkIndex(index: number, size: number): void {
  if (!isCount(index) || !isCount(size) || index >= size) {
    throw invalid(`index ${String(index)} must be a safe integer in [0, ${String(size)})`);
  }
}

function checkSize(size: number, available: number): void {
  if (!isCount(size) || size > available) {
    throw invalid(`size ${String(size)} must be a safe integer in [0, ${available}]`);
  }
}

function checkSizes(size1: number, size2: number): void {
  if (!isCount(size1) || !isCount(size2) || size1 > size2) {
    throw invalid(`sizes ${String(size1)}, ${String(size2)} must be safe integers with size1 <= size2`);
  }
  if (size1 === 0 && size2 > 0) throw invalid('there is no consistency proof from the empty tree');
}

function checkHashes(hashes: Uint8Array[], count: number): void {
  if (!Array.isArray(hashes) || hashes.length !== count) {
    throw invalid(`expected ${count} hashes, got ${Array.isArray(hashes) ? hashes.length : typeof hashes}`);
  }
  if (!hashes.every(isHash)) throw invalid('every hash must be 32 bytes');
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_PROOF', message);
}

function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}
