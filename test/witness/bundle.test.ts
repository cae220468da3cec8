// The proof bundle that carries a stored cosigned checkpoint takes a `c` entry only when the
// audit would take it (openCosignedEntry): an altered entry is passed over like a missing one.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { generateKey } from '../../lib/crypto';
import { Ledger, verifyProofBundle, type ProofBundle } from '../../lib/ledger';
import { cosignLine } from '../../lib/witness/cosignature';
import { cosignedProofBundle } from '../../lib/witness/bundle';
import { cosignedKey } from '../../lib/witness/ledger-cosignatures';
import { buildSampleLedger, scratchLedgers, type SampleLedger } from '../support/audit-fixtures';

const W = { name: 'w.example/bundle', key: generateKey('Ed25519') };

/** Block `height`'s checkpoint with a valid cosignature line, as the gateway stores it. */
function cosigned(sample: SampleLedger, height: number): string {
  const note = sample.checkpoints[height];
  return note + cosignLine(note.slice(0, note.indexOf('\n\n') + 1), W, 1_764_000_000 + height);
}

describe('cosignedProofBundle: which stored cosigned checkpoint it carries', function () {
  this.timeout(60000);
  let sample: SampleLedger;
  const scratch = scratchLedgers();

  before(async () => {
    sample = await buildSampleLedger();
    assert.ok(sample.blocks >= 3);
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  /** The bundle of record 5 in a copy whose block 1 is honestly cosigned and block 2's entry is `altered`. */
  async function bundleWith(altered: Buffer): Promise<ProofBundle> {
    const dir = await scratch.damaged(sample.dir, async (db) => {
      await db.put(cosignedKey(1), Buffer.from(cosigned(sample, 1)));
      await db.put(cosignedKey(2), altered);
    });
    const ledger = await Ledger.open(dir, { readOnly: true });
    try {
      return await cosignedProofBundle(ledger, 5);
    } finally {
      await ledger.close();
    }
  }

  it('takes the newest honest entry', async () => {
    const bundle = await bundleWith(Buffer.from(cosigned(sample, 2)));
    assert.equal(bundle.checkpoint, cosigned(sample, 2));
    verifyProofBundle(bundle, sample.verifierKey);
  });

  it("passes over an entry that is the block's checkpoint followed by a malformed line", async () => {
    const bundle = await bundleWith(Buffer.from(`${sample.checkpoints[2]}not a signature line\n`));
    assert.equal(bundle.checkpoint, cosigned(sample, 1));
    verifyProofBundle(bundle, sample.verifierKey);
  });

  it("passes over an entry that is the block's checkpoint followed by bytes that are not UTF-8", async () => {
    const line = Buffer.from(cosignLine(sample.checkpoints[2].slice(0, sample.checkpoints[2].indexOf('\n\n') + 1), W, 1_764_000_002));
    const bundle = await bundleWith(Buffer.concat([Buffer.from(sample.checkpoints[2]), line.subarray(0, 4), Buffer.of(0xff), line.subarray(5)]));
    assert.equal(bundle.checkpoint, cosigned(sample, 1));
    verifyProofBundle(bundle, sample.verifierKey);
  });
});
