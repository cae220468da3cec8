import { isDeepStrictEqual } from 'node:util';
import { openGateways } from '../../lib/gateway';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey, keyToDid, keyToJwk, signEnvelope, verifyProofBundle, type PrivateKey } from '../../lib/index';
import { helper, ledgerNode, messages, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

interface ErrorMsg {
  error: { code?: string; message: string; source: { id: string } };
}

const reading = (key: PrivateKey, counter: number, temperature: number, format: 'jws' | 'cose' = 'jws') =>
  signEnvelope({ temperature, counter, ts: 1764000000000 + counter * 1000 }, key, { format, kid: keyToDid(key) });

describe('nodes: enrol -> verify -> record -> query', function () {
  this.timeout(30000);
  let userDir: string;
  const nodes = packNodes();
  const device = generateKey('Ed25519');
  const p256 = generateKey('ES256');

  const flow = () => onTab([
    ledgerNode(),
    { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
    { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, wires: [['record']] },
    { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', recordType: 'reading', wires: [['recorded']] },
    { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'latest', limit: 10, wires: [['answer']] },
    { id: 'audit', type: 'iot-ledger-audit', ledger: 'ledger', mode: 'full', interval: 0, wires: [['audited']] },
    { id: 'audited', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'enrolled', type: 'helper' },
    { id: 'recorded', type: 'helper' },
    { id: 'answer', type: 'helper' },
    { id: 'caught', type: 'helper' },
  ]);

  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  async function enrol(dev: PrivateKey, name: string): Promise<void> {
    const out = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(dev), name } });
    const m = (await out) as { payload: { name: string; revoked: boolean }; ledger: { index: number } };
    assert.equal(m.payload.name, name);
    assert.equal(m.payload.revoked, false);
  }

  it('records verified readings with the device and the original envelope, and answers queries', async () => {
    await helper.load(nodes, flow());
    await enrol(device, 'freezer-1');
    await enrol(p256, 'freezer-2');
    const recorded = messages<{ payload: { temperature: number }; device: { id: string; name: string }; envelope: unknown; ledger: { index: number; leafHash: string } }>(
      helper.getNode('recorded'),
      3,
    );
    const recordStatuses: unknown[] = [];
    helper.getNode('record').on('call:status', (call: never) => recordStatuses.push((call as { args: unknown[] }).args[0]));
    const env1 = reading(device, 1, -21.5);
    helper.getNode('verify').receive({ payload: env1, topic: 'coldroom/freezer-1' });
    helper.getNode('verify').receive({ payload: Buffer.from(reading(p256, 1, -22, 'cose') as Uint8Array) });
    helper.getNode('verify').receive({ payload: Buffer.from(reading(device, 2, -21.0) as string) });
    const got = await recorded;
    assert.deepEqual(
      got.map((m) => [m.device.name, m.payload.temperature]),
      [
        ['freezer-1', -21.5],
        ['freezer-2', -22],
        ['freezer-1', -21],
      ],
    );
    assert.equal(got[0].envelope, env1);
    assert.ok(Buffer.isBuffer(got[1].envelope));
    assert.deepEqual(got.map((m) => m.ledger.index), [2, 3, 4]);
    // The status is shown at most every 250 ms: the last one comes within that bound.
    const last = { fill: 'green', shape: 'dot', text: '1 block · 5 records' };
    await until('the Record status after the third record', () => isDeepStrictEqual(recordStatuses.at(-1), last), { timeoutMs: 2000, pollMs: 50 });

    const answer = nextMessage<{ payload: { index: number; type: string; device?: string }[] }>(helper.getNode('answer'));
    helper.getNode('query').receive({ payload: { mode: 'device', device: keyToDid(device) } });
    const a = await answer;
    assert.deepEqual(a.payload.map((r) => [r.index, r.type]), [
      [0, 'device.enrol'],
      [2, 'reading'],
      [4, 'reading'],
    ]);

    const proofMsg = nextMessage<{ payload: unknown }>(helper.getNode('answer'));
    helper.getNode('query').receive({ payload: { mode: 'proof', index: 2 } });
    const bundle = (await proofMsg).payload;
    const ledgerInfo = await helper.request().get('/iot-ledger/ledgers/ledger').expect(200);
    const verified = verifyProofBundle(bundle, (ledgerInfo.body as { verifierKey: string }).verifierKey);
    assert.equal(verified.index, 2);
    assert.equal(verified.record.type, 'reading');
  });

  it('sends every rejection to a Catch node with its code and records it as a security event', async () => {
    await helper.load(nodes, flow());
    const stranger = generateKey('Ed25519');
    const caught = messages<ErrorMsg>(helper.getNode('caught'), 6);
    const verify = helper.getNode('verify');
    const statuses: unknown[] = [];
    verify.on('call:status', (call: never) => statuses.push((call as { args: unknown[] }).args[0]));
    const fresh = reading(device, 100, -20.5) as string;
    const [h, , s] = fresh.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ temperature: -30, counter: 101, ts: 1764000101000 })).toString('base64url')}.${s}`;
    verify.receive({ payload: forged }); // bad signature
    verify.receive({ payload: reading(stranger, 1, -21) }); // unknown device
    verify.receive({ payload: 'not an envelope at all' }); // malformed
    verify.receive({ payload: reading(device, 2, -21) }); // replay: counter 2 was accepted in the previous test
    verify.receive({ payload: { some: 'object' } }); // wrong type
    verify.receive({ payload: signEnvelope({ temperature: 1 }, device, { kid: keyToDid(device) }) }); // no counter/time
    const codes = (await caught).map((m) => m.error.code);
    // The status is shown at most every 250 ms: wait for the last counts.
    const want = { fill: 'yellow', shape: 'ring', text: 'verified 0 · rejected 6' };
    await until(() => `status ${JSON.stringify(want)} (last ${JSON.stringify(statuses.at(-1))})`, () => isDeepStrictEqual(statuses.at(-1), want), { timeoutMs: 2000 });
    assert.deepEqual(statuses.at(-1), want);
    // Signatures are checked on another thread, so a message refused before that check can overtake one refused after it.
    assert.deepEqual([...codes].sort(), ['ERR_BAD_SIGNATURE', 'ERR_MALFORMED_ENVELOPE', 'ERR_MALFORMED_ENVELOPE', 'ERR_REPLAY', 'ERR_REPLAY', 'ERR_UNKNOWN_DEVICE']);

    // The first rejection per (device or topic, code) is written at once, repeats are counted in
    // an aggregate written every interval (or now, when flushed).
    for (const gw of await openGateways()) await gw.flushSecurityEvents();
    const answer = nextMessage<{ payload: { device?: string; body: { code: string; count: number; topic?: string } }[] }>(helper.getNode('answer'));
    helper.getNode('query').receive({ payload: { mode: 'type', type: 'security' } });
    const records = (await answer).payload;
    const recorded = records.flatMap((r) => Array<string>(r.body.count).fill(r.body.code));
    assert.deepEqual(recorded.sort(), [...codes].sort());
    // A bad signature is filed under the enrolled device it claimed, not under its topic.
    const forgedRecord = records.find((r) => r.body.code === 'ERR_BAD_SIGNATURE');
    assert.equal(forgedRecord?.device, keyToDid(device));
    assert.equal(forgedRecord?.body.topic, undefined);
  });

  it('rejects a revoked device and keeps the ledger consistent across redeploys', async () => {
    await helper.load(nodes, flow());
    const revoked = nextMessage<{ payload: { revoked: boolean } }>(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { action: 'revoke', did: keyToDid(p256) } });
    assert.equal((await revoked).payload.revoked, true);
    const caught = nextMessage<ErrorMsg>(helper.getNode('caught'));
    helper.getNode('verify').receive({ payload: reading(p256, 50, -21, 'cose') });
    assert.equal((await caught).error.code, 'ERR_REVOKED_DEVICE');
    // the replay window survives a redeploy: state comes back from the ledger
    await helper.unload();
    await helper.load(nodes, flow());
    const caught2 = nextMessage<ErrorMsg>(helper.getNode('caught'));
    helper.getNode('verify').receive({ payload: reading(device, 2, -21) });
    assert.equal((await caught2).error.code, 'ERR_REPLAY');
    const ok = nextMessage<{ ledger: { index: number } }>(helper.getNode('recorded'));
    helper.getNode('verify').receive({ payload: reading(device, 500, -21) });
    assert.ok((await ok).ledger.index > 4);
  });

  it('audits the open ledger in place (full, then incremental) and reports it clean', async () => {
    await helper.load(nodes, flow());
    const statuses: { text?: string }[] = [];
    helper.getNode('audit').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    const first = nextMessage<{ payload: { clean: boolean; size: number; findings: unknown[]; checked: { signatures: number } } }>(helper.getNode('audited'));
    helper.getNode('audit').receive({});
    const report = (await first).payload;
    assert.equal(report.clean, true, JSON.stringify(report.findings));
    assert.ok(report.size >= 5);
    assert.ok(report.checked.signatures >= 3, 'device envelopes were verified');
    await new Promise((r) => setImmediate(r));
    assert.match(String(statuses.at(-1)?.text), /^audit clean · \d+ records$/);
    // appends go on while audits run, from the same process
    const ok = nextMessage(helper.getNode('recorded'));
    helper.getNode('verify').receive({ payload: reading(device, 900, -21) });
    await ok;
    const second = nextMessage<{ payload: { clean: boolean } }>(helper.getNode('audited'));
    helper.getNode('audit').receive({});
    assert.equal((await second).payload.clean, true);
  });

  it('keeps the gateway key out of the flow, in a 0600 key file', async () => {
    await helper.load(nodes, flow());
    const keysDir = path.join(userDir, 'iot-ledger', 'keys');
    const [file] = fs.readdirSync(keysDir);
    assert.equal(fs.statSync(path.join(keysDir, file)).mode & 0o777, 0o600);
    const d = JSON.parse(fs.readFileSync(path.join(keysDir, file), 'utf8')).d as string;
    assert.ok(!JSON.stringify(helper._redNodes.getFlows().flows).includes(d));
    const info = await helper.request().get('/iot-ledger/ledgers/ledger').expect(200);
    assert.ok(!JSON.stringify(info.body).includes(d));
    assert.match((info.body as { gatewayDid: string }).gatewayDid, /^did:key:z6Mk/);
    assert.equal((info.body as { deployed: boolean }).deployed, true);
    // A ledger node added in the editor but not deployed: an answer, not a 404 (a browser console error).
    const absent = await helper.request().get('/iot-ledger/ledgers/not-deployed-yet').expect(200);
    assert.deepEqual(absent.body, { deployed: false });
  });
});

describe('nodes: sign (Node-RED as a signing device)', function () {
  this.timeout(30000);
  let userDir: string;
  const nodes = packNodes();
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  for (const alg of ['Ed25519', 'ES256'] as const) {
    for (const format of ['jws', 'cose'] as const) {
      it(`${alg} ${format}: sign -> verify with trust on first use, key only in credentials`, async () => {
        const key = generateKey(alg);
        const jwk = JSON.stringify(keyToJwk(key, true));
        const flow = onTab([
          ledgerNode('ledger', { ledgerName: `sign-${alg}-${format}` }),
          { id: 'identity', type: 'iot-ledger-identity', name: 'pi', alg, did: keyToDid(key) },
          { id: 'sign', type: 'iot-ledger-sign', identity: 'identity', format, wires: [['signed', 'verify']] },
          { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', tofu: true, wires: [['out']] },
          { id: 'signed', type: 'helper' },
          { id: 'out', type: 'helper' },
        ]);
        await helper.load(nodes, flow, { identity: { jwk } });
        const signed = nextMessage<{ payload: unknown }>(helper.getNode('signed'));
        const out = nextMessage<{ payload: { temperature: number; counter: number }; device: { id: string; tofu?: boolean } }>(helper.getNode('out'));
        helper.getNode('sign').receive({ payload: { temperature: -19.5 } });
        const s = await signed;
        assert.equal(typeof s.payload === 'string', format === 'jws');
        const o = await out;
        assert.equal(o.payload.temperature, -19.5);
        assert.ok(o.payload.counter > 0);
        assert.equal(o.device.id, keyToDid(key));
        assert.equal(o.device.tofu, true);
        assert.ok(!JSON.stringify(helper._redNodes.getFlows().flows).includes(JSON.parse(jwk).d));
      });
    }
  }

  it('reports a missing key through done(err)', async () => {
    const flow = onTab([
      { id: 'identity', type: 'iot-ledger-identity', name: 'empty', alg: 'Ed25519' },
      { id: 'sign', type: 'iot-ledger-sign', identity: 'identity', wires: [[]] },
      { id: 'catcher', type: 'catch', scope: null, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
    await helper.load(nodes, flow);
    const caught = nextMessage<{ error: { code: string } }>(helper.getNode('caught'));
    helper.getNode('sign').receive({ payload: 1 });
    assert.equal((await caught).error.code, 'ERR_MALFORMED_KEY');
  });
});
