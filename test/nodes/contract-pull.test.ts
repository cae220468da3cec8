import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { MAX_CONTRACT_DOCUMENT_BYTES, signContract, validateTerms, verifyContractDocument, type ContractDocument } from '../../lib/contracts';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { helper, ledgerNode, messages, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

describe('Contract node: publishes contract documents and loads terms from them', function () {
  this.timeout(30000);
  let userDir: string;
  const a = generateKey('Ed25519');
  const b = generateKey('Ed25519');
  const terms = validateTerms({
    id: 'pulled-room',
    version: 1,
    title: 'below -20',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(a), keyToDid(b)],
  });
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('a document sent after the last signature is loaded, verified, by a gateway that trusts the origin key', async () => {
    // First deploy creates gateway A's key; its did:key is what gateway B trusts.
    await helper.load(packNodes(), [ledgerNode('ledger-a', { ledgerName: 'origin-a' })]);
    const didA = (await (helper.getNode('ledger-a') as unknown as LedgerConfigNode).gateway()).ledger.gatewayDid;
    await helper.unload();

    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger-a', { ledgerName: 'origin-a' }),
        ledgerNode('ledger-b', { ledgerName: 'puller-b' }),
        { id: 'contract-a', type: 'iot-ledger-contract', ledger: 'ledger-a', terms: JSON.stringify(terms), publishDocument: true, tickSeconds: 3600, wires: [['out-a'], []] },
        { id: 'contract-b', type: 'iot-ledger-contract', ledger: 'ledger-b', terms: '', termsFrom: 'document', originKey: didA, tickSeconds: 3600, wires: [['out-b'], ['judged-b']] },
        { id: 'out-a', type: 'helper' },
        { id: 'out-b', type: 'helper' },
        { id: 'judged-b', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const first = messages<{ topic: string; payload: unknown; retain?: boolean }>(helper.getNode('out-a'), 2);
    helper.getNode('contract-a').receive({ topic: 'contract/sign', payload: signContract(terms, a) });
    const [, doc1] = await first;
    assert.equal(doc1.topic, 'iot-ledger/contract/pulled-room');
    assert.equal(doc1.retain, true);
    assert.equal(verifyContractDocument(doc1.payload, didA).active, false);
    const second = messages<{ topic: string; payload: ContractDocument }>(helper.getNode('out-a'), 2);
    helper.getNode('contract-a').receive({ topic: 'contract/sign', payload: signContract(terms, b) });
    const [, doc2] = await second;
    assert.equal(verifyContractDocument(doc2.payload, didA).active, true);

    // Tampered: refused through done(err), nothing loaded.
    const forged = JSON.parse(JSON.stringify(doc2.payload)) as ContractDocument;
    forged.termsHash = '11'.repeat(32);
    helper.getNode('contract-b').receive({ topic: doc2.topic, payload: JSON.stringify(forged) });
    const caught = await nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
    assert.equal(caught.error.code, 'ERR_INVALID_TERMS');
    // Anyone who can publish on the documents' topic can send what is not JSON at all: an input error too.
    for (const garbage of ['not json', Buffer.from('{"format":'), '']) {
      const next = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
      helper.getNode('contract-b').receive({ topic: doc2.topic, payload: garbage });
      assert.equal((await next).error.code, 'ERR_INVALID_TERMS');
    }

    const loaded = nextMessage<{ topic: string; payload: { active: boolean } }>(helper.getNode('out-b'));
    helper.getNode('contract-b').receive({ topic: doc2.topic, payload: JSON.stringify(doc2.payload) });
    const l = await loaded;
    assert.equal(l.topic, 'contract/pulled-room/loaded');
    assert.equal(l.payload.active, true);
    const judged = nextMessage<{ contract: { contract: string; active: boolean } }>(helper.getNode('judged-b'));
    helper.getNode('contract-b').receive({ payload: { temperature: -25 }, device: { id: keyToDid(generateKey('Ed25519')) } });
    const j = await judged;
    assert.equal(j.contract.contract, 'pulled-room');
    assert.equal(j.contract.active, true);

    // Redeployed (or Node-RED restarted): the active contract's document goes out again, unasked,
    // so a retained copy exists even when every party signed before this start.
    await helper.unload();
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger-a', { ledgerName: 'origin-a' }),
        { id: 'contract-a', type: 'iot-ledger-contract', ledger: 'ledger-a', terms: JSON.stringify(terms), publishDocument: true, tickSeconds: 3600, wires: [['out-a'], []] },
        { id: 'out-a', type: 'helper' },
      ]),
    );
    const again = await nextMessage<{ topic: string; retain?: boolean; payload: ContractDocument }>(helper.getNode('out-a'));
    assert.equal(again.topic, 'iot-ledger/contract/pulled-room');
    assert.equal(again.retain, true);
    assert.equal(again.payload.termsHash, doc2.payload.termsHash);
    assert.equal(verifyContractDocument(again.payload, didA).active, true);
  });

  it('bounds a pulled document before parsing it: over 8 MiB or nested deeper than 64 is refused with its own code', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger-b', { ledgerName: 'puller-bounds' }),
        { id: 'contract-b', type: 'iot-ledger-contract', ledger: 'ledger-b', terms: '', termsFrom: 'document', originKey: keyToDid(generateKey('Ed25519')), tickSeconds: 3600, wires: [['out-b'], []] },
        { id: 'out-b', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const refusal = async (payload: string | Buffer): Promise<string | undefined> => {
      const next = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
      helper.getNode('contract-b').receive({ topic: 'iot-ledger/contract/x', payload });
      return (await next).error.code;
    };
    // Well-formed JSON, so only a bound before JSON.parse tells these apart from a bad document.
    const large = Buffer.from(`{"format":"iot-ledger-contract/1","pad":"${'x'.repeat(MAX_CONTRACT_DOCUMENT_BYTES)}"}`);
    assert.equal(await refusal(large), 'ERR_PAYLOAD_TOO_LARGE');
    const deep = `{"format":"iot-ledger-contract/1","register":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    assert.equal(await refusal(Buffer.from(deep)), 'ERR_PAYLOAD_TOO_DEEP');
    assert.equal(await refusal(deep), 'ERR_PAYLOAD_TOO_DEEP');
    // Within the bounds, a document is checked as before: here it has no register bundle.
    assert.equal(await refusal('{"format":"iot-ledger-contract/1"}'), 'ERR_MALFORMED_PROOF');
  });
});
