/**
 * RFC 9162 proof building: the audit path PATH (§2.1.3.1) and the
 * consistency proof PROOF (§2.1.4.1), directly over a list of leaf hashes,
 * and as "plans" naming the stored perfect subtrees a proof is made of.
 */
import { bitLength, checkHashes, checkIndex, checkSize, checkSizes, half, invalid, isCount, isOdd, largestPowerOfTwoBelow, trailingZeros } from './arith';
import { EMPTY_ROOT, foldRight, subtreeHash } from './hash';

// ---------------------------------------------------------------------------
// Over an in-memory list of leaf hashes

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
 * the first `size2`. Empty when the sizes are equal, and from size1 = 0: every
 * tree extends the empty one (RFC 9162 has proof paths for 0 < size1 only;
 * C2SP tlog-witness asks for an empty proof from old size 0).
 */
export function consistencyProof(leaves: Uint8Array[], size1: number, size2: number = leaves.length): Uint8Array[] {
  checkSize(size2, leaves.length);
  checkSizes(size1, size2);
  if (size1 === size2 || size1 === 0) return [];
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
// From stored perfect subtrees

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
 * root of the second tree. Empty when the sizes are equal or size1 is 0 (see
 * consistencyProof).
 */
export function consistencyPlan(size1: number, size2: number): ProofPlan {
  checkSizes(size1, size2);
  if (size1 === size2 || size1 === 0) return plan([]);
  const level = trailingZeros(size1);
  const last: NodeId = { level, index: size1 / 2 ** level - 1 };
  const siblings = siblingsPlan(last, size2);
  if (last.index === 0) return siblings;
  return plan([last, ...siblings.ids], siblings.ephemeral && shift(siblings.ephemeral, 1));
}

/** A plan whose `rehash` gives exactly one hash: the tree head. */
export interface RootPlan extends ProofPlan {
  rehash(hashes: Uint8Array[]): [Uint8Array];
}

/** The perfect subtrees covering [0, size), largest first; `rehash` returns [MTH]. */
export function rootPlan(size: number): RootPlan {
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
export function rangeNodes(begin: number, end: number): NodeId[] {
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
