import * as assert from 'node:assert/strict';
import * as mqtt from 'mqtt';
import { generateKey, keyToDid } from '../../lib/crypto';
import { CONTRACT_REGISTER, contractDocument, contractTopic, MAX_CONTRACT_DOCUMENT_BYTES, signContract, validateTerms, verifyContractDocument, type ContractDocument } from '../../lib/contracts';
import { ContractRunner, Gateway } from '../../lib/gateway';
import { startBroker } from '../../demo/broker';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { MqttWatch } from '../ha/mqtt-watch';
import { tempDir } from '../support/ledger';
import { until } from '../support/until';
import { haBrokerNode, mqttNodes } from './ha-support';
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
    // And once more a few seconds later: Node-RED's MQTT out drops what it gets before its broker
    // connection is up, which a slow start can make of the first one.
    const later = await nextMessage<{ topic: string; retain?: boolean; payload: ContractDocument }>(helper.getNode('out-a'), 10_000);
    assert.equal(later.topic, again.topic);
    assert.equal(later.retain, true);
    assert.deepEqual(later.payload, again.payload);
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

  it('over a real broker: an older document the origin signed, retained over its copy, is refused (ERR_REPLAY), other terms under the current version too (ERR_CONTRACT_CONFLICT); the current terms alone run, also after a restart', async () => {
    // The origin gateway signed three documents of one contract id: version 1, version 2 and
    // (registered by mistake or malice) other terms under version 2.
    const originKey = generateKey('Ed25519');
    const origin = tempDir();
    const gw = await Gateway.open(origin.dir, { name: 'stale-origin', gatewayKey: originKey, blockRecords: 100, blockSeconds: 0 });
    const base = { id: 'stale-room', title: 'below -20', subjects: 'any', metric: 'temperature', rule: { op: '<', limit: -20 }, alarm: { mode: 'instant' }, parties: [keyToDid(a)] };
    const signedDocument = async (t: Record<string, unknown>): Promise<Buffer> => {
      const runner = await ContractRunner.load(gw, t);
      await runner.sign(signContract(runner.terms, a));
      return Buffer.from(JSON.stringify(await contractDocument(gw.ledger, runner.ref.termsHash)));
    };
    const v1 = await signedDocument({ ...base, version: 1 });
    const v2 = await signedDocument({ ...base, version: 2, rule: { op: '<', limit: -18 } });
    const v2other = await signedDocument({ ...base, version: 2, title: 'other terms, same version' });
    await gw.close();
    origin.cleanup();

    const broker = await startBroker({ port: 0 });
    const anyone = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const topic = contractTopic('stale-room');
    const flow = () => [
      ...onTab([
        ledgerNode('ledger-b', { ledgerName: 'puller-stale' }),
        { id: 'in', type: 'mqtt in', topic: 'iot-ledger/contract/+', qos: '1', datatype: 'buffer', broker: 'broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['contract-b']] },
        { id: 'contract-b', type: 'iot-ledger-contract', ledger: 'ledger-b', terms: '', termsFrom: 'document', originKey: keyToDid(originKey), tickSeconds: 3600, wires: [['out-b'], ['judged-b']] },
        { id: 'out-b', type: 'helper' },
        { id: 'judged-b', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
      haBrokerNode('broker', broker.port, false),
    ];
    const publish = (payload: Buffer) => anyone.publishAsync(topic, payload, { qos: 1, retain: true });
    const loaded = async (payload: Buffer): Promise<{ contract: { version: number } }> => {
      const next = nextMessage<{ contract: { version: number } }>(helper.getNode('out-b'));
      await publish(payload);
      return next;
    };
    const refused = async (payload: Buffer): Promise<string | undefined> => {
      const next = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
      await publish(payload);
      return (await next).error.code;
    };
    // What judges a reading: one contract state, or a list when several run.
    const running = async (): Promise<unknown> => {
      const next = nextMessage<{ contract: unknown }>(helper.getNode('judged-b'));
      helper.getNode('contract-b').receive({ payload: { temperature: -25 }, device: { id: keyToDid(generateKey('Ed25519')) } });
      const c = (await next).contract;
      return Array.isArray(c) ? c.map((x: { version: number }) => x.version) : (c as { version: number }).version;
    };
    try {
      await helper.load([...packNodes(), ...mqttNodes()], flow());
      assert.equal((await loaded(v1)).contract.version, 1);
      assert.equal((await loaded(v2)).contract.version, 2);
      assert.equal(await running(), 2, 'version 2 replaces version 1');

      // Anyone republishes version 1, retained over the origin's copy.
      assert.equal(await refused(v1), 'ERR_REPLAY');
      assert.equal(await refused(v2other), 'ERR_CONTRACT_CONFLICT');
      assert.equal(await running(), 2, 'the current terms are still the only ones running');
      // The current document again (the origin republishes on every start): accepted, nothing registered again.
      assert.equal((await loaded(v2)).contract.version, 2);

      // Restarted: nothing runs until a document arrives, and this ledger's registrations say
      // which version is current. (The retained copy is cleared first, so the test knows when v1 arrives.)
      await helper.unload();
      await anyone.publishAsync(topic, '', { qos: 1, retain: true });
      await helper.load([...packNodes(), ...mqttNodes()], flow());
      assert.equal(await refused(v1), 'ERR_REPLAY');
      assert.equal((await loaded(v2)).contract.version, 2);
      assert.equal(await running(), 2);
      const ledger = (await (helper.getNode('ledger-b') as unknown as LedgerConfigNode).gateway()).ledger;
      const versions: unknown[] = [];
      for await (const r of ledger.byType(CONTRACT_REGISTER)) versions.push((r.record.body as { version?: unknown }).version);
      assert.deepEqual(versions, [1, 2], 'each version registered once');
      await anyone.publishAsync(topic, '', { qos: 1, retain: true });
    } finally {
      await anyone.endAsync();
      await broker.close();
    }
  });

  it('over a real broker: our retained document overwritten by someone else (a forged one, an empty one) is published again, a few times for a flood; a publishing node ignores the documents of other contracts', async () => {
    const broker = await startBroker({ port: 0 });
    const topic = contractTopic('kept-room');
    const kept = validateTerms({ ...terms, id: 'kept-room', parties: [keyToDid(a)] });
    const watch = await MqttWatch.connect(broker.url, ['iot-ledger/contract/+']);
    try {
      await helper.load(
        [...packNodes(), ...mqttNodes()],
        [
          ...onTab([
            ledgerNode('ledger-a', { ledgerName: 'keeper-a' }),
            { id: 'in', type: 'mqtt in', topic: 'iot-ledger/contract/+', qos: '1', datatype: 'buffer', broker: 'broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['contract-a']] },
            { id: 'contract-a', type: 'iot-ledger-contract', ledger: 'ledger-a', terms: JSON.stringify(kept), publishDocument: true, tickSeconds: 3600, wires: [['to-broker'], []] },
            { id: 'to-broker', type: 'mqtt out', topic: '', qos: '1', retain: '', broker: 'broker', wires: [] },
            { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
          ]),
          haBrokerNode('broker', broker.port, false),
        ],
      );
      const caught: unknown[] = [];
      helper.getNode('caught').on('input', (m: unknown) => caught.push(m));
      helper.getNode('contract-a').receive({ topic: 'contract/sign', payload: signContract(kept, a) });
      const ours = (await watch.waitFor((m) => m.topic === topic, 'the document after the last signature')).payload;
      const did = (await (helper.getNode('ledger-a') as unknown as LedgerConfigNode).gateway()).ledger.gatewayDid;
      assert.equal(verifyContractDocument(JSON.parse(ours), did).active, true);

      const forged = JSON.stringify({ ...(JSON.parse(ours) as object), termsHash: '11'.repeat(32) });
      // Another contract's document on the same wildcard is not this node's: no error, nothing sent
      // (the node handles it before the forgeries below, which it has seen once ours is back).
      await watch.client.publishAsync(contractTopic('someone-else'), forged, { qos: 1, retain: false });
      const from = watch.messages.length;
      await watch.client.publishAsync(topic, '', { qos: 1, retain: true });
      const spoofs = 100;
      for (let i = 0; i < spoofs; i++) await watch.client.publishAsync(topic, forged, { qos: 1, retain: true });
      const last = watch.messages.length;
      await watch.waitFor((m) => m.topic === topic && m.payload === ours, 'our document published again after the last forgery', 5000, last);

      // What a device gets when it subscribes: ours, retained.
      const fresh = await MqttWatch.connect(broker.url, [topic]);
      try {
        await until('our document retained on the broker', () => fresh.last(topic) === ours);
      } finally {
        await fresh.close();
      }
      const restored = watch.messages.slice(from).filter((m) => m.topic === topic && m.payload === ours).length;
      assert.ok(restored >= 1 && restored < spoofs / 2, `our document published ${restored} times for ${spoofs} forgeries`);
      assert.deepEqual(caught, []);
      await watch.client.publishAsync(topic, '', { qos: 1, retain: true });
    } finally {
      await watch.close();
      await broker.close();
    }
  });
});
