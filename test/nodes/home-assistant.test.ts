// The Home Assistant integration end to end inside Node-RED: a real in-process MQTT broker, the
// contract and firmware nodes publishing discovery configs and states through one iot-ledger-ha
// config node and Node-RED's own mqtt-broker node (core 10-mqtt.js), read back by MQTT clients
// the way Home Assistant would.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signContract, validateTerms } from '../../lib/contracts';
import { createManifest, createReport } from '../../lib/firmware';
import { openGateways } from '../../lib/gateway';
import { generateKey, keyToDid } from '../../lib/index';
import { retainedMessages } from '../ha/mqtt-watch';
import { projectRoot } from '../support/paths';
import { haBrokerNode, mqttNodes, useHaSession } from './ha-support';
import { helper, ledgerNode, nextMessage, onTab, packNodes } from './support';
import { until } from '../support/until';

const nodes = [...packNodes(), ...mqttNodes()];
const operator = generateKey('Ed25519');
const vendor = generateKey('Ed25519');
const device = generateKey('ES256');
const deviceDid = keyToDid(device);
const suffix = deviceDid.slice('did:key:'.length);

const terms = validateTerms({
  id: 'cold-room-ha',
  version: 1,
  title: 'Cold room below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  mkt: { limit: -18, windowSeconds: 3600 },
  parties: [keyToDid(operator)],
});

const TOPIC = {
  availability: 'iot-ledger/availability',
  violation: 'homeassistant/binary_sensor/iot-ledger_cold-room-ha_violation/config',
  value: 'homeassistant/sensor/iot-ledger_cold-room-ha_value/config',
  mkt: 'homeassistant/sensor/iot-ledger_cold-room-ha_mkt/config',
  contractState: 'iot-ledger/contract/cold-room-ha/state',
  update: `homeassistant/update/iot-ledger_firmware_${suffix}/config`,
  firmwareState: `iot-ledger/firmware/${suffix}/state`,
};

const digest = (n: number) => n.toString(16).padStart(64, '0');
const manifest = (seq: number, uri?: string) =>
  createManifest({ vendor: 'acme', class: 'thermo-v1', version: `1.${seq}.0`, sequence: seq, digest: digest(seq), size: 1000 + seq, ...(uri ? { uri } : {}) }, vendor);

describe('nodes: Home Assistant through MQTT discovery', function () {
  this.timeout(30000);
  const ha = useHaSession();

  const flow = () => [
    ...onTab([
      ledgerNode('ledger', { ledgerName: 'ha-room' }),
      { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', ha: 'ha', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['events'], ['state']] },
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['enrolled']] },
      { id: 'fw', type: 'iot-ledger-firmware', ledger: 'ledger', ha: 'ha', mode: 'check', wires: [['fwOut']] },
      { id: 'events', type: 'helper' },
      { id: 'state', type: 'helper' },
      { id: 'enrolled', type: 'helper' },
      { id: 'fwOut', type: 'helper' },
    ]),
    // Config nodes on no tab, as the editor creates them.
    { id: 'ha', type: 'iot-ledger-ha', broker: 'broker', discoveryPrefix: 'homeassistant', baseTopic: 'iot-ledger' },
    haBrokerNode('broker', ha.broker.port),
  ];

  // node-red-node-test-helper's deploy of a changed flow (not in support.ts's typing).
  const deploy = (nodesOfFlow: object[]) =>
    (helper as unknown as { setFlows(flow: object[], type: string, credentials: object): Promise<void> }).setFlows(nodesOfFlow, 'nodes', {});
  const json = (payload: string | undefined): Record<string, unknown> => JSON.parse(payload ?? 'null') as Record<string, unknown>;
  const firmware = async (msg: Record<string, unknown>) => {
    const out = nextMessage<{ firmware: { decision: string } }>(helper.getNode('fwOut'));
    helper.getNode('fw').receive(msg);
    return (await out).firmware.decision;
  };

  it('announces the contract and device entities, publishes their states, and goes offline with the flow', async () => {
    await helper.load(nodes, flow(), {});

    // The contract's three entities and its first state (awaiting the party's signature).
    await ha.watch.waitFor((m) => m.topic === TOPIC.availability && m.payload === 'online', 'online');
    const first = await ha.watch.waitFor((m) => m.topic === TOPIC.contractState, 'contract state');
    assert.equal(json(first.payload).status, 'awaiting-signatures');
    assert.equal(json(first.payload).violation, null, 'unknown in Home Assistant while awaiting signatures');

    const signed = nextMessage(helper.getNode('events'));
    helper.getNode('contract').receive({ topic: 'contract/sign', payload: signContract(terms, operator, { kid: keyToDid(operator) }) });
    await signed;

    // -21 is compliant, -19 breaks the instant alarm: the problem sensor turns ON.
    for (const temperature of [-21, -19]) {
      const out = nextMessage(helper.getNode('state'));
      helper.getNode('contract').receive({ payload: { temperature } });
      await out;
    }
    const violated = await ha.watch.waitFor((m) => m.topic === TOPIC.contractState && json(m.payload).violation === 'ON', 'violation ON');
    const state = json(violated.payload);
    assert.equal(state.status, 'violated');
    assert.equal(state.value, -19);
    assert.equal(state.unit, '°C');
    assert.equal(typeof state.mkt, 'number');
    assert.deepEqual(
      { status: (state.attributes as Record<string, unknown>).status, violations: (state.attributes as Record<string, unknown>).violations },
      { status: 'violated', violations: 1 },
    );

    // Firmware: a trusted vendor, two releases (the newer with a URI), an approved update.
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: deviceDid, name: 'freezer-1' } });
    await enrolled;
    assert.equal(await firmware({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } }), 'recorded');
    assert.equal(await firmware({ mode: 'release', payload: manifest(1) }), 'recorded');
    assert.equal(await firmware({ mode: 'release', payload: manifest(2, 'https://acme.example/thermo/1.2.0') }), 'recorded');
    assert.equal(await firmware({ payload: { device: deviceDid, vendor: 'acme', class: 'thermo-v1', sequence: 1 } }), 'approved');
    // Approved is not installed: no update entity until the device reports what it runs.
    assert.equal(ha.watch.messages.some((m) => m.topic === TOPIC.firmwareState), false);
    const reported = createReport({ vendor: 'acme', class: 'thermo-v1', version: '1.1.0', sequence: 1, digest: digest(1), counter: 1 }, device);
    assert.equal(await firmware({ mode: 'report', deviceId: deviceDid, payload: reported }), 'recorded');
    const update = await ha.watch.waitFor((m) => m.topic === TOPIC.firmwareState, 'update state');
    assert.deepEqual(json(update.payload), {
      installed_version: '1.1.0',
      latest_version: '1.2.0',
      in_progress: false,
      title: 'acme thermo-v1',
      release_summary: '',
      release_url: 'https://acme.example/thermo/1.2.0',
    });
    // An approved update the device has not reported yet: latest and in progress, installed unchanged.
    let at = ha.watch.messages.length;
    assert.equal(await firmware({ payload: { device: deviceDid, vendor: 'acme', class: 'thermo-v1', sequence: 2 } }), 'approved');
    const pending = await ha.watch.waitFor((m) => m.topic === TOPIC.firmwareState, 'update state while approved', 8000, at);
    assert.deepEqual([json(pending.payload).installed_version, json(pending.payload).latest_version, json(pending.payload).in_progress], ['1.1.0', '1.2.0', true]);
    // A newer release without a web link: latest_version moves, and release_url with it (never left at 1.2.0's).
    at = ha.watch.messages.length;
    assert.equal(await firmware({ mode: 'release', payload: manifest(3, 'ipfs://bafy/thermo/1.3.0') }), 'recorded');
    const newer = await ha.watch.waitFor((m) => m.topic === TOPIC.firmwareState, 'update state after a release', 8000, at);
    assert.equal(json(newer.payload).latest_version, '1.3.0');
    assert.equal(json(newer.payload).release_url, 'https://github.com/iot-ledger/node-red-contrib-iot-ledger');

    // What Home Assistant finds when it (re)starts: everything retained.
    const retained = await retainedMessages(ha.broker, ['homeassistant/#', 'iot-ledger/#'], Object.values(TOPIC));
    assert.equal(retained.get(TOPIC.availability), 'online');
    const violation = json(retained.get(TOPIC.violation));
    assert.equal(violation.device_class, 'problem');
    assert.equal(violation.state_topic, TOPIC.contractState);
    assert.equal(violation.value_template, '{{ value_json.violation }}');
    assert.equal(violation.availability_topic, TOPIC.availability);
    assert.equal(violation.unique_id, 'iot-ledger_cold-room-ha_violation');
    assert.deepEqual(violation.device, {
      identifiers: ['iot-ledger_cold-room-ha'],
      name: 'Cold room below -20 °C',
      manufacturer: 'node-red-contrib-iot-ledger',
      model: 'threshold contract',
    });
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(violation.origin, { name: 'node-red-contrib-iot-ledger', sw_version: pkg.version, support_url: 'https://github.com/iot-ledger/node-red-contrib-iot-ledger' });
    const value = json(retained.get(TOPIC.value));
    assert.deepEqual([value.device_class, value.unit_of_measurement, value.value_template], ['temperature', '°C', '{{ value_json.value }}']);
    const mkt = json(retained.get(TOPIC.mkt));
    assert.deepEqual([mkt.device_class, mkt.unit_of_measurement, mkt.value_template], ['temperature', '°C', '{{ value_json.mkt }}']);
    assert.equal(json(retained.get(TOPIC.contractState)).violation, 'ON');
    const updateConfig = json(retained.get(TOPIC.update));
    assert.equal(updateConfig.device_class, 'firmware');
    assert.equal(updateConfig.state_topic, TOPIC.firmwareState);
    assert.equal(updateConfig.availability_topic, TOPIC.availability);
    assert.equal(updateConfig.entity_category, 'diagnostic');
    assert.deepEqual(updateConfig.device, { identifiers: [`iot-ledger_device_${suffix}`], name: 'freezer-1', manufacturer: 'acme', model: 'thermo-v1', sw_version: '1.1.0' });
    assert.equal(json(retained.get(TOPIC.firmwareState)).latest_version, '1.3.0');

    // Home Assistant restarting (its birth message) gets the configs again.
    const before = ha.watch.messages.length;
    await ha.watch.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.watch.waitFor((m) => m.topic === TOPIC.violation, 'configs sent again after HA birth', 8000, before);

    // Deleting the contract node from the flow (a "modified nodes" deploy) removes its entities.
    const cut = ha.watch.messages.length;
    await deploy(flow().filter((n) => n.id !== 'contract'));
    for (const topic of [TOPIC.violation, TOPIC.value, TOPIC.mkt, TOPIC.contractState])
      await ha.watch.waitFor((m) => m.topic === topic && m.payload === '', `${topic} emptied`, 8000, cut);
    assert.equal(ha.watch.messages.slice(cut).some((m) => m.topic === TOPIC.availability), false, 'the connection stays up');

    // Stopping the flows: `offline` on the availability topic, retained; the entities stay, unavailable.
    const end = ha.watch.messages.length;
    await helper.unload();
    await ha.watch.waitFor((m) => m.topic === TOPIC.availability && m.payload === 'offline', 'offline', 8000, end);
    const gone = await retainedMessages(ha.broker, ['homeassistant/#', 'iot-ledger/#'], [TOPIC.availability, TOPIC.update]);
    assert.equal(gone.get(TOPIC.availability), 'offline');
    assert.ok(gone.has(TOPIC.update) && gone.has(TOPIC.firmwareState), 'device entities stay');
    assert.equal(gone.has(TOPIC.violation), false);
    assert.equal(gone.has(TOPIC.contractState), false);
  });

  it('clears what is no longer announced: stale configs of an earlier run, a contract taken out of a node, Home Assistant set back to none', async () => {
    const json0 = (o: object) => JSON.stringify(o);
    // Left by an earlier run of this gateway (same availability topic and origin): a contract that is gone.
    const staleTopic = 'homeassistant/binary_sensor/iot-ledger_gone-contract_violation/config';
    const staleState = 'iot-ledger/contract/gone-contract/state';
    // Someone else's config under the same prefix: never touched.
    const foreignTopic = 'homeassistant/sensor/zigbee_kitchen_temperature/config';
    await ha.watch.client.publishAsync(staleTopic, json0({ unique_id: 'iot-ledger_gone-contract_violation', availability_topic: TOPIC.availability, origin: { name: 'node-red-contrib-iot-ledger' } }), { qos: 1, retain: true });
    await ha.watch.client.publishAsync(staleState, json0({ status: 'compliant' }), { qos: 1, retain: true });
    await ha.watch.client.publishAsync(foreignTopic, json0({ unique_id: 'kitchen', availability_topic: 'zigbee/availability', origin: { name: 'zigbee2mqtt' } }), { qos: 1, retain: true });

    const second = validateTerms({ ...terms, id: 'cold-room-two', title: 'Second room' });
    const both = () =>
      flow().map((n) => ((n as { id: string }).id === 'contract' ? { ...n, terms: JSON.stringify([terms, second]) } : n));
    await helper.load(nodes, both(), {});
    const secondViolation = 'homeassistant/binary_sensor/iot-ledger_cold-room-two_violation/config';
    await ha.watch.waitFor((m) => m.topic === secondViolation && m.payload !== '', 'second contract announced');
    await ha.watch.waitFor((m) => m.topic === staleTopic && m.payload === '', 'stale config of an earlier run cleared');
    await ha.watch.waitFor((m) => m.topic === staleState && m.payload === '', 'stale state of an earlier run cleared');

    // The same flow deployed again: nothing of it is cleared (no entity flaps in Home Assistant).
    await deploy(both().map((n) => ((n as { id: string }).id === 'contract' ? { ...n, name: 'renamed' } : n)));
    // One contract taken out of the node.
    let cut = ha.watch.messages.length;
    await deploy(flow());
    await ha.watch.waitFor((m) => m.topic === secondViolation && m.payload === '', 'the removed contract cleared', 8000, cut);
    assert.equal(
      ha.watch.messages.some((m) => m.topic === TOPIC.violation && m.payload === ''),
      false,
      'the kept contract was never cleared, not even while redeploying',
    );
    // A device with a firmware report: its update entity.
    const dev2 = generateKey('Ed25519');
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(dev2), name: 'freezer-2' } });
    await enrolled;
    // The vendor key is trusted already when the test before ran on this ledger: a repeat, nothing recorded.
    const gw = (await openGateways()).find((g) => g.ledger.name === 'ha-room');
    const trustedBefore = (await gw?.firmware())?.state.isTrusted('acme', keyToDid(vendor));
    assert.equal(await firmware({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } }), trustedBefore ? 'unchanged' : 'recorded');
    assert.equal(await firmware({ mode: 'release', payload: manifest(7) }), 'recorded');
    const report = createReport({ vendor: 'acme', class: 'thermo-v1', version: '1.7.0', sequence: 7, digest: digest(7), counter: 1 }, dev2);
    assert.equal(await firmware({ mode: 'report', deviceId: keyToDid(dev2), payload: report }), 'recorded');
    const update2 = `homeassistant/update/iot-ledger_firmware_${keyToDid(dev2).slice('did:key:'.length)}/config`;
    await ha.watch.waitFor((m) => m.topic === update2 && m.payload !== '', 'update entity of the second device');

    // Home Assistant set back to none on both nodes.
    cut = ha.watch.messages.length;
    await deploy(flow().map((n) => ((n as { id: string }).id === 'contract' || (n as { id: string }).id === 'fw' ? { ...n, ha: '' } : n)));
    for (const topic of [TOPIC.violation, TOPIC.value, TOPIC.mkt, TOPIC.contractState, update2])
      await ha.watch.waitFor((m) => m.topic === topic && m.payload === '', `${topic} cleared`, 8000, cut);

    const left = await retainedMessages(ha.broker, ['homeassistant/#', 'iot-ledger/#'], [foreignTopic]);
    assert.ok(left.has(foreignTopic), "another integration's config stays");
    assert.equal(left.has(TOPIC.violation) || left.has(staleTopic) || left.has(secondViolation), false);
    await ha.watch.client.publishAsync(foreignTopic, '', { qos: 1, retain: true });
  });

  it('publishes nothing for nodes without a Home Assistant config', async () => {
    const plain = flow().map((n) => {
      const { ha: _ha, ...rest } = n;
      return rest;
    });
    // The connections of earlier tests are gone (closed on unload; the broker notices soon after).
    await until(() => `one MQTT client connected (${ha.broker.clients} are)`, () => ha.broker.clients === 1, { timeoutMs: 5000 });
    await helper.load(nodes, plain.filter((n) => n.type !== 'iot-ledger-ha'));
    const out = nextMessage(helper.getNode('state'));
    helper.getNode('contract').receive({ payload: { temperature: -25 } });
    await out;
    // Nothing registered with the broker node, so nothing can publish through it, now or later.
    assert.deepEqual(Object.keys((helper.getNode('broker') as unknown as { users: object }).users), []);
    assert.equal(ha.broker.clients, 1, 'no MQTT connection besides the watch');
    assert.deepEqual(
      ha.watch.messages.filter((m) => !m.retain),
      [],
      'no live publication',
    );
  });
});
