import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToDid, keyToJwk, generateKey, signEnvelope, verifyEnvelope, fromUtf8 } from '../../lib/index';
import { verifyProofBundle } from '../../lib/ledger';
import { projectRoot } from '../support/paths';
import { helper, messages, nextMessage, packNodes, type TestNode, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// The example flows, run for real in a Node-RED runtime (node-red-node-test-helper) with the
// core nodes they use. MQTT nodes are left out (the e2e test of `npm start` covers them).

interface FlowNode {
  id: string;
  type: string;
  name?: string;
  wires?: string[][];
  [k: string]: unknown;
}

const core = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/25-catch.js',
  'common/90-comment.js',
  'function/10-function.js',
  'function/10-switch.js',
  'function/15-change.js',
  'sequence/17-split.js',
  'parsers/70-JSON.js',
  'storage/10-file.js',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
].map((f) => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', f)) as unknown);
const nodes = [...packNodes(), ...core];

const WITHOUT = new Set(['mqtt in', 'mqtt out', 'mqtt-broker']);

/** An example as a test flow: MQTT nodes (and wires to them) removed, `edit` applied to each node. */
function example(file: string, edit: (n: FlowNode) => FlowNode = (n) => n): FlowNode[] {
  const flow = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', file), 'utf8')) as FlowNode[]).filter((n) => !WITHOUT.has(n.type));
  const ids = new Set(flow.map((n) => n.id));
  return flow.map((n) => edit(n.wires ? { ...n, wires: n.wires.map((port) => port.filter((id) => ids.has(id))) } : n));
}

/** Finds a node of an example by type and name. */
function find(flow: FlowNode[], type: string, name?: string): TestNode {
  const hits = flow.filter((n) => n.type === type && (name === undefined || n.name === name));
  assert.equal(hits.length, 1, `${type} "${name}": ${hits.length} nodes`);
  return helper.getNode(hits[0].id);
}

/** Presses an Inject node and waits for `n` messages at `at`. */
async function press<T = Record<string, unknown>>(inject: TestNode, at: TestNode, n = 1): Promise<T[]> {
  const got = messages<T>(at, n);
  inject.receive({});
  return got;
}

interface FirmwareMsg {
  topic?: string;
  firmware: { mode: string; decision: string; reason?: string; body: Record<string, unknown> };
}

describe('examples, run in Node-RED', function () {
  this.timeout(30000);
  let userDir: string;

  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('firmware-updates: ① to ⑦ in order give the documented decisions, and ④ again is a replay', async () => {
    const flow = example('firmware-updates.json');
    const tab = flow.find((n) => n.type === 'tab')?.id;
    await helper.load(nodes, [
      ...flow,
      { id: 'test-catch', type: 'catch', z: tab, scope: null, wires: [['test-caught']] },
      { id: 'test-caught', type: 'helper', z: tab },
    ]);
    const inject = (name: string) => find(flow, 'inject', name);
    const out = (step: string) => find(flow, 'debug', `${step} msg.firmware`);

    const [vendor] = await press<FirmwareMsg>(inject('trust acme-cold key'), out('①'));
    assert.deepEqual([vendor.firmware.mode, vendor.firmware.decision], ['vendor', 'recorded']);

    const enrolled = await press<{ payload: { action: string; name: string } }>(inject('two devices'), find(flow, 'debug', '② enrolled'), 2);
    assert.deepEqual(enrolled.map((m) => [m.payload.action, m.payload.name]), [['enrol', 'freezer-A'], ['enrol', 'freezer-B']]);

    const releases = await press<FirmwareMsg>(inject('two signed manifests'), out('③'), 2);
    assert.deepEqual(releases.map((m) => m.firmware.decision), ['recorded', 'recorded']);
    assert.deepEqual(releases.map((m) => (m.firmware.body.manifest as { version: string }).version), ['2.3.0', '2.4.0']);

    const [first] = await press<FirmwareMsg>(inject('report: A runs 2.3.0'), out('④'));
    assert.deepEqual([first.firmware.decision, first.firmware.body.status, first.firmware.body.version], ['recorded', 'initial', '2.3.0']);

    const checks = await press<FirmwareMsg>(inject('check updates'), out('⑤'), 2);
    assert.deepEqual(checks.map((m) => [m.topic, m.firmware.decision, m.firmware.body.sequence]), [
      ['device A', 'approved', 24],
      ['device B', 'approved', 24],
    ]);
    assert.deepEqual(checks[1].firmware.body.image, { digest: checks[1].firmware.body.digest, size: checks[1].firmware.body.size });

    const [rollback] = await press<FirmwareMsg>(inject('A back to 2.3.0'), out('⑥'));
    assert.deepEqual([rollback.firmware.decision, rollback.firmware.reason], ['rejected', 'rollback']);

    const [confirmed] = await press<FirmwareMsg>(inject('report: A runs 2.4.0'), out('⑦'));
    assert.deepEqual([confirmed.firmware.decision, confirmed.firmware.body.status], ['recorded', 'confirmed']);

    // A report sent again is refused (anyone on the report topic could send it), not recorded.
    const [replay] = await press<{ error: { code: string; message: string } }>(inject('report: A runs 2.3.0'), helper.getNode('test-caught'));
    assert.equal(replay.error.code, 'ERR_FIRMWARE_REJECTED');
    assert.match(replay.error.message, /counter 1 is not above the last accepted 2/);
  });

  it('cold-room + audit-and-proof: rejects with codes, enrols, records, queries, audits clean and proves a record for verify-proof', async () => {
    const proofFile = path.join(userDir, 'proof.json');
    // Blocks seal after 1 s here (10 s in the example), so record 0 is soon provable.
    const fast = (n: FlowNode): FlowNode => (n.type === 'iot-ledger-config' ? { ...n, blockSeconds: 1 } : n);
    const flow = [
      ...example('cold-room.json', fast),
      ...example('audit-and-proof.json', (n) => (n.type === 'file' ? { ...n, filename: proofFile } : n)).filter((n) => n.type !== 'iot-ledger-config'),
    ];
    await helper.load(nodes, flow);
    const verify = find(flow, 'iot-ledger-verify');
    const rejected = find(flow, 'debug', 'rejected');

    // Unsigned JSON and a reading signed by a key nobody enrolled: both rejected, with their code.
    const stranger = generateKey('Ed25519');
    const signed = (key: typeof stranger, counter: number, temperature: number) =>
      signEnvelope({ temperature, door: 'closed', counter, ts: Date.now() }, key, { kid: keyToDid(key) });
    let got = nextMessage<{ payload: { code: string; node: string; topic: string } }>(rejected);
    verify.receive({ topic: 'coldroom/sensor-1/reading', payload: '{"temperature":-25}' });
    const first = (await got).payload;
    assert.deepEqual([first.code, first.node, first.topic], ['ERR_MALFORMED_ENVELOPE', 'Verify signature', 'coldroom/sensor-1/reading']);
    got = nextMessage(rejected);
    verify.receive({ topic: 'coldroom/x/reading', payload: signed(stranger, 1, -21) });
    assert.equal((await got).payload.code, 'ERR_UNKNOWN_DEVICE');

    // The example's Enrol inject (an example device), then a device of ours through the Enrol node.
    const [enrolled] = await press<{ payload: { action: string; name: string } }>(find(flow, 'inject', 'enrol example device'), find(flow, 'debug', 'enrolment'));
    assert.deepEqual([enrolled.payload.action, enrolled.payload.name], ['enrol', 'freezer-2-sensor']);
    const ours = generateKey('ES256');
    const enrolledOurs = nextMessage(find(flow, 'debug', 'enrolment'));
    find(flow, 'iot-ledger-enrol', 'Enrol / revoke').receive({ payload: { did: keyToDid(ours), name: 'ours' } });
    await enrolledOurs;

    // Our device is no subject of cold-room-1 (whose example parties never signed): recorded, unjudged.
    const recorded = nextMessage<{ payload: Record<string, unknown>; contract: unknown; ledger: { index: number } }>(find(flow, 'debug', 'recorded (msg.ledger)'));
    verify.receive({ topic: 'coldroom/ours/reading', payload: signed(ours, 1, -21.5) });
    const r = await recorded;
    assert.deepEqual(r.contract, []);
    assert.equal(r.payload.temperature, -21.5);
    got = nextMessage(rejected);
    verify.receive({ topic: 'coldroom/ours/reading', payload: signed(ours, 1, -21.5) });
    assert.equal((await got).payload.code, 'ERR_REPLAY');

    const [latest] = await press<{ payload: Array<{ index: number; type: string }> }>(find(flow, 'inject', 'latest 10'), find(flow, 'debug', 'latest records'));
    const types = latest.payload.map((x) => x.type);
    for (const t of ['contract.register', 'security', 'device.enrol', 'reading']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);

    // Audit now: clean (the Audit node reads its own open ledger through a snapshot).
    const [report] = await press<{ payload: { clean: boolean; size: number; findings: unknown[] } }>(
      find(flow, 'inject', 'audit now'),
      find(flow, 'debug', 'audit: clean'),
    );
    assert.deepEqual([report.payload.clean, report.payload.findings], [true, []]);
    assert.ok(report.payload.size >= 6, `size ${report.payload.size}`);

    // The proof of record 0, once a block has sealed it, written to a file.
    const ledgerUrl = `/iot-ledger/ledgers/${flow.find((n) => n.type === 'iot-ledger-config')!.id}`;
    const info = async () => (await helper.request().get(ledgerUrl).expect(200)).body as { gatewayDid: string; blocks: number };
    await until('a block sealed', async () => (await info()).blocks >= 1, { timeoutMs: 5000, pollMs: 50 });
    const [proof] = await press<{ payload: unknown }>(find(flow, 'inject', 'proof of record 0'), find(flow, 'debug', 'proof bundle'));
    await until('the proof bundle written whole', () => fs.existsSync(proofFile) && fs.readFileSync(proofFile, 'utf8').trim().endsWith('}'), { timeoutMs: 5000, pollMs: 50 });
    const fromFile = JSON.parse(fs.readFileSync(proofFile, 'utf8')) as unknown;
    assert.deepEqual(fromFile, JSON.parse(JSON.stringify(proof.payload)));
    const v = verifyProofBundle(fromFile, (await info()).gatewayDid);
    assert.equal(v.index, 0);
    // Record 0 is the first rejection or the contract's registration, whichever the runtime wrote first.
    assert.ok(['security', 'contract.register'].includes(v.record.type), v.record.type);
  });

  it('device-signing: with a key in the Identity credentials, a reading goes out signed with counter and ts', async () => {
    const flow = example('device-signing.json');
    const key = generateKey('Ed25519');
    const identity = flow.find((n) => n.type === 'iot-ledger-identity')!;
    identity.did = keyToDid(key);
    await helper.load(nodes, flow, { [identity.id]: { jwk: JSON.stringify(keyToJwk(key, true)) } });
    const [msg] = await press<{ payload: string; signer: string }>(find(flow, 'inject', 'reading'), find(flow, 'debug', 'signed (JWS, msg.signer)'));
    assert.equal(msg.signer, keyToDid(key));
    const v = verifyEnvelope(msg.payload, keyToDid(key));
    assert.equal(v.kid, keyToDid(key));
    const payload = JSON.parse(fromUtf8(v.payload)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), ['temperature', 'door', 'counter', 'ts']);
    assert.ok(typeof payload.temperature === 'number' && payload.temperature < -20);
  });
});
