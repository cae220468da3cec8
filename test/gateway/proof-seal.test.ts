import * as assert from 'node:assert/strict';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import { verifyProofBundle, type ProofBundle } from '../../lib/ledger';
import { tempDir } from '../support/ledger';

// A proof of a record not yet in a block seals one, but requests for such proofs (a Query node
// anyone can send messages to) must not seal a block each: each costs a signature, a checkpoint
// publication, witness requests and a share of an anchor.

describe('gateway: proofs of records not yet in a block seal at a bounded rate', () => {
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway | undefined;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    tmp.cleanup();
  });

  const open = async (proofSealMs: number): Promise<Gateway> => {
    gw = await Gateway.open(tmp.dir, { name: 'paced', gatewayKey, blockSeconds: 0, blockRecords: 1000 }, { proofSealMs });
    return gw;
  };
  const note = (g: Gateway, i: number) => g.record({ type: 'note', body: { i } });
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  it('seals at once for the first, then makes the others wait for the next block, whoever seals it', async () => {
    const g = await open(3_600_000);
    const first = await note(g, 0);
    const bundle = await g.proofBundle(first.index);
    assert.equal(g.ledger.height, 1);
    verifyProofBundle(bundle, g.ledger.verifierKey);

    // Thirty requests for new records, each appended just before: one block between them all.
    const proofs: Promise<ProofBundle>[] = [];
    let answered = 0;
    for (let i = 1; i <= 30; i++) {
      const r = await note(g, i);
      proofs.push(g.proofBundle(r.index).then((b) => (answered++, b)));
    }
    await turns(20);
    assert.equal(g.ledger.height, 1, 'no block sealed for them within the interval');
    assert.equal(answered, 0);
    // A record already in a block is answered at once meanwhile.
    verifyProofBundle(await g.proofBundle(first.index), g.ledger.verifierKey);

    await g.ledger.seal();
    const bundles = await Promise.all(proofs);
    assert.equal(g.ledger.height, 2);
    for (const b of bundles) verifyProofBundle(b, g.ledger.verifierKey);
  });

  it('seals again by itself once the interval has passed', async () => {
    const g = await open(50);
    await g.proofBundle((await note(g, 0)).index);
    const later = await note(g, 1);
    verifyProofBundle(await g.proofBundle(later.index), g.ledger.verifierKey);
    assert.equal(g.ledger.height, 2);
  });

  it('answers those waiting with ERR_LEDGER_CLOSED when the gateway closes', async () => {
    const g = await open(3_600_000);
    await g.proofBundle((await note(g, 0)).index);
    const waiting = g.proofBundle((await note(g, 1)).index).then(
      () => 'answered',
      (err: unknown) => err,
    );
    await turns(5);
    await g.close();
    gw = undefined;
    const outcome = await waiting;
    assert.ok(isLedgerError(outcome, 'ERR_LEDGER_CLOSED'), String(outcome));
  });
});
