import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isLedgerError } from '../../lib/errors';
import { Ledger, verifyConsistencyBundle, verifyProofBundle, type ProofBundle } from '../../lib/ledger';
import { openCheckpoint, signCheckpoint } from '../../lib/note/checkpoint';
import { deviceA, gatewayKey, tempDir } from '../support/ledger';

// Proof and consistency bundles come from anyone (devices, third parties, `verify-proof`):
// their proof length, each hash's text, the checkpoint note and its signature lines are
// bounded before anything is decoded or a signature checked.

const NAME = 'example.com/bundle-bounds';

const malformed = (err: unknown): boolean => {
  assert.ok(isLedgerError(err, 'ERR_MALFORMED_PROOF'), `expected ERR_MALFORMED_PROOF, got ${String(err)}`);
  return true;
};

/** `length` copies of `hash` whose first entry counts its reads and cannot be decoded. */
function trappedProof(length: number, hash: string): { proof: string[]; reads: () => number } {
  const proof = Array.from({ length }, () => hash);
  let reads = 0;
  Object.defineProperty(proof, 0, {
    get() {
      reads++;
      throw new Error('proof[0] was read');
    },
  });
  return { proof, reads: () => reads };
}

describe('proof bundle bounds', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ledger: Ledger;
  let bundle: ProofBundle;
  before(async () => {
    tmp = tempDir();
    ledger = await Ledger.open(path.join(tmp.dir, 'l'), { name: NAME, gatewayKey, blockSeconds: 0 });
    const reading = (seq: number) => ({ type: 'reading', device: deviceA, body: { seq } });
    // Two blocks: checkpoints at tree sizes 3 and 20.
    await ledger.appendMany([0, 1, 2].map(reading));
    await ledger.seal();
    await ledger.appendMany(Array.from({ length: 17 }, (_, i) => reading(3 + i)));
    bundle = await ledger.proofBundle(5);
    assert.equal(verifyProofBundle(bundle, ledger.verifierKey).index, 5);
  });
  after(async () => {
    await ledger.close();
    tmp.cleanup();
  });

  it('refuses a proof of more than 64 hashes by its length, reading none of them', () => {
    for (const length of [65, 100_000]) {
      const { proof, reads } = trappedProof(length, bundle.proof[0]);
      assert.throws(() => verifyProofBundle({ ...bundle, proof }, ledger.verifierKey), malformed);
      assert.equal(reads(), 0, `${length} hashes: none read`);
    }
  });

  it('refuses a proof hash that is not 44 characters, before decoding it', () => {
    for (const h of ['A'.repeat(1_000_000), `${bundle.proof[0]}AAAA`, bundle.proof[0].slice(0, 43)]) {
      assert.throws(() => verifyProofBundle({ ...bundle, proof: [h, ...bundle.proof.slice(1)] }, ledger.verifierKey), malformed);
    }
  });

  it('refuses a checkpoint note of more than 100 signature lines or 64 Ki characters, though validly signed', () => {
    const split = bundle.checkpoint.lastIndexOf('\n\n') + 2;
    const sig = bundle.checkpoint.slice(split);
    const signatures = (n: number): string => bundle.checkpoint.slice(0, split) + sig.repeat(n);
    // Up to 100 signature lines are a note; the same valid line 101 times is not one.
    assert.equal(verifyProofBundle({ ...bundle, checkpoint: signatures(100) }, ledger.verifierKey).index, 5);
    assert.throws(() => verifyProofBundle({ ...bundle, checkpoint: signatures(101) }, ledger.verifierKey), malformed);
    assert.throws(() => verifyProofBundle({ ...bundle, checkpoint: signatures(10_000) }, ledger.verifierKey), malformed);

    const cp = openCheckpoint(bundle.checkpoint);
    const long = signCheckpoint({ ...cp, extensions: [...cp.extensions, `x${'y'.repeat(70_000)}`] }, NAME, gatewayKey);
    assert.throws(() => verifyProofBundle({ ...bundle, checkpoint: long }, ledger.verifierKey), malformed);
  });

  it('refuses a consistency bundle of more than 64 hashes, reading none of them', async () => {
    const c = await ledger.consistencyBundle(3);
    assert.equal(verifyConsistencyBundle(c, ledger.verifierKey).size1, 3);
    const { proof, reads } = trappedProof(100_000, c.proof[0]);
    assert.throws(() => verifyConsistencyBundle({ ...c, proof }, ledger.verifierKey), malformed);
    assert.equal(reads(), 0);
  });
});
