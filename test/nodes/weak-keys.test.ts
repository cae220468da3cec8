import * as assert from 'node:assert/strict';
import { concatBytes, fromBase64Url, fromHex, toBase58, toBase64Url, utf8 } from '../../lib/encoding/bytes';
import { keyToDid, publicKeyFromBytes } from '../../lib/crypto';
import { helper, ledgerNode, messages, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

// A small-order Ed25519 key (here the identity, 01 00 … 00) accepts R = identity, S = 0 on any
// message. In a running Node-RED it must be refused at every door: the Enrol node, the editor's
// did endpoint and trust on first use in Verify.

const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
const weakDid = `did:key:z${toBase58(concatBytes(Uint8Array.of(0xed, 0x01), identity))}`;
const forgedSig = new Uint8Array(64);
forgedSig[0] = 1;

function forgedReading(counter: number): string {
  const header = toBase64Url(utf8(JSON.stringify({ alg: 'EdDSA', kid: weakDid })));
  const payload = toBase64Url(utf8(JSON.stringify({ temperature: 99, counter, ts: 1764000000000 + counter })));
  return `${header}.${payload}.${toBase64Url(forgedSig)}`;
}

interface ErrorMsg {
  error: { code?: string; message: string; source: { id: string } };
}

describe('nodes: small-order keys are refused at every door', function () {
  this.timeout(30000);
  let userDir: string;
  const nodes = packNodes();
  const flow = () =>
    onTab([
      ledgerNode(),
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
      { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, tofu: true, wires: [['verified']] },
      { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'enrolled', type: 'helper' },
      { id: 'verified', type: 'helper' },
      { id: 'caught', type: 'helper' },
    ]);

  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('Enrol answers ERR_WEAK_KEY through done(err) and enrols nothing; TOFU in Verify refuses the forgery', async () => {
    await helper.load(nodes, flow());
    const caught = messages<ErrorMsg>(helper.getNode('caught'), 2);
    const enrolled: unknown[] = [];
    helper.getNode('enrolled').on('input', (m: never) => enrolled.push(m));
    const verified: unknown[] = [];
    helper.getNode('verified').on('input', (m: never) => verified.push(m));
    helper.getNode('enrol').receive({ payload: { did: weakDid, name: 'mallory' } });
    helper.getNode('verify').receive({ payload: forgedReading(1) });
    const errors = await caught;
    assert.deepEqual(errors.map((m) => [m.error.source.id, m.error.code]).sort(), [['enrol', 'ERR_WEAK_KEY'], ['verify', 'ERR_WEAK_KEY']]);
    assert.deepEqual(enrolled, []);
    assert.deepEqual(verified, []);
    const info = (await helper.request().get('/iot-ledger/ledgers/ledger').expect(200)).body as { devices: number };
    assert.equal(info.devices, 0);
  });

  it('POST /iot-ledger/did answers 400 with ERR_WEAK_KEY for the JWK of such a key', async () => {
    await helper.load(nodes, flow());
    const res = await helper.request().post('/iot-ledger/did').send({ kty: 'OKP', crv: 'Ed25519', x: toBase64Url(identity) }).expect(400);
    assert.equal((res.body as { code: string }).code, 'ERR_WEAK_KEY');
    // a sound key still gets its did:key
    const x = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
    const ok = await helper.request().post('/iot-ledger/did').send({ kty: 'OKP', crv: 'Ed25519', x }).expect(200);
    assert.equal((ok.body as { did: string }).did, keyToDid(publicKeyFromBytes('Ed25519', fromBase64Url(x))));
  });
});
