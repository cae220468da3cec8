import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fc from 'fast-check';
import { fromBase64, fromHex, toHex, utf8 } from '../lib/encoding/bytes';
import { isLedgerError } from '../lib/errors';
import {
  CompactRange,
  EMPTY_ROOT,
  checkConsistency,
  checkInclusion,
  HASH_SIZE,
  NodeId,
  consistencyPlan,
  consistencyProof,
  inclusionPlan,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  rootFromLeafHashes,
  rootPlan,
  verifyConsistency,
  verifyInclusion,
} from '../lib/merkle';
import { listVectors, readVector } from './support/paths';

// ---------------------------------------------------------------------------
// Independent reference: RFC 6962 §2.1 MTH written out over the raw entries,
// with its own hashing, so that lib/merkle is never checked against itself.

function naiveMth(entries: Uint8Array[]): string {
  return toHex(naiveMthBytes(entries));
}

function naiveMthBytes(entries: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  if (entries.length === 0) return h.digest();
  if (entries.length === 1) return h.update(Buffer.from([0x00])).update(entries[0]).digest();
  let k = 1;
  while (k * 2 < entries.length) k *= 2;
  return h
    .update(Buffer.from([0x01]))
    .update(naiveMthBytes(entries.slice(0, k)))
    .update(naiveMthBytes(entries.slice(k)))
    .digest();
}

/** The RFC's k for n > 1, by counting (not the library's bit arithmetic). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The side of each audit-path sibling, bottom up, from the RFC's PATH
 * recursion. A verifier's computation depends only on this shape, so a proof
 * checks under other (index, size) exactly when their shape is the same.
 */
function pathShape(m: number, n: number): string {
  if (n === 1) return '';
  const k = splitPoint(n);
  return m < k ? `${pathShape(m, k)}R` : `${pathShape(m - k, n - k)}L`;
}

/** The same for SUBPROOF: each element is the seed (S), a left sibling in both trees (L) or a right one in the second only (R). */
function subproofShape(m: number, n: number, b: boolean): string {
  if (m === n) return b ? '' : 'S';
  const k = splitPoint(n);
  return m <= k ? `${subproofShape(m, k, b)}R` : `${subproofShape(m - k, n - k, false)}L`;
}

function consistencyShape(size1: number, size2: number): string | undefined {
  if (size1 > size2 || (size1 === 0 && size2 > 0)) return undefined;
  if (size1 === size2) return size1 === 0 ? 'empty' : 'equal';
  return subproofShape(size1, size2, true);
}

const hexes = (list: Uint8Array[]): string[] => list.map(toHex);
const key = (id: NodeId): string => `${id.level}/${id.index}`;

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[Math.floor(bit / 8) % out.length] ^= 1 << bit % 8;
  return out;
}

/** Distinct leaves for a tree identified by `seed`. */
function makeLeaves(seed: number, size: number): Uint8Array[] {
  return Array.from({ length: size }, (_, i) => leafHash(utf8(`tree ${seed} entry ${i}`)));
}

// ---------------------------------------------------------------------------

describe('merkle: RFC 6962 hashing', () => {
  // The reference data set of the certificate-transparency and transparency-dev test suites.
  const ENTRIES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
    fromHex,
  );
  const ROOTS = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  const leaves = ENTRIES.map(leafHash);

  it('hashes leaves and nodes with the 0x00 / 0x01 prefixes', () => {
    assert.equal(HASH_SIZE, 32);
    assert.equal(toHex(EMPTY_ROOT), ROOTS[0]);
    assert.equal(toHex(leafHash(new Uint8Array(0))), ROOTS[1]);
    const l = new Uint8Array(32).fill(1);
    const r = new Uint8Array(32).fill(2);
    assert.equal(toHex(nodeHash(l, r)), toHex(createHash('sha256').update(Buffer.from([1])).update(l).update(r).digest()));
  });

  it('gives the reference roots for 0..8 entries, as does the naive MTH', () => {
    for (let n = 0; n <= 8; n++) {
      assert.equal(naiveMth(ENTRIES.slice(0, n)), ROOTS[n], `naive MTH of ${n}`);
      assert.equal(toHex(rootFromLeafHashes(leaves.slice(0, n))), ROOTS[n], `rootFromLeafHashes of ${n}`);
      const range = new CompactRange();
      for (const leaf of leaves.slice(0, n)) range.append(leaf);
      assert.equal(toHex(range.root()), ROOTS[n], `CompactRange of ${n}`);
    }
  });

  it('builds the reference proofs for the 8-entry tree', () => {
    assert.deepEqual(hexes(inclusionProof(leaves, 5)), [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    assert.deepEqual(hexes(consistencyProof(leaves, 3)), [
      '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
      '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
  });
});

describe('merkle: transparency-dev proof vectors', () => {
  interface InclusionVector {
    leafIdx: number;
    treeSize: number;
    root: string;
    leafHash: string;
    proof: string[] | null;
    wantErr: boolean;
  }
  interface ConsistencyVector {
    size1: number;
    size2: number;
    root1: string;
    root2: string;
    proof: string[] | null;
    wantErr: boolean;
  }
  const decodeAll = (list: string[] | null): Uint8Array[] => (list ?? []).map(fromBase64);
  const allHashes = (list: Uint8Array[]): boolean => list.every((h) => h.length === HASH_SIZE);

  // A vector that wants no error but whose "hashes" are not 32 bytes: the
  // reference verifier only compares them, ours rejects malformed hashes first.
  const STRICTER_THAN_REFERENCE = ['additional/sizes-are-equal-one-and-proof-is-empty.json'];

  const inclusionFiles = listVectors('merkle', 'inclusion');
  const consistencyFiles = listVectors('merkle', 'consistency');

  it('finds the vectors', () => {
    assert.ok(inclusionFiles.length >= 80, `${inclusionFiles.length} inclusion files`);
    assert.ok(consistencyFiles.length >= 90, `${consistencyFiles.length} consistency files`);
  });

  it('inclusion: happy paths verify, every corrupted proof fails', () => {
    let accepted = 0;
    for (const file of inclusionFiles) {
      const v = readVector<InclusionVector>('merkle', 'inclusion', file);
      const leaf = fromBase64(v.leafHash);
      const root = fromBase64(v.root);
      const proof = decodeAll(v.proof);
      const wellFormed = allHashes([leaf, root, ...proof]);
      const want = !v.wantErr && wellFormed;
      assert.equal(verifyInclusion(leaf, v.leafIdx, v.treeSize, proof, root), want, file);
      if (file.endsWith('happy-path.json')) assert.ok(want, `${file} must be accepted`);
      if (!v.wantErr) assert.ok(wellFormed, `${file} has well-formed hashes`);
      if (want) accepted++;
    }
    assert.equal(accepted, 6); // five happy paths and single-entry/matching-root-and-leaf
  });

  it('consistency: happy paths verify, every corrupted proof fails', () => {
    const stricter: string[] = [];
    let accepted = 0;
    for (const file of consistencyFiles) {
      const v = readVector<ConsistencyVector>('merkle', 'consistency', file);
      const root1 = fromBase64(v.root1);
      const root2 = fromBase64(v.root2);
      const proof = decodeAll(v.proof);
      const wellFormed = allHashes([root1, root2, ...proof]);
      const want = !v.wantErr && wellFormed;
      assert.equal(verifyConsistency(v.size1, v.size2, proof, root1, root2), want, file);
      if (file.endsWith('happy-path.json')) assert.ok(want, `${file} must be accepted`);
      if (!v.wantErr && !wellFormed) stricter.push(file);
      if (want) accepted++;
    }
    assert.equal(accepted, 5);
    assert.deepEqual(stricter, STRICTER_THAN_REFERENCE);
  });
});

describe('merkle: exhaustive cross-checks for 1..70 leaves', () => {
  const N = 70;
  const entries = Array.from({ length: N }, (_, i) => utf8(`entry ${i}`));
  const leaves = entries.map(leafHash);
  const roots = Array.from({ length: N + 1 }, (_, n) => rootFromLeafHashes(leaves.slice(0, n)));

  it('rootFromLeafHashes equals the naive MTH at every size', () => {
    for (let n = 0; n <= N; n++) assert.equal(toHex(roots[n]), naiveMth(entries.slice(0, n)), `size ${n}`);
  });

  it('every inclusion proof verifies and leads to the root', () => {
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(leaves, i, n);
        assert.equal(proof.length, pathShape(i, n).length, `length ${i}/${n}`);
        assert.ok(verifyInclusion(leaves[i], i, n, proof, roots[n]), `index ${i} size ${n}`);
        assert.equal(toHex(rootFromInclusionProof(leaves[i], i, n, proof)), toHex(roots[n]));
      }
    }
  });

  it('every consistency proof verifies', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(leaves, m, n);
        assert.equal(proof.length, consistencyShape(m, n)?.replace(/equal/, '').length, `length ${m}/${n}`);
        assert.ok(verifyConsistency(m, n, proof, roots[m], roots[n]), `sizes ${m} -> ${n}`);
      }
    }
  });

  it('plans over a store filled by CompactRange give the same proofs and roots', () => {
    const store = new Map<string, Uint8Array>();
    const fetch = (ids: NodeId[], size: number): Uint8Array[] =>
      ids.map((id) => {
        assert.ok((id.index + 1) * 2 ** id.level <= size, `node ${key(id)} lies inside ${size}`);
        const h = store.get(key(id));
        assert.ok(h, `node ${key(id)} is stored at size ${size}`);
        return h;
      });
    const range = new CompactRange();
    assert.equal(toHex(range.root()), toHex(EMPTY_ROOT));
    assert.deepEqual(hexes(rootPlan(0).rehash([])), [toHex(EMPTY_ROOT)]);

    for (let n = 1; n <= N; n++) {
      const visited: NodeId[] = [];
      range.append(leaves[n - 1], (id, h) => {
        visited.push(id);
        assert.ok(!store.has(key(id)), `node ${key(id)} is visited once`);
        const lo = id.index * 2 ** id.level;
        assert.equal(toHex(h), naiveMth(entries.slice(lo, lo + 2 ** id.level)), `node ${key(id)}`);
        store.set(key(id), h);
      });
      assert.deepEqual(visited[0], { level: 0, index: n - 1 });
      assert.equal(range.size, n);
      assert.equal(toHex(range.root()), toHex(roots[n]), `root at ${n}`);
      assert.equal(store.size, 2 * n - popcount(n), 'every perfect node is stored');

      const rp = rootPlan(n);
      assert.deepEqual(hexes(fetch(rp.ids, n)), hexes(range.hashes()));
      assert.deepEqual(hexes(rp.rehash(fetch(rp.ids, n))), [toHex(roots[n])]);

      for (let i = 0; i < n; i++) {
        const plan = inclusionPlan(i, n);
        assert.deepEqual(hexes(plan.rehash(fetch(plan.ids, n))), hexes(inclusionProof(leaves, i, n)), `inclusion ${i}/${n}`);
      }
      for (let m = 1; m <= n; m++) {
        const plan = consistencyPlan(m, n);
        assert.deepEqual(
          hexes(plan.rehash(fetch(plan.ids, n))),
          hexes(consistencyProof(leaves, m, n)),
          `consistency ${m}/${n}`,
        );
      }
    }
  });

  it('a CompactRange rebuilt from stored nodes continues with the same roots and nodes', () => {
    const store = new Map<string, Uint8Array>();
    const full = new CompactRange();
    for (const leaf of leaves) full.append(leaf, (id, h) => store.set(key(id), h));

    for (let n = 0; n <= N; n++) {
      const hashes = rootPlan(n).ids.map((id) => store.get(key(id)) as Uint8Array);
      const range = new CompactRange(n, hashes);
      assert.equal(range.size, n);
      assert.equal(toHex(range.root()), toHex(roots[n]), `rebuilt at ${n}`);
      for (let s = n + 1; s <= N; s++) {
        range.append(leaves[s - 1], (id, h) => assert.equal(toHex(h), toHex(store.get(key(id)) as Uint8Array), key(id)));
        assert.equal(toHex(range.root()), toHex(roots[s]), `rebuilt at ${n}, grown to ${s}`);
      }
    }
  });
});

function popcount(n: number): number {
  let c = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) c += v % 2;
  return c;
}

describe('merkle: argument checks', () => {
  const leaves = makeLeaves(1, 9);

  it('builders reject impossible indexes and sizes with ERR_INVALID_ARGUMENT', () => {
    const invalid = (e: unknown): boolean => isLedgerError(e, 'ERR_INVALID_ARGUMENT');
    assert.throws(() => inclusionPlan(5, 5), invalid);
    assert.throws(() => inclusionPlan(-1, 5), invalid);
    assert.throws(() => inclusionPlan(0.5, 5), invalid);
    assert.throws(() => inclusionProof(leaves, 0, 10), invalid);
    assert.throws(() => consistencyPlan(4, 3), invalid);
    assert.throws(() => consistencyPlan(-1, 3), invalid);
    assert.throws(() => consistencyProof(leaves, 0, 10), invalid);
    assert.throws(() => rootPlan(-1), invalid);
    assert.throws(() => rootPlan(Number.MAX_SAFE_INTEGER + 1), invalid);
    assert.throws(() => inclusionPlan(1, 4).rehash([]), invalid);
    assert.throws(() => rootPlan(3).rehash([new Uint8Array(32), new Uint8Array(31)]), invalid);
    assert.throws(() => new CompactRange(3, [new Uint8Array(32)]), invalid);
    assert.throws(() => new CompactRange(-1), invalid);
    assert.throws(() => new CompactRange().append(new Uint8Array(31)), invalid);
    assert.deepEqual(consistencyPlan(0, 0).ids, []);
    assert.deepEqual(consistencyProof(leaves, 4, 4), []);
  });

  it('rootFromInclusionProof throws ERR_MALFORMED_PROOF for malformed proofs', () => {
    const malformed = (e: unknown): boolean => isLedgerError(e, 'ERR_MALFORMED_PROOF');
    const proof = inclusionProof(leaves, 3);
    assert.throws(() => rootFromInclusionProof(leaves[3], 9, 9, proof), malformed);
    assert.throws(() => rootFromInclusionProof(leaves[3], 3, 9, proof.slice(1)), malformed);
    assert.throws(() => rootFromInclusionProof(leaves[3], 3, 9, [...proof, leaves[0]]), malformed);
    assert.throws(() => rootFromInclusionProof(leaves[3].subarray(1), 3, 9, proof), malformed);
    assert.throws(() => rootFromInclusionProof(leaves[3], 3, 9, [new Uint8Array(33), ...proof.slice(1)]), malformed);
  });

  it('every tree extends the empty one: from size 0 the proof is empty; a non-empty proof or another first root is refused', () => {
    const root5 = rootFromLeafHashes(leaves.slice(0, 5));
    assert.ok(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT));
    assert.ok(!verifyConsistency(0, 0, [], leaves[0], leaves[0]));
    assert.deepEqual(checkConsistency(0, 1, [], EMPTY_ROOT, leaves[0]), { ok: true });
    assert.deepEqual(checkConsistency(0, 5, [], EMPTY_ROOT, root5), { ok: true });
    const reason = (r: { ok: boolean; reason?: string }): string | undefined => r.reason;
    assert.equal(reason(checkConsistency(0, 5, [leaves[0]], EMPTY_ROOT, root5)), 'a proof from the empty tree must be empty');
    assert.equal(reason(checkConsistency(0, 5, consistencyProof(leaves, 1, 5), EMPTY_ROOT, root5)), 'a proof from the empty tree must be empty');
    assert.equal(reason(checkConsistency(0, 5, [], leaves[0], root5)), 'the empty tree has a different root');
  });

  it('the proof built from size 0 is empty and verifies, to every size (the builders agree with checkConsistency)', () => {
    for (let n = 0; n <= leaves.length; n++) {
      assert.deepEqual(consistencyProof(leaves, 0, n), [], `proof 0 -> ${n}`);
      assert.deepEqual(consistencyPlan(0, n).ids, [], `plan 0 -> ${n}`);
      assert.deepEqual(consistencyPlan(0, n).rehash([]), [], `plan 0 -> ${n} rehashed`);
      assert.deepEqual(checkConsistency(0, n, consistencyProof(leaves, 0, n), EMPTY_ROOT, rootFromLeafHashes(leaves.slice(0, n))), { ok: true }, `0 -> ${n}`);
    }
  });

  it('the check functions say why a proof failed', () => {
    const root = rootFromLeafHashes(leaves);
    const proof = inclusionProof(leaves, 3);
    assert.deepEqual(checkInclusion(leaves[3], 3, 9, proof, root), { ok: true });
    const reason = (r: { ok: boolean; reason?: string }): string | undefined => r.reason;
    assert.equal(reason(checkInclusion(leaves[3], 3, 9, proof.slice(1), root)), 'inclusion proof is too short');
    assert.equal(reason(checkInclusion(leaves[3], 3, 9, [...proof, leaves[0]], root)), 'inclusion proof is too long');
    assert.equal(reason(checkInclusion(leaves[4], 3, 9, proof, root)), 'the proof leads to a different root');
    assert.equal(reason(checkInclusion(leaves[3], 9, 9, proof, root)), 'index 9 is not below tree size 9');
    assert.equal(reason(checkInclusion(leaves[3], 3, 9, proof, root.subarray(1))), 'root must be 32 bytes');
    const root5 = rootFromLeafHashes(leaves.slice(0, 5));
    const cproof = consistencyProof(leaves, 5);
    assert.deepEqual(checkConsistency(5, 9, cproof, root5, root), { ok: true });
    assert.equal(reason(checkConsistency(5, 9, [], root5, root)), 'consistency proof is empty');
    assert.equal(reason(checkConsistency(5, 9, cproof.slice(1), root5, root)), 'consistency proof is too short');
    assert.equal(reason(checkConsistency(5, 9, cproof, root, root)), 'the proof leads to a different first root');
    assert.equal(reason(checkConsistency(5, 9, cproof, root5, root5)), 'the proof leads to a different second root');
    assert.equal(reason(checkConsistency(9, 5, cproof, root, root5)), 'the first size 9 is larger than the second 5');
    assert.equal(reason(checkConsistency(5, 5, [], root5, root)), 'equal sizes with different roots');
  });

  it('returned hashes are copies', () => {
    const root = rootFromLeafHashes([]);
    root[0] ^= 1;
    assert.equal(toHex(rootFromLeafHashes([])), toHex(createHash('sha256').digest()));
    const range = new CompactRange();
    range.append(leaves[0]);
    range.hashes()[0][0] ^= 1;
    assert.equal(toHex(range.root()), toHex(leaves[0]));
  });
});

describe('merkle: properties', () => {
  const tree = fc.record({ seed: fc.nat(), size: fc.integer({ min: 1, max: 200 }) });

  it('inclusion: flipping any bit of the proof, root or leaf fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(255), ({ seed, size }, at, target, bit) => {
        const leaves = makeLeaves(seed, size);
        const index = at % size;
        const proof = inclusionProof(leaves, index);
        const root = rootFromLeafHashes(leaves);
        assert.ok(verifyInclusion(leaves[index], index, size, proof, root));
        const t = target % (proof.length + 2);
        if (t === proof.length) return !verifyInclusion(flipBit(leaves[index], bit), index, size, proof, root);
        if (t === proof.length + 1) return !verifyInclusion(leaves[index], index, size, proof, flipBit(root, bit));
        const bad = proof.map((p, k) => (k === t ? flipBit(p, bit) : p));
        return !verifyInclusion(leaves[index], index, size, bad, root);
      }),
      { numRuns: 300 },
    );
  });

  it('inclusion: another index in the same tree fails; another (index, size) passes only if the path has the same shape', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(), ({ seed, size }, at, otherAt, otherSize) => {
        const leaves = makeLeaves(seed, size);
        const index = at % size;
        const proof = inclusionProof(leaves, index);
        const root = rootFromLeafHashes(leaves);
        const index2 = otherAt % (2 * size);
        if (index2 !== index) assert.ok(!verifyInclusion(leaves[index], index2, size, proof, root), 'other index');
        const size2 = otherSize % (2 * size + 2);
        const index3 = size2 > 0 ? otherAt % size2 : 0;
        for (const [i, n] of [
          [index, size2],
          [index3, size2],
        ]) {
          const same = i < n && pathShape(i, n) === pathShape(index, size);
          assert.equal(verifyInclusion(leaves[index], i, n, proof, root), same, `(${i}, ${n}) vs (${index}, ${size})`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('consistency: flipping any bit of the proof or either root fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(255), ({ seed, size }, first, target, bit) => {
        const leaves = makeLeaves(seed, size);
        const size1 = 1 + (first % size);
        const proof = consistencyProof(leaves, size1);
        const root1 = rootFromLeafHashes(leaves.slice(0, size1));
        const root2 = rootFromLeafHashes(leaves);
        assert.ok(verifyConsistency(size1, size, proof, root1, root2));
        const t = target % (proof.length + 2);
        if (t === proof.length) return !verifyConsistency(size1, size, proof, flipBit(root1, bit), root2);
        if (t === proof.length + 1) return !verifyConsistency(size1, size, proof, root1, flipBit(root2, bit));
        const bad = proof.map((p, k) => (k === t ? flipBit(p, bit) : p));
        return !verifyConsistency(size1, size, bad, root1, root2);
      }),
      { numRuns: 300 },
    );
  });

  it('consistency: other sizes pass only if the proof has the same shape', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(), ({ seed, size }, first, a, b) => {
        const leaves = makeLeaves(seed, size);
        const size1 = 1 + (first % size);
        const proof = consistencyProof(leaves, size1);
        const root1 = rootFromLeafHashes(leaves.slice(0, size1));
        const root2 = rootFromLeafHashes(leaves);
        const shape = consistencyShape(size1, size);
        for (const [m, n] of [
          [a % (2 * size + 2), size],
          [size1, b % (2 * size + 2)],
          [a % (2 * size + 2), b % (2 * size + 2)],
        ]) {
          const other = consistencyShape(m, n);
          const same = other !== undefined && other === shape;
          assert.equal(verifyConsistency(m, n, proof, root1, root2), same, `(${m}, ${n}) vs (${size1}, ${size})`);
        }
      }),
      { numRuns: 300 },
    );
  });

  const count = fc.oneof(
    fc.integer({ min: -3, max: 300 }),
    fc.double(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 32, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1),
  );
  const hash = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }));
  const garbage = fc.oneof(fc.anything(), hash, fc.array(fc.oneof(hash, fc.anything()), { maxLength: 70 }));

  it('garbage never throws from the verifiers', () => {
    fc.assert(
      fc.property(garbage, garbage, garbage, garbage, garbage, (a, b, c, d, e) => {
        assert.equal(typeof verifyInclusion(a as never, b as never, c as never, d as never, e as never), 'boolean');
        assert.equal(typeof verifyConsistency(a as never, b as never, c as never, d as never, e as never), 'boolean');
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(hash, count, count, fc.array(hash, { maxLength: 70 }), hash, (leaf, i, n, proof, root) => {
        assert.equal(typeof verifyInclusion(leaf, i, n, proof, root), 'boolean');
        assert.equal(typeof verifyConsistency(i, n, proof, leaf, root), 'boolean');
        try {
          assert.equal(rootFromInclusionProof(leaf, i, n, proof).length, HASH_SIZE);
        } catch (e) {
          assert.ok(isLedgerError(e, 'ERR_MALFORMED_PROOF'), String(e));
        }
      }),
      { numRuns: 1000 },
    );
  });

  // A tree whose leaves are all equal: each perfect subtree's hash depends on its level only,
  // so proofs for trees of up to 2^53 - 1 leaves can be built and checked.
  describe('sizes up to 2^53 - 1', () => {
    const levels = [leafHash(utf8('same'))];
    for (let l = 1; l <= 53; l++) levels.push(nodeHash(levels[l - 1], levels[l - 1]));
    const fetch = (ids: NodeId[], size: number): Uint8Array[] =>
      ids.map((id) => {
        assert.ok(Number.isSafeInteger(id.index) && id.index >= 0 && (id.index + 1) * 2 ** id.level <= size, key(id));
        return levels[id.level];
      });
    const rootOf = (size: number): Uint8Array => rootPlan(size).rehash(fetch(rootPlan(size).ids, size))[0];
    const big = fc.oneof(
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52, 2 ** 53 - 2, 2 ** 53 - 1),
    );

    it('plans give proofs that verify, and CompactRange continues from any size', () => {
      fc.assert(
        fc.property(big, fc.nat(), fc.nat(), (size, a, b) => {
          const root = rootOf(size);
          const index = Math.max(0, size - 1 - a);
          const inc = inclusionPlan(index, size);
          const proof = inc.rehash(fetch(inc.ids, size));
          assert.ok(verifyInclusion(levels[0], index, size, proof, root), `inclusion ${index}/${size}`);
          assert.ok(!verifyInclusion(levels[0], index, size, [...proof, levels[0]], root), 'longer proof');
          if (proof.length > 0) assert.ok(!verifyInclusion(levels[0], index, size, proof.slice(1), root), 'shorter proof');

          const size1 = Math.max(1, size - b);
          const con = consistencyPlan(size1, size);
          assert.ok(verifyConsistency(size1, size, con.rehash(fetch(con.ids, size)), rootOf(size1), root), `${size1} -> ${size}`);

          if (size < Number.MAX_SAFE_INTEGER) {
            const range = new CompactRange(size, fetch(rootPlan(size).ids, size));
            assert.equal(toHex(range.root()), toHex(root));
            range.append(levels[0], (id) => assert.ok((id.index + 1) * 2 ** id.level <= size + 1, key(id)));
            assert.equal(toHex(range.root()), toHex(rootOf(size + 1)));
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
