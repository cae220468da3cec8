import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromUtf8 } from '../../lib/encoding/bytes';
import { contractRef, validateTerms } from '../../lib/contracts';
import { keyToDid } from '../../lib/crypto/didkey';
import { peekEnvelope, verifyEnvelope } from '../../lib/envelope/envelope';
import { Gateway } from '../../lib/gateway';
import { readKeyFile } from '../../lib/crypto/keyfile';
import { generateKey } from '../../lib/crypto/keys';
import { Ledger } from '../../lib/ledger';
import { brokerFromEnvironment, brokersFromEnvironment, contractTerms, ledgersInUse, personaliseContracts, type FlowNode } from '../../demo/flow';
import { loadOrCreateDemoKeys } from '../../demo/keys';
import { prepareFlowLedgers, prepareLedger } from '../../demo/ledger';
import { signReadingsWith } from '../../demo/reading-signer';
import { ledgerPaths } from '../../lib/gateway/paths';
import { projectRoot } from '../support/paths';

const example = (): FlowNode[] => JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'cold-room.json'), 'utf8')) as FlowNode[];
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-demo-'));

describe('demo/keys', () => {
  it('makes one 0600 key file per sensor (the second P-256) and per party, and reads them back later', () => {
    const dir = tmp();
    try {
      const first = loadOrCreateDemoKeys(dir, ['s1', 's2', 's3']);
      assert.deepEqual(first.sensors.map((s) => [s.name, s.alg, s.created]), [['s1', 'Ed25519', true], ['s2', 'ES256', true], ['s3', 'Ed25519', true]]);
      assert.deepEqual(first.parties.map((p) => p.name), ['operator', 'customer']);
      for (const id of [...first.sensors, ...first.parties]) {
        assert.equal(fs.statSync(id.file).mode & 0o777, 0o600, id.file);
        assert.equal(keyToDid(readKeyFile(id.file)), id.did);
      }
      assert.equal(first.sensors[1].file, path.join(dir, 'iot-ledger', 'devices', 's2.jwk'));
      assert.equal(first.parties[0].file, path.join(dir, 'iot-ledger', 'parties', 'operator.jwk'));
      const again = loadOrCreateDemoKeys(dir, ['s1', 's2', 's3']);
      assert.deepEqual(again.sensors.map((s) => [s.did, s.created]), first.sensors.map((s) => [s.did, false]));
      assert.deepEqual(again.parties.map((p) => p.did), first.parties.map((p) => p.did));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses sensor names that are not plain file names', () => {
    for (const bad of ['../x', '', '.hidden', 'a/b']) assert.throws(() => loadOrCreateDemoKeys(os.tmpdir(), [bad]), RangeError, bad);
  });
});

describe('demo/reading-signer', () => {
  it("signs {temperature, door, counter, ts} as a JWS by the sensor's key, kid = its did:key", () => {
    const key = generateKey('ES256');
    const sign = signReadingsWith(new Map([['s1', key]]));
    const jws = sign({ temperature: -21.4, door: 'closed', counter: 7, time: 1_700_000_000_000 }, 's1') as string;
    assert.equal(typeof jws, 'string');
    assert.equal(peekEnvelope(jws).kid, keyToDid(key));
    const v = verifyEnvelope(jws, keyToDid(key));
    assert.equal(v.alg, 'ES256');
    assert.equal(fromUtf8(v.payload), '{"temperature":-21.4,"door":"closed","counter":7,"ts":1700000000000}');
    assert.throws(() => sign({ temperature: 0, door: 'open', counter: 1, time: 1 }, 'unknown'), /no key for sensor unknown/);
  });
});

describe('demo/flow', () => {
  const who = { parties: [keyToDid(generateKey()), keyToDid(generateKey('ES256'))], subjects: [keyToDid(generateKey())] };

  it("puts this installation's parties and subject into the example's contract and changes nothing else", () => {
    const original = example();
    const before = JSON.stringify(original);
    const flows = personaliseContracts(original, who);
    assert.equal(JSON.stringify(original), before, 'the input is not changed');
    assert.deepEqual(flows.map((n) => [n.id, n.type]), original.map((n) => [n.id, n.type]));
    const contract = flows.find((n) => n.type === 'iot-ledger-contract')!;
    const was = contractTerms(original.find((n) => n.type === 'iot-ledger-contract')!)[0] as Record<string, unknown>;
    const now = JSON.parse(String(contract.terms)) as Record<string, unknown>;
    assert.deepEqual(now, { ...was, parties: who.parties, subjects: who.subjects });
    validateTerms(now);
    for (const [a, b] of flows.map((n, i) => [n, original[i]] as const)) if (a.type !== 'iot-ledger-contract') assert.deepEqual(a, b);
  });

  it('keeps subjects "any", handles a list of terms, and reports terms that are not JSON', () => {
    const node = (terms: unknown): FlowNode => ({ id: 'c', type: 'iot-ledger-contract', terms: typeof terms === 'string' ? terms : JSON.stringify(terms) });
    const base = contractTerms(example().find((n) => n.type === 'iot-ledger-contract')!)[0] as Record<string, unknown>;
    const [anyNode] = personaliseContracts([node({ ...base, subjects: 'any' })], who);
    assert.equal((JSON.parse(String(anyNode.terms)) as { subjects: unknown }).subjects, 'any');
    const [listNode] = personaliseContracts([node([base, { ...base, id: 'cold-room-2' }])], who);
    assert.deepEqual((JSON.parse(String(listNode.terms)) as Array<{ id: string; parties: string[] }>).map((t) => [t.id, t.parties]), [
      ['cold-room-1', who.parties],
      ['cold-room-2', who.parties],
    ]);
    assert.throws(() => personaliseContracts([node('{not json')], who), { code: 'ERR_INVALID_TERMS' });
    assert.throws(() => personaliseContracts([node({ ...base, rule: { op: '~' } })], who), { code: 'ERR_INVALID_TERMS' });
  });

  it('finds the ledger the Verify and Contract nodes use, as the config node reads it, and skips disabled ones', () => {
    const flows = example();
    const uses = ledgersInUse(flows);
    assert.equal(uses.length, 1);
    const [use] = uses;
    const config = flows.find((n) => n.type === 'iot-ledger-config')!;
    assert.deepEqual({ ...use, contracts: use.contracts.length }, {
      configId: config.id,
      ledgerName: 'coldroom',
      blockRecords: 1000,
      blockSeconds: 10,
      verifies: true,
      contracts: 1,
    });
    const disabled = flows.map((n) => (n.type === 'iot-ledger-verify' || n.type === 'iot-ledger-contract' ? { ...n, d: true } : n));
    assert.deepEqual(ledgersInUse(disabled), []);
    const tabOff = flows.map((n) => (n.type === 'tab' ? { ...n, disabled: true } : n));
    assert.deepEqual(ledgersInUse(tabOff), []);
    assert.deepEqual(ledgersInUse([{ id: 'x', type: 'iot-ledger-config' }]), [], 'unused config nodes are left alone');
  });
});

describe('demo/ledger', function () {
  this.timeout(20000);
  let dir: string;
  beforeEach(() => {
    dir = tmp();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prepares the ledger of the personalised example exactly where the Ledger config node will open it, once', async () => {
    const keys = loadOrCreateDemoKeys(dir, ['sensor-1', 'sensor-2']);
    const flows = personaliseContracts(example(), { parties: keys.parties.map((p) => p.did), subjects: [keys.sensors[0].did] });
    const opts = {
      paths: (name: string, d?: string) => ledgerPaths(dir, name, d),
      devices: keys.sensors.map((s) => ({ did: s.did, name: s.name })),
      parties: keys.parties,
    };
    const [first] = await prepareFlowLedgers(ledgersInUse(flows), opts);
    const { dir: ledgerDir, keyFile } = ledgerPaths(dir, 'coldroom');
    assert.equal(first.dir, ledgerDir);
    assert.equal(ledgerDir, path.join(dir, 'iot-ledger', 'ledgers', 'coldroom'));
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(first.gatewayDid, keyToDid(readKeyFile(keyFile)));
    assert.deepEqual(first.enrolledNow, ['sensor-1', 'sensor-2']);
    assert.equal(first.activeDevices, 2);
    assert.equal(first.contracts.length, 1);
    const c = first.contracts[0];
    assert.deepEqual([c.id, c.active, c.signedNow, c.missingParties], ['cold-room-1', true, ['operator', 'customer'], []]);
    // The Contract node will hash the very same terms.
    const deployed = JSON.parse(String(flows.find((n) => n.type === 'iot-ledger-contract')!.terms)) as unknown;
    assert.equal(contractRef(validateTerms(deployed)).termsHash, c.termsHash);
    assert.equal(first.size, 5, 'two enrolments, the registration, two signatures');
    assert.equal(first.verifies, true);

    const [again] = await prepareFlowLedgers(ledgersInUse(flows), opts);
    assert.deepEqual([again.size, again.enrolledNow, again.contracts[0].signedNow, again.contracts[0].active], [5, [], [], true]);

    const ledger = await Ledger.open(ledgerDir, { readOnly: true });
    try {
      const types: string[] = [];
      for await (const r of ledger.range(0, ledger.size)) types.push(r.record.type);
      assert.deepEqual(types, ['device.enrol', 'device.enrol', 'contract.register', 'contract.sign', 'contract.sign']);
      assert.equal(ledger.height, 1, 'the first preparation sealed what it wrote; the second wrote nothing');
    } finally {
      await ledger.close();
    }
  });

  it('leaves a revoked device revoked, signs only as a party of the terms, and skips invalid terms', async () => {
    const keys = loadOrCreateDemoKeys(dir, ['a']);
    const { dir: ledgerDir, keyFile } = ledgerPaths(dir, 'other');
    const outsider = keyToDid(generateKey());
    const base = contractTerms(example().find((n) => n.type === 'iot-ledger-contract')!)[0] as Record<string, unknown>;
    const terms = { ...base, subjects: [keys.sensors[0].did], parties: [keys.parties[0].did, outsider] };
    await prepareLedger({ dir: ledgerDir, keyFile, name: 'other', devices: [{ did: keys.sensors[0].did, name: 'a' }] });
    const gw = await Gateway.open(ledgerDir, { name: 'other', gatewayKey: readKeyFile(keyFile) as ReturnType<typeof generateKey> });
    await gw.revoke({ did: keys.sensors[0].did, reason: 'stolen' });
    await gw.close();

    const r = await prepareLedger({
      dir: ledgerDir,
      keyFile,
      name: 'other',
      devices: [{ did: keys.sensors[0].did, name: 'a' }],
      contracts: [terms, { ...terms, id: 'broken', rule: { op: 'between', low: 1, high: 0 } }],
      parties: keys.parties,
    });
    assert.deepEqual(r.enrolledNow, []);
    assert.equal(r.activeDevices, 0);
    assert.deepEqual(r.contracts.map((c) => [c.id, c.signedNow, c.active, c.missingParties]), [['cold-room-1', ['operator'], false, [outsider]]]);
    assert.deepEqual(r.skipped.map((s) => [s.id, s.code]), [['broken', 'ERR_INVALID_TERMS']]);
  });

  it('refuses a gateway key that is not the ledger\'s', async () => {
    const { dir: ledgerDir, keyFile } = ledgerPaths(dir, 'coldroom');
    await prepareLedger({ dir: ledgerDir, keyFile, name: 'coldroom' });
    fs.rmSync(keyFile);
    await assert.rejects(prepareLedger({ dir: ledgerDir, keyFile, name: 'coldroom' }), /is not the key of ledger/);
  });
});

describe('demo/flow: the broker npm start uses', () => {
  it("points the examples' broker nodes at ${MQTT_HOST}:${MQTT_PORT} and finds them again", () => {
    const flows = [
      { id: 'b', type: 'mqtt-broker', broker: 'localhost', port: '1883', name: 'cold-room broker' },
      { id: 'in', type: 'mqtt in', broker: 'b', topic: 'x' },
    ];
    const out = brokerFromEnvironment(flows);
    assert.deepEqual(out[0], { id: 'b', type: 'mqtt-broker', broker: '${MQTT_HOST}', port: '${MQTT_PORT}', name: 'cold-room broker' });
    assert.deepEqual(out[1], flows[1]);
    assert.equal(flows[0].broker, 'localhost', 'the input is not changed');
    assert.deepEqual(brokersFromEnvironment(out), ['b']);
    assert.deepEqual(brokersFromEnvironment(flows), [], 'a broker typed in by the user is not npm start’s');
  });
});
