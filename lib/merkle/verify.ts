/**
 * RFC 9162 proof checking: the inclusion (§2.1.3.2) and consistency
 * (§2.1.4.2) verification algorithms. The `check*` functions never throw and
 * say why a proof failed; `verify*` are their boolean forms.
 */
import { bytesEqual } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { half, isCount, isHash, isHashList, isOdd, isPowerOfTwo } from './arith';
import { EMPTY_ROOT, nodeHash } from './hash';

/** The outcome of checking a proof: ok, or the reason it failed (for people, not for parsing). */
export type ProofCheck = { ok: true } | { ok: false; reason: string };

const OK: ProofCheck = Object.freeze({ ok: true });
const fail = (reason: string): ProofCheck => ({ ok: false, reason });

/** Whether `proof` proves `leafHash` is entry `index` of the tree of `treeSize` entries with `root`, and if not, why. Never throws. */
export function checkInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: Uint8Array[],
  root: Uint8Array,
): ProofCheck {
  if (!isHash(root)) return fail('root must be 32 bytes');
  const computed = inclusionRoot(leafHash, index, treeSize, proof);
  if (typeof computed === 'string') return fail(computed);
  return bytesEqual(computed, root) ? OK : fail('the proof leads to a different root');
}

/** True when `proof` proves `leafHash` is entry `index` of the tree of `treeSize` entries with `root`. Never throws. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  return checkInclusion(leafHash, index, treeSize, proof, root).ok;
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
  const computed = inclusionRoot(leafHash, index, treeSize, proof);
  if (typeof computed === 'string') throw new LedgerError('ERR_MALFORMED_PROOF', computed);
  return computed;
}

/** The root an inclusion proof leads to, or why the inputs cannot form a proof. */
function inclusionRoot(leafHash: Uint8Array, index: number, treeSize: number, proof: Uint8Array[]): Uint8Array | string {
  if (!isHash(leafHash)) return 'leaf hash must be 32 bytes';
  if (!isCount(index) || !isCount(treeSize)) return 'index and tree size must be non-negative safe integers';
  if (!isHashList(proof)) return 'proof must be an array of 32-byte hashes';
  // 1. leaf_index must be below tree_size.
  if (index >= treeSize) return `index ${index} is not below tree size ${treeSize}`;
  // 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  // 4. For each value p in the inclusion path:
  for (const p of proof) {
    // a. the path is longer than the tree is deep.
    if (sn === 0) return 'inclusion proof is too long';
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
  if (sn !== 0) return 'inclusion proof is too short';
  return r;
}

/**
 * Whether `proof` shows that the tree of `size1` entries with `root1` is a
 * prefix of the tree of `size2` entries with `root2`, and if not, why. Never
 * throws.
 *
 * Equal sizes need an empty proof and equal roots (the empty tree's root is
 * EMPTY_ROOT). Every tree extends the empty one, so from size 0 the proof is
 * empty (RFC 9162 defines proof paths for 0 < size1 only; C2SP tlog-witness
 * requires an empty proof from old size 0) and root1 must be EMPTY_ROOT.
 */
export function checkConsistency(
  size1: number,
  size2: number,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): ProofCheck {
  if (!isCount(size1) || !isCount(size2)) return fail('sizes must be non-negative safe integers');
  if (size1 > size2) return fail(`the first size ${size1} is larger than the second ${size2}`);
  if (!isHash(root1) || !isHash(root2)) return fail('roots must be 32 bytes');
  if (!isHashList(proof)) return fail('proof must be an array of 32-byte hashes');
  if (size1 === size2) {
    if (proof.length !== 0) return fail('a proof between equal sizes must be empty');
    if (!bytesEqual(root1, root2)) return fail('equal sizes with different roots');
    if (size1 === 0 && !bytesEqual(root1, EMPTY_ROOT)) return fail('the empty tree has a different root');
    return OK;
  }
  if (size1 === 0) {
    if (proof.length !== 0) return fail('a proof from the empty tree must be empty');
    return bytesEqual(root1, EMPTY_ROOT) ? OK : fail('the empty tree has a different root');
  }
  return consistencyPath(size1, size2, proof, root1, root2);
}

/** True when `proof` shows that the tree of `size1` entries with `root1` is a prefix of the tree of `size2` entries with `root2`. Never throws. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  return checkConsistency(size1, size2, proof, root1, root2).ok;
}

/** RFC 9162 §2.1.4.2 for 0 < size1 < size2, with well-formed inputs. */
function consistencyPath(
  size1: number,
  size2: number,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): ProofCheck {
  // 1. An empty path fails.
  if (proof.length === 0) return fail('consistency proof is empty');
  // 2. If first is an exact power of 2, prepend first_hash to the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  // 3. fn = first - 1, sn = second - 1.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // 4. If LSB(fn) is set, right-shift both until it is not.
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  // 5. fr = sr = path[0].
  const [first, ...rest] = path;
  if (!first) return fail('consistency proof is empty');
  let fr = first;
  let sr = first;
  // 6. For each subsequent value c in the path:
  for (const c of rest) {
    // a. the path is longer than the tree is deep.
    if (sn === 0) return fail('consistency proof is too long');
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
  if (sn !== 0) return fail('consistency proof is too short');
  if (!bytesEqual(fr, root1)) return fail('the proof leads to a different first root');
  if (!bytesEqual(sr, root2)) return fail('the proof leads to a different second root');
  return OK;
}
