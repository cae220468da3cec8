// Home Assistant's birth message (`online` on homeassistant/status) makes the gateway publish
// every retained config and state again. Anyone who can publish on the broker can send it: a
// flood of births must not multiply into a flood of publications (every entity, per birth).
// Nor may retained look-alikes of our states, which the gateway clears, stay in its bookkeeping:
// each would be sent again at every birth and reconnection, and kept in memory for good.
import * as assert from 'node:assert/strict';
import { validateTerms } from '../../lib/contracts';
import { MqttWatch, retainedMessages } from '../ha/mqtt-watch';
import { MAX_HA_CONFIG_BYTES } from '../../nodes/lib/ha-connection';
import { generateKey, keyToDid } from '../../lib/index';
import { haBrokerNode, mqttNodes, useHaSession } from './ha-support';
import { helper, ledgerNode, onTab, packNodes } from './support';
import { until } from '../support/until';

const nodes = [...packNodes(), ...mqttNodes()];
const terms = validateTerms({
  id: 'ha-birth-room',
  version: 1,
  title: 'Birth room',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  parties: [keyToDid(generateKey('Ed25519'))],
});
const AVAILABILITY = 'iot-ledger/availability';
const CONFIG = 'homeassistant/binary_sensor/iot-ledger_ha-birth-room_violation/config';
const STATE = 'iot-ledger/contract/ha-birth-room/state';

describe('nodes: Home Assistant births from anyone on the broker', function () {
  this.timeout(30000);
  const ha = useHaSession({}, [AVAILABILITY, CONFIG, 'homeassistant/sensor/iot-ledger_ha-birth-room_value/config', STATE]);

  const deploy = () =>
    helper.load(nodes, [
      ...onTab([
        ledgerNode('ledger', { ledgerName: 'ha-birth' }),
        { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', ha: 'ha', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [[], []] },
      ]),
      { id: 'ha', type: 'iot-ledger-ha', broker: 'broker', discoveryPrefix: 'homeassistant', baseTopic: 'iot-ledger' },
      haBrokerNode('broker', ha.broker.port),
    ]);
  const settled = async () => {
    await ha.watch.waitFor((m) => m.topic === CONFIG, 'the config announced');
    await ha.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online');
    await new Promise((resolve) => setTimeout(resolve, 300));
  };

  it('a flood of births is answered a few times, not once per birth; the last one is answered', async () => {
    await deploy();
    await settled();

    const from = ha.watch.messages.length;
    const births = 200;
    for (let i = 0; i < births; i++) await ha.watch.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    const last = ha.watch.messages.length;
    // The last birth is answered (at the latest an interval later).
    await ha.watch.waitFor((m) => m.topic === CONFIG, 'the config sent again after the last birth', 5000, last);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const answers = ha.watch.messages.slice(from).filter((m) => m.topic === CONFIG).length;
    assert.ok(answers >= 1 && answers <= 5, `${answers} copies of the config for ${births} births`);
  });

  it('retained look-alikes of our states are cleared once and forgotten: a birth does not clear them again', async () => {
    // Retained before the gateway subscribes: it receives them as retained and clears them.
    const fakes = Array.from({ length: 300 }, (_, i) => `iot-ledger/contract/look-alike-${i}/state`);
    for (const topic of fakes) await ha.watch.client.publishAsync(topic, '{"status":"violation"}', { qos: 1, retain: true });
    await deploy();
    await settled();
    for (const topic of fakes) await ha.watch.waitFor((m) => m.topic === topic && m.payload === '', `${topic} cleared`);

    const from = ha.watch.messages.length;
    await ha.watch.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.watch.waitFor((m) => m.topic === CONFIG, 'the config sent again after the birth', 5000, from);
    await ha.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online again', 5000, from);
    const fakeSet = new Set(fakes);
    const again = ha.watch.messages.slice(from).filter((m) => fakeSet.has(m.topic)).length;
    assert.equal(again, 0, `${again} look-alikes cleared again at the birth`);
  });

  it('a retained config larger than any we publish is left alone, not parsed; a look-alike of ours is cleared', async () => {
    // Every retained config under the discovery prefix reaches the gateway at each (re)subscription,
    // whoever published it: parsing a huge one (a few bytes of JSON make an object each) could
    // exhaust the runtime's memory. Ours are a few KB; one past MAX_HA_CONFIG_BYTES is not ours.
    const lookAlike = (id: string) => JSON.stringify({ unique_id: id, availability_topic: AVAILABILITY, origin: { name: 'node-red-contrib-iot-ledger' } });
    const small = 'homeassistant/binary_sensor/iot-ledger_small-look-alike_violation/config';
    const big = 'homeassistant/binary_sensor/iot-ledger_big-look-alike_violation/config';
    const bigPayload = lookAlike('iot-ledger_big-look-alike_violation').padEnd(MAX_HA_CONFIG_BYTES + 1, ' ');
    await ha.watch.client.publishAsync(big, bigPayload, { qos: 1, retain: true });
    await ha.watch.client.publishAsync(small, lookAlike('iot-ledger_small-look-alike_violation'), { qos: 1, retain: true });
    try {
      await deploy();
      await settled();
      await ha.watch.waitFor((m) => m.topic === small && m.payload === '', 'the look-alike cleared');
      // Sent back to the gateway at the same subscription: given the time a clear takes, it is left.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const held = await retainedMessages(ha.broker, ['homeassistant/#'], [big]);
      assert.equal(held.get(big)?.length, bigPayload.length);
      assert.equal(held.has(small), false);
    } finally {
      await ha.watch.client.publishAsync(big, '', { qos: 1, retain: true });
    }
  });

  it('our online overwritten by someone else with offline (every entity unavailable) is published again', async () => {
    await deploy();
    await settled();
    const from = ha.watch.messages.length;
    await ha.watch.client.publishAsync(AVAILABILITY, 'offline', { qos: 1, retain: true });
    await ha.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'the fake offline', 5000, from);
    await ha.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online published again', 5000, from);
    const fresh = await MqttWatch.connect(ha.broker.url, [AVAILABILITY]);
    try {
      await until(() => 'online retained on the broker', () => fresh.last(AVAILABILITY) === 'online');
    } finally {
      await fresh.close();
    }
  });

  it('our own config and state overwritten by someone else (a made-up state, an empty config) get ours back, a few times for a flood', async () => {
    await deploy();
    await settled();
    const state = await ha.watch.waitFor((m) => m.topic === STATE, 'the state announced');
    const config = ha.watch.last(CONFIG);
    assert.ok(config);
    const fake = JSON.stringify({ ...(JSON.parse(state.payload) as object), status: 'compliant', forged: true });

    const from = ha.watch.messages.length;
    // An empty retained config takes the entity out of Home Assistant; a made-up state shows what the ledger does not say.
    await ha.watch.client.publishAsync(CONFIG, '', { qos: 1, retain: true });
    const spoofs = 100;
    for (let i = 0; i < spoofs; i++) await ha.watch.client.publishAsync(STATE, fake, { qos: 1, retain: true });
    const last = ha.watch.messages.length;
    await ha.watch.waitFor((m) => m.topic === STATE && m.payload === state.payload, 'our state published again after the last fake', 5000, last);
    await ha.watch.waitFor((m) => m.topic === CONFIG && m.payload === config, 'our config published again', 5000, from);

    // What Home Assistant gets when it (re)subscribes: ours, retained.
    const fresh = await MqttWatch.connect(ha.broker.url, [STATE, CONFIG]);
    try {
      await until(
        () => 'our config and state retained on the broker',
        () => fresh.last(STATE) === state.payload && fresh.last(CONFIG) === config,
      );
    } finally {
      await fresh.close();
    }
    const restored = ha.watch.messages.slice(from).filter((m) => m.topic === STATE && m.payload === state.payload).length;
    assert.ok(restored >= 1 && restored < spoofs / 2, `our state published ${restored} times for ${spoofs} fakes`);
  });
});
