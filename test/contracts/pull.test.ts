import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { contractDocument, contractTopic, signContract, validateTerms, verifyContractDocument } from '../../lib/contracts';
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
});
