import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { contractDocument, contractTopic, signContract, validateTerms, verifyContractDocument, type ContractDocument } from '../../lib/contracts';
import { isLedgerError } from '../../lib/errors';
import { ContractRunner, Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

describe('contracts: documents devices pull (terms, recorded signatures, inclusion proofs)', () => {
  const a = generateKey('Ed25519');
  const b = generateKey('ES256');
  const gatewayKey = generateKey('Ed25519');
  const terms = validateTerms({
    id: 'room-7',
    version: 2,
    title: 'below -20',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(a), keyToDid(b)],
  });
  const tmp = tempDir();
  let gw: Gateway;
  let runner: ContractRunner;
  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'pull.test', gatewayKey, blockRecords: 100, blockSeconds: 0 });
    runner = await ContractRunner.load(gw, terms);
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('verifies with the gateway key alone: inactive until every party signed, then active', async () => {
    assert.equal(contractTopic('room-7'), 'iot-ledger/contract/room-7');
    await runner.sign(signContract(terms, a));
    let doc = await contractDocument(gw.ledger, runner.ref.termsHash);
    assert.ok(doc);
    let v = verifyContractDocument(JSON.parse(JSON.stringify(doc)), keyToDid(gatewayKey));
    assert.deepEqual(v.terms, terms);
    assert.deepEqual(v.signed, [keyToDid(a)]);
    assert.equal(v.active, false);
    await runner.sign(signContract(terms, b, { format: 'cose' }));
    doc = await contractDocument(gw.ledger, runner.ref.termsHash);
    v = verifyContractDocument(JSON.parse(JSON.stringify(doc)), keyToDid(gatewayKey));
    assert.equal(v.active, true);
    assert.equal(v.signed.length, 2);
  });

  it('refuses another gateway key, changed terms and a signature bundle of another record', async () => {
    const doc = JSON.parse(JSON.stringify(await contractDocument(gw.ledger, runner.ref.termsHash)));
    assert.throws(() => verifyContractDocument(doc, keyToDid(generateKey('Ed25519'))), (e: unknown) => isLedgerError(e, 'ERR_BAD_SIGNATURE'));
    const changed = { ...doc, termsHash: '00'.repeat(32) };
    assert.throws(() => verifyContractDocument(changed, keyToDid(gatewayKey)), (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS'));
    const swapped = { ...doc, signatures: [doc.register] };
    assert.throws(() => verifyContractDocument(swapped, keyToDid(gatewayKey)), (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS'));
    const tampered = JSON.parse(JSON.stringify(doc));
    tampered.register.proof[0] = tampered.register.proof[0].replace(/^./, (c: string) => (c === 'A' ? 'B' : 'A'));
    assert.throws(() => verifyContractDocument(tampered, keyToDid(gatewayKey)), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_PROOF'));
  });

  it('refuses a copied document padded with repeats of a valid signature bundle (at most one per party)', async () => {
    const doc = JSON.parse(JSON.stringify(await contractDocument(gw.ledger, runner.ref.termsHash))) as ContractDocument;
    const gwDid = keyToDid(gatewayKey);
    assert.equal(verifyContractDocument(doc, gwDid).active, true);
    const [sigA, sigB] = doc.signatures;
    // Anyone can take the retained document and repeat its bundles: each repeat would be one more
    // signature check and hash of the terms for every gateway and device that pulls it.
    const padded = { ...doc, signatures: Array.from({ length: 500 }, (_, i) => (i % 2 ? sigB : sigA)) };
    assert.throws(
      () => verifyContractDocument(padded, gwDid),
      (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS') && /500 signature bundles for 2 parties: at most one each/.test(e.message),
    );
    assert.throws(() => verifyContractDocument({ ...doc, signatures: [sigA, sigB, sigA] }, gwDid), (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS'));
    // As many bundles as parties, but one party twice.
    assert.throws(
      () => verifyContractDocument({ ...doc, signatures: [sigA, sigA] }, gwDid),
      (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS') && /has a second signature bundle/.test(e.message),
    );
    assert.equal(verifyContractDocument({ ...doc, signatures: [sigB] }, gwDid).active, false, 'fewer bundles than parties: valid, not active');
  });

  it("refuses a signature bundle of another ledger signed with the same key: indexes of two origins say nothing about order", async () => {
    const other = tempDir();
    const gw2 = await Gateway.open(other.dir, { name: 'pull.other', gatewayKey, blockRecords: 100, blockSeconds: 0 });
    try {
      // The same terms on another ledger of this key, with a long history first: b's signature there has a larger index.
      await gw2.ledger.appendMany(Array.from({ length: 40 }, (_, i) => ({ type: 'note', body: { i } })));
      const runner2 = await ContractRunner.load(gw2, terms);
      await runner2.sign(signContract(terms, b));
      const mine = JSON.parse(JSON.stringify(await contractDocument(gw.ledger, runner.ref.termsHash))) as ContractDocument;
      const theirs = JSON.parse(JSON.stringify(await contractDocument(gw2.ledger, runner2.ref.termsHash))) as ContractDocument;
      const gwDid = keyToDid(gatewayKey);
      assert.equal(verifyContractDocument(theirs, gwDid).active, false, 'a document of the other ledger alone is valid');
      const mixed = { ...mine, signatures: [mine.signatures[0], theirs.signatures[0]] };
      assert.throws(
        () => verifyContractDocument(mixed, gwDid),
        (e: unknown) => isLedgerError(e, 'ERR_INVALID_TERMS') && /is proved under "pull\.other", not under "pull\.test"/.test(e.message),
      );
    } finally {
      await gw2.close();
      other.cleanup();
    }
  });
});
