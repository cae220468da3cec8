import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { anchorSubject, anchorsCovering, checkAnchors, formatAnchorCheck, parseAnchorBody, type ChainAnchor } from '../../lib/anchor';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { consistencyProof, EMPTY_ROOT, leafHash, rootFromLeafHashes } from '../../lib/merkle';
import { toHex } from '../../lib/encoding/bytes';

const leaves = (tag: string, n: number) => Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`${tag}-${i}`)));

/** An in-memory ledger tree of these leaves, as checkAnchors reads it. */
function tree(ls: Uint8Array[]) {
  return { size: ls.length, root: rootFromLeafHashes(ls), consistencyProof: async (a: number, b: number) => consistencyProof(ls, a, b) };
}

function anchorOf(ls: Uint8Array[], size: number, block: number): ChainAnchor {
  return {
    blockNumber: block,
    blockHash: `0x${block.toString(16).padStart(64, '0')}`,
    time: 1764000000000 + block * 12000,
    txHash: `0x${(block + 1000).toString(16).padStart(64, '0')}`,
    logIndex: 0,
    size,
    root: rootFromLeafHashes(ls.slice(0, size)),
    checkpointHash: new Uint8Array(32),
  };
}

describe('anchor: what is anchored and how a ledger is checked against anchors (pure)', () => {
  it('the subject of a signed checkpoint: origin, size, root, SHA-256 of the note as produced (extension lines included)', () => {
    const key = generateKey('Ed25519');
    const root = new Uint8Array(32).fill(7);
    const note = signCheckpoint({ origin: 'example.org/room', size: 42, root, extensions: ['ext line'] }, 'example.org/room', key);
    const s = anchorSubject(note);
    assert.equal(s.origin, 'example.org/room');
    assert.equal(s.size, 42);
    assert.deepEqual(s.root, root);
    assert.equal(Buffer.from(s.checkpointHash).toString('hex'), createHash('sha256').update(note, 'utf8').digest('hex'));
    assert.equal(Buffer.from(s.originHash).toString('hex'), createHash('sha256').update('example.org/room').digest('hex'));
    assert.throws(() => anchorSubject('not a note'), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE'));
  });

  it('parseAnchorBody accepts the documented body and names the first bad field', () => {
    const body = {
      chain: 100,
      contract: `0x${'ab'.repeat(20)}`,
      account: `0x${'cd'.repeat(20)}`,
      tx: `0x${'01'.repeat(32)}`,
      block: 5,
      blockHash: `0x${'02'.repeat(32)}`,
      blockTime: 1764000000000,
      height: 3,
      size: 10,
      root: new Uint8Array(32),
      checkpoint: new Uint8Array(32),
    };
    assert.deepEqual(parseAnchorBody(body), body);
    for (const [field, value] of [['contract', '0xAB'], ['tx', `0x${'01'.repeat(31)}`], ['size', 0], ['root', new Uint8Array(31)], ['extra', 1]] as const) {
      assert.throws(() => parseAnchorBody({ ...body, [field]: value }), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_RECORD') && e.details?.field === field);
    }
  });

  it('an honest ledger that grew after its anchors is clean; the latest covering anchor is named', async () => {
    const ls = leaves('a', 20);
    const anchors = [anchorOf(ls, 5, 10), anchorOf(ls, 12, 20), anchorOf(ls, 20, 30)];
    const c = await checkAnchors(tree(ls), anchors, []);
    assert.equal(c.clean, true);
    assert.equal(c.consistent.length, 3);
    assert.deepEqual(
      [anchorsCovering(c.consistent, 4).first?.blockNumber, anchorsCovering(c.consistent, 4).latest?.blockNumber, anchorsCovering(c.consistent, 12).first?.blockNumber],
      [10, 30, 30],
    );
    assert.equal(anchorsCovering(c.consistent, 20).latest, undefined);
  });

  it('a rollback (fewer records than anchored) and a rewrite (another root) are findings naming the anchored size', async () => {
    const honest = leaves('a', 20);
    const rolledBack = honest.slice(0, 8);
    let c = await checkAnchors(tree(rolledBack), [anchorOf(honest, 5, 10), anchorOf(honest, 12, 20)], []);
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.size]),
      [['anchor-beyond', 12]],
    );
    const rewritten = [...honest.slice(0, 9), ...leaves('b', 11)];
    c = await checkAnchors(tree(rewritten), [anchorOf(honest, 5, 10), anchorOf(honest, 12, 20)], []);
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.size]),
      [['anchor-contradicted', 12]],
    );
    assert.equal(c.consistent.length, 1, 'the anchor before the rewrite still holds');
  });

  it('anchors repeating one (size, root) share one consistency proof; each is still reported', async () => {
    const honest = leaves('a', 20);
    const rewritten = [...honest.slice(0, 9), ...leaves('b', 11)];
    const t = tree(rewritten);
    const asked: number[] = [];
    const counted = { ...t, consistencyProof: (a: number, b: number) => (asked.push(a), t.consistencyProof(a, b)) };
    // Size 5 three times (consistent), size 12 of the honest history twice (contradicted),
    // size 12 of the ledger's own once, and the ledger's own size twice (no proof needed).
    const own = (size: number, block: number) => anchorOf(rewritten, size, block);
    const anchors = [anchorOf(honest, 5, 10), anchorOf(honest, 5, 11), anchorOf(honest, 12, 12), anchorOf(honest, 5, 13), anchorOf(honest, 12, 14), own(12, 15), own(20, 16), own(20, 17)];
    const c = await checkAnchors(counted, anchors, []);
    assert.deepEqual(asked, [5, 12, 12], 'one proof per distinct (size, root) below the ledger size');
    assert.deepEqual(
      c.consistent.map((a) => a.blockNumber),
      [10, 11, 13, 15, 16, 17],
    );
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.size, f.block]),
      [
        ['anchor-contradicted', 12, 12],
        ['anchor-contradicted', 12, 14],
      ],
    );
  });

  it('an anchor of the empty tree (size 0) is consistent with every ledger and covers no record; one with another root is a finding; the other anchors are checked', async () => {
    const honest = leaves('a', 20);
    const rewritten = [...honest.slice(0, 9), ...leaves('b', 11)];
    const t = tree(rewritten);
    const asked: number[] = [];
    const counted = { ...t, consistencyProof: (a: number, b: number) => (asked.push(a), t.consistencyProof(a, b)) };
    const empty = anchorOf(honest, 0, 10);
    assert.deepEqual(empty.root, EMPTY_ROOT);
    const other = { ...anchorOf(honest, 0, 11), root: honest[0] };
    const c = await checkAnchors(counted, [empty, other, anchorOf(honest, 5, 12), anchorOf(honest, 12, 13), anchorOf(honest, 0, 14)], []);
    assert.deepEqual(asked, [5, 12], 'no proof is asked for from size 0');
    assert.deepEqual(
      c.consistent.map((a) => [a.size, a.blockNumber]),
      [
        [0, 10],
        [5, 12],
        [0, 14],
      ],
    );
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.size, f.block]),
      [
        ['anchor-contradicted', 0, 11],
        ['anchor-contradicted', 12, 13],
      ],
    );
    assert.match(c.findings[0]?.detail ?? '', new RegExp(`tree size 0 at block 11 .*root ${toHex(honest[0])} is not the empty tree's \\(${toHex(EMPTY_ROOT)}\\)`));
    assert.equal(anchorsCovering(c.consistent, 0).latest?.size, 5);
    assert.match(formatAnchorCheck(c, 'chain 1'), /latest consistent: records 0\.\.4 anchored at block 12 /);

    // An empty ledger and a non-empty one, with only anchors of the empty tree: clean, no record anchored.
    for (const ls of [[], honest]) {
      const only = await checkAnchors(tree(ls), [empty, anchorOf(honest, 0, 15)], []);
      assert.deepEqual([only.clean, only.consistent.length], [true, 2], `a ledger of ${ls.length} records`);
      assert.equal(formatAnchorCheck(only, 'chain 1'), 'anchors: clean, 2 on chain 1, of the empty tree only (size 0): no record is anchored\n');
    }
  });

  it('an anchor record whose transaction the chain does not hold is missing, even when another anchor covers it', async () => {
    const ls = leaves('a', 20);
    const onChain = anchorOf(ls, 12, 20);
    const lost = anchorOf(ls, 12, 19);
    const body = parseAnchorBody({
      chain: 1,
      contract: `0x${'ab'.repeat(20)}`,
      account: `0x${'cd'.repeat(20)}`,
      tx: lost.txHash,
      block: lost.blockNumber,
      blockHash: lost.blockHash,
      blockTime: lost.time,
      height: 2,
      size: 12,
      root: lost.root,
      checkpoint: lost.checkpointHash,
    });
    const c = await checkAnchors(tree(ls), [onChain], [{ index: 13, body }]);
    assert.equal(c.clean, false);
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.index, f.block]),
      [['anchor-missing', 13, 19]],
    );
  });

  it('an anchor record whose transaction anchored its size and root with another checkpoint hash is missing; with its own, clean', async () => {
    const ls = leaves('a', 20);
    const a = anchorOf(ls, 12, 20);
    const recordOf = (checkpoint: Uint8Array) =>
      parseAnchorBody({
        chain: 1,
        contract: `0x${'ab'.repeat(20)}`,
        account: `0x${'cd'.repeat(20)}`,
        tx: a.txHash,
        block: a.blockNumber,
        blockHash: a.blockHash,
        blockTime: a.time,
        height: 2,
        size: 12,
        root: a.root,
        checkpoint,
      });
    assert.equal((await checkAnchors(tree(ls), [a], [{ index: 13, body: recordOf(a.checkpointHash) }])).clean, true);
    const c = await checkAnchors(tree(ls), [a], [{ index: 13, body: recordOf(new Uint8Array(32).fill(1)) }]);
    assert.equal(c.clean, false);
    assert.equal(c.consistent.length, 1, "the chain's anchor is consistent with the ledger all the same");
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.index, f.block]),
      [['anchor-missing', 13, 20]],
    );
  });

  it("a block time the endpoint dated past what a Date holds (ethers takes any safe integer of seconds) is still reported", async () => {
    const honest = leaves('a', 20);
    const rewritten = [...honest.slice(0, 9), ...leaves('b', 11)];
    const far = (a: ChainAnchor, seconds: number): ChainAnchor => ({ ...a, time: seconds * 1000 });
    const anchors = [far(anchorOf(honest, 5, 10), 2 ** 40), far(anchorOf(honest, 12, 20), Number.MAX_SAFE_INTEGER), far(anchorOf(honest, 30, 30), 2 ** 50)];
    const c = await checkAnchors(tree(rewritten), anchors, []);
    assert.deepEqual(
      c.findings.map((f) => [f.kind, f.size]),
      [
        ['anchor-contradicted', 12],
        ['anchor-beyond', 30],
      ],
    );
    assert.match(c.findings[0]?.detail ?? '', /at block 20 \(\+\d{6,}-\d\d-\d\dT/);
    assert.match(formatAnchorCheck(c, 'chain 1'), /latest consistent: records 0\.\.4 anchored at block 10 \(\+036812-/);
  });
});
