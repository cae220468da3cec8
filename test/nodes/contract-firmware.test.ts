import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ContractRechecker, signContract, termsHashHex, validateTerms } from '../../lib/contracts';
import { createManifest, createReport } from '../../lib/firmware';
import { Ledger } from '../../lib/ledger';
import { auditLedger, generateKey, jwkToKey, keyToDid, signEnvelope, type PrivateKey } from '../../lib/index';
import { runCli } from '../support/cli';
import { helper, ledgerNode, messages, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

const nodes = packNodes();
const sensor = generateKey('Ed25519');
const operator = generateKey('Ed25519');
const customer = generateKey('ES256');
let counter = 0;
const reading = (key: PrivateKey, temperature: number) =>
  signEnvelope({ temperature, counter: ++counter, ts: Date.now() }, key, { kid: keyToDid(key) });

const terms = validateTerms({
  id: 'cold-room-1',
  version: 1,
  title: 'Cold room stays below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  hysteresis: 0.5,
  parties: [keyToDid(operator), keyToDid(customer)],
});

describe('nodes: verify -> contract -> record (cold room)', function () {
  this.timeout(30000);
  let userDir: string;
  const flow = () =>
    onTab([
      ledgerNode('ledger', { ledgerName: 'cold-room' }),
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['enrolled']] },
      { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', wires: [['contract']] },
      { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['events'], ['state', 'record']] },
      { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', wires: [['recorded']] },
      { id: 'enrolled', type: 'helper' },
      { id: 'events', type: 'helper' },
      { id: 'state', type: 'helper' },
      { id: 'recorded', type: 'helper' },
      { id: 'catcher', type: 'catch', scope: null, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('registers the terms, waits for both parties, then judges and records every reading', async () => {
    await helper.load(nodes, flow());
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(sensor), name: 'freezer-1' } });
    await enrolled;

    // Not active yet: the reading goes on, unjudged, and no event.
    const early = nextMessage<{ contract: unknown[]; payload: { temperature: number } }>(helper.getNode('state'));
    helper.getNode('verify').receive({ payload: reading(sensor, -21) });
    const e = await early;
    assert.deepEqual(e.contract, []);
    assert.equal(e.payload.temperature, -21);

    for (const party of [operator, customer]) {
      const st = nextMessage<{ payload: { active: boolean; missingParties: string[] } }>(helper.getNode('events'));
      helper.getNode('contract').receive({ topic: 'contract/sign', payload: signContract(terms, party, { kid: keyToDid(party) }) });
      const s = await st;
      assert.equal(s.payload.active, party === customer);
    }

    const events = messages<{ payload: { type: string } }>(helper.getNode('events'), 4);
    const states = messages<{ contract: { status: string }; ledger: { index: number }; payload: { temperature: number } }>(helper.getNode('recorded'), 4);
    for (const t of [-21.5, -19.8, -20.2, -21]) helper.getNode('verify').receive({ payload: reading(sensor, t) });
    assert.deepEqual(
      (await events).map((e) => e.payload.type),
      ['excursion.started', 'violation', 'excursion.ended', 'compliance.restored'],
    );
    // -20.2 is below the limit but not by the 0.5 hysteresis: still violated
    const recorded = await states;
    assert.deepEqual(recorded.map((m) => m.contract.status), ['compliant', 'violated', 'violated', 'compliant']);
    assert.deepEqual(recorded.map((m) => m.payload.temperature), [-21.5, -19.8, -20.2, -21]);
    assert.ok(recorded.every((m) => m.ledger.index > 0), 'each reading is recorded after it was judged');
  });

  it('rebuilds the state from the ledger after a redeploy, and the recheck agrees with every verdict', async () => {
    await helper.load(nodes, flow());
    const st = nextMessage<{ contract: { status: string; active: boolean; state: { counters: { readings: number } } } }>(helper.getNode('state'));
    helper.getNode('verify').receive({ payload: reading(sensor, -22) });
    const s = await st;
    assert.equal(s.contract.active, true);
    assert.equal(s.contract.state.counters.readings, 5, 'the four readings before the redeploy are replayed');
    await helper.unload();

    const dir = `${userDir}/iot-ledger/ledgers/cold-room`;
    const ledger = await Ledger.open(dir, { readOnly: true });
    const recheck = new ContractRechecker();
    let types: string[] = [];
    let last = 0;
    for await (const r of ledger.range(0)) {
      recheck.apply(r.record.type, r.record.body, r.index);
      types.push(r.record.type);
      last = r.index;
    }
    await ledger.close();
    assert.deepEqual(recheck.finish(last), []);
    const report = await auditLedger(dir, { workers: 0 });
    assert.deepEqual(report.findings, [], 'the audit re-runs the contract and agrees');
    types = types.filter((t) => t.startsWith('contract.'));
    assert.equal(types.filter((t) => t === 'contract.register').length, 1);
    assert.equal(types.filter((t) => t === 'contract.sign').length, 2);
    assert.equal(types.filter((t) => t === 'contract.event').length, 4);
    assert.equal(types.filter((t) => t === 'contract.reading').length, 5);
  });

  it('a flow saved with "record each evaluated reading" unticked: warned, and the readings are recorded, so the audit re-runs every verdict', async () => {
    const dir = `${userDir}/iot-ledger/ledgers/readings-room`;
    await helper.load(
      nodes,
      flow().map((n) =>
        n.id === 'contract' ? { ...n, recordReadings: false } : n.id === 'ledger' ? { ...n, ledgerName: 'readings-room' } : n,
      ),
    );
    const contract = helper.getNode('contract') as unknown as { warn: { args: unknown[][]; thisValues: unknown[] } };
    const warned = contract.warn.args.filter((_, i) => contract.warn.thisValues[i] === contract).map((a) => String(a[0]));
    assert.ok(warned.some((w) => w.includes('no longer a setting')), `warnings: ${warned.join(' | ')}`);
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(sensor), name: 'freezer-1' } });
    await enrolled;
    for (const party of [operator, customer]) {
      const st = nextMessage(helper.getNode('events'));
      helper.getNode('contract').receive({ topic: 'contract/sign', payload: signContract(terms, party, { kid: keyToDid(party) }) });
      await st;
    }
    const events = messages<{ payload: { type: string } }>(helper.getNode('events'), 2);
    const recorded = messages(helper.getNode('recorded'), 3);
    for (const t of [-21.5, -19.8, -21]) helper.getNode('verify').receive({ payload: reading(sensor, t) });
    assert.deepEqual((await events).map((e) => e.payload.type), ['excursion.started', 'violation']);
    await recorded;
    await helper.unload();
    const report = await auditLedger(dir, { workers: 0 });
    assert.deepEqual(report.findings, [], 'the audit re-runs the contract and agrees');
    const ledger = await Ledger.open(dir, { readOnly: true });
    let readings = 0;
    for await (const r of ledger.range(0)) if (r.record.type === 'contract.reading') readings++;
    await ledger.close();
    assert.equal(readings, 3);
  });

  it('finds a forged verdict', async () => {
    const dir = `${userDir}/iot-ledger/ledgers/cold-room`;
    const key = JSON.parse(fs.readFileSync(`${userDir}/iot-ledger/keys/cold-room.gateway.jwk`, 'utf8'));
    const ledger = await Ledger.open(dir, { gatewayKey: jwkToKey(key) as PrivateKey });
    const ref = { contract: terms.id, version: terms.version, termsHash: termsHashHex(terms) };
    const forged = await ledger.append({ type: 'contract.event', body: { ...ref, input: { kind: 'reading', time: Date.now() }, event: { type: 'compliance.restored', time: Date.now(), value: -25, excursionStart: 0, excursionSeconds: 0 } } });
    const recheck = new ContractRechecker();
    let last = 0;
    for await (const r of ledger.range(0)) {
      recheck.apply(r.record.type, r.record.body, r.index);
      last = r.index;
    }
    await ledger.close();
    const found = recheck.finish(last);
    assert.equal(found.length, 1);
    assert.equal(found[0].index, forged.index);
    const report = await auditLedger(dir, { workers: 0 });
    assert.equal(report.clean, false);
    assert.deepEqual(report.findings.map((f) => [f.kind, f.index]), [['contract-verdict', forged.index]]);
  });
});

describe('nodes: firmware', function () {
  this.timeout(30000);
  let userDir: string;
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('registers releases, approves updates for several devices, rejects a rollback and records reports', async () => {
    const vendor = generateKey('Ed25519');
    const devices = [generateKey('Ed25519'), generateKey('ES256')];
    const flow = onTab([
      ledgerNode('ledger', { ledgerName: 'fw' }),
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['out']] },
      { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', requireFreshness: true, wires: [['fw']] },
      { id: 'fw', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    await helper.load(nodes, flow);
    const out = helper.getNode('out');
    const fw = helper.getNode('fw');
    const ask = async (msg: Record<string, unknown>) => {
      const m = nextMessage<{ firmware: { decision: string; reason?: string } }>(out);
      fw.receive(msg);
      return (await m).firmware;
    };
    for (const d of devices) {
      const m = nextMessage(out);
      helper.getNode('enrol').receive({ payload: { did: keyToDid(d), name: keyToDid(d).slice(-6) } });
      await m;
    }
    assert.equal((await ask({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } })).decision, 'recorded');
    const digest = (n: number) => n.toString(16).padStart(64, '0');
    for (const seq of [1, 2]) {
      const manifest = createManifest({ vendor: 'acme', class: 'thermo-v1', version: `1.${seq}.0`, sequence: seq, digest: digest(seq), size: 1000 + seq }, vendor);
      assert.equal((await ask({ mode: 'release', payload: manifest })).decision, 'recorded');
    }
    for (const d of devices) {
      const r = await ask({ payload: { device: keyToDid(d), vendor: 'acme', class: 'thermo-v1', sequence: 2 } });
      assert.equal(r.decision, 'approved');
    }
    const rollback = await ask({ payload: { device: keyToDid(devices[0]), vendor: 'acme', class: 'thermo-v1', sequence: 1 } });
    assert.deepEqual([rollback.decision, rollback.reason], ['rejected', 'rollback']);
    const unsigned = await ask({ mode: 'release', payload: signEnvelope({ vendor: 'acme', class: 'thermo-v1', version: '9', sequence: 9, digest: digest(9), size: 9 }, generateKey('Ed25519')) });
    assert.equal(unsigned.decision, 'rejected');

    const report = createReport({ class: 'thermo-v1', vendor: 'acme', version: '1.2.0', sequence: 2, digest: digest(2), counter: 1 }, devices[1]);
    const rep = nextMessage<{ firmware: { decision: string; body: { status: string } } }>(out);
    fw.receive({ mode: 'report', payload: report, device: { id: keyToDid(devices[1]) } });
    const r = await rep;
    assert.equal(r.firmware.decision, 'recorded');
    assert.equal(r.firmware.body.status, 'confirmed');
    await helper.unload();

    const dir = `${userDir}/iot-ledger/ledgers/fw`;
    assert.deepEqual((await auditLedger(dir, { workers: 0 })).findings, [], 'every recorded decision follows the rules');
    const cli = runCli(['firmware', 'history', dir, '--json']);
    assert.equal(cli.status, 0, cli.stderr);
    const history = JSON.parse(cli.stdout) as { device: string; versions: { version: string; approvedBy?: { signer: string } }[]; rejections: { reason: string }[] }[];
    const first = history.find((h) => h.device === keyToDid(devices[0]));
    assert.deepEqual(first?.versions.map((v) => [v.version, v.approvedBy?.signer]), [['1.2.0', keyToDid(vendor)]]);
    assert.deepEqual(first?.rejections.map((j) => j.reason), ['rollback']);
    assert.match(runCli(['firmware', 'history', dir, '--device', keyToDid(devices[1])]).stdout, /1\.2\.0 \(seq 2, thermo-v1\)/);
    // A forged approval of the rollback the gateway refused:
    const key = jwkToKey(JSON.parse(fs.readFileSync(`${userDir}/iot-ledger/keys/fw.gateway.jwk`, 'utf8'))) as PrivateKey;
    const ledger = await Ledger.open(dir, { gatewayKey: key });
    let approved: Record<string, unknown> | undefined;
    for await (const rec of ledger.byType('firmware.decision')) {
      const b = rec.record.body as Record<string, unknown>;
      if (b.decision === 'approved' && b.device === keyToDid(devices[0])) approved = b;
    }
    assert.ok(approved);
    const forged = await ledger.append({ type: 'firmware.decision', device: keyToDid(devices[0]), body: { ...approved, sequence: 1, digest: digest(1), version: '1.1.0', size: 1001, at: Date.now() } });
    await ledger.close();
    const audit = await auditLedger(dir, { workers: 0 });
    assert.deepEqual(audit.findings.map((f) => [f.kind, f.index]), [['firmware-decision', forged.index]]);
  });
});
