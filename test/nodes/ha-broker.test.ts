// The Home Assistant config node on Node-RED's own mqtt-broker node (core 10-mqtt.js) against a
// real in-process broker: the broker's Last Will on a dropped connection, everything sent again
// on reconnection, the warning when the will is not offline, an old flow with its own broker
// settings refused with a clear error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mqtt from 'mqtt';
import { validateTerms } from '../../lib/contracts';
import { generateKey, keyToDid } from '../../lib/index';
import { startBroker } from '../../demo/broker';
import { MqttWatch } from '../ha/mqtt-watch';
import { haBrokerNode, mqttNodes, useHaSession } from './ha-support';
import { projectRoot } from '../support/paths';
import { helper, ledgerNode, nextMessage, onTab, packNodes } from './support';
import { until } from '../support/until';

const nodes = [...packNodes(), ...mqttNodes()];
/** The core nodes examples/home-assistant.json uses besides MQTT (its Debug node becomes a helper: the debug module rewrites log entries). */
const exampleNodes = ['common/90-comment.js'].map(
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (f) => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', f)) as unknown,
);
const EXAMPLE = {
  config: 'homeassistant/binary_sensor/iot-ledger_fridge-1_violation/config',
  value: 'homeassistant/sensor/iot-ledger_fridge-1_value/config',
  state: 'iot-ledger/contract/fridge-1/state',
};
const terms = validateTerms({
  id: 'ha-broker-room',
  version: 1,
  title: 'Broker room',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  parties: [keyToDid(generateKey('Ed25519'))],
});
const AVAILABILITY = 'iot-ledger/availability';
const CONFIG = 'homeassistant/binary_sensor/iot-ledger_ha-broker-room_violation/config';
const STATE = 'iot-ledger/contract/ha-broker-room/state';

interface LogEntry {
  level: number;
  id?: string;
  type?: string;
  msg?: unknown;
}
const logged = (): LogEntry[] => (helper as unknown as { log(): { args: [LogEntry][] } }).log().args.map((a) => a[0]);
const text = (e: LogEntry): string => (e.msg instanceof Error ? `${(e.msg as Error & { code?: string }).code}: ${e.msg.message}` : String(e.msg));

describe('nodes: Home Assistant through the mqtt-broker node', function () {
  this.timeout(30000);
  // The broker node retries quickly, so a dropped connection comes back within the test.
  const session = useHaSession({ mqttReconnectTime: 200 }, [
    AVAILABILITY,
    CONFIG,
    STATE,
    'homeassistant/sensor/iot-ledger_ha-broker-room_value/config',
    ...Object.values(EXAMPLE),
  ]);

  const flow = (ha: Record<string, unknown>, brokerNode?: Record<string, unknown>) => [
    ...onTab([
      ledgerNode('ledger', { ledgerName: 'ha-broker' }),
      { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', ha: 'ha', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [[], ['state']] },
      { id: 'state', type: 'helper' },
    ]),
    { id: 'ha', type: 'iot-ledger-ha', discoveryPrefix: 'homeassistant', baseTopic: 'iot-ledger', ...ha },
    ...(brokerNode ? [brokerNode] : []),
  ];

  it('a dropped connection: the broker publishes the will (offline); on reconnection online, configs and states again', async () => {
    await helper.load(nodes, flow({ broker: 'broker' }, haBrokerNode('broker', session.broker.port)));
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online');
    await session.watch.waitFor((m) => m.topic === CONFIG, 'discovery config');
    await session.watch.waitFor((m) => m.topic === STATE, 'state');
    assert.equal(
      logged().some((e) => e.type === 'iot-ledger-ha' && e.level === 30),
      false,
      'no warning: the will and close message are offline on the availability topic',
    );

    const at = session.watch.messages.length;
    // Cut the TCP connection under the broker node's client, as a network failure would.
    const brokerNode = helper.getNode('broker') as unknown as { client: mqtt.MqttClient; connected: boolean };
    brokerNode.client.stream.destroy();
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'the will', 8000, at);
    const back = session.watch.messages.length;
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online again', 8000, back);
    await session.watch.waitFor((m) => m.topic === CONFIG && m.payload !== '', 'config sent again', 8000, back);
    await session.watch.waitFor((m) => m.topic === STATE && m.payload !== '', 'state sent again', 8000, back);
    assert.equal(brokerNode.connected, true);
  });

  it('examples/home-assistant.json on a real broker: online, the contract as entities and its state; offline by the Last Will and the Close message', async () => {
    type FlowNode = Record<string, unknown> & { id: string; type: string; name?: string };
    const example = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'home-assistant.json'), 'utf8')) as FlowNode[]).map((n) =>
      n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(session.broker.port) } : n.type === 'debug' ? { id: n.id, type: 'helper', z: n.z } : n,
    );
    await helper.load([...nodes, ...exampleNodes], example);
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online');
    await session.watch.waitFor((m) => m.topic === EXAMPLE.config && m.payload !== '', 'the Violation entity');
    await session.watch.waitFor((m) => m.topic === EXAMPLE.value && m.payload !== '', 'the Last value entity');
    assert.deepEqual(
      logged().filter((e) => e.type === 'iot-ledger-ha' && e.level <= 30).map(text),
      [],
      'no warning: the example sets the will and close message as the help asks',
    );
    const state = await session.watch.waitFor((m) => m.topic === EXAMPLE.state && m.payload !== '', 'the contract state');
    assert.equal((JSON.parse(state.payload) as { status: string }).status, 'awaiting-signatures');

    // Its Last Will: the broker publishes it when the connection drops.
    const brokerNode = helper.getNode(example.find((n) => n.type === 'mqtt-broker')!.id) as unknown as { client: mqtt.MqttClient; connected: boolean };
    let at = session.watch.messages.length;
    brokerNode.client.stream.destroy();
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'the will', 8000, at);
    at = session.watch.messages.length;
    await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online again', 8000, at);
    // Its Close message: Node-RED stopping sends it (the HA node leaves offline to the broker node then).
    at = session.watch.messages.length;
    await helper.unload();
    const offline = await session.watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'the close message', 8000, at);
    assert.equal(offline.retain, false, 'seen live (retained on the broker, delivered as a live message)');
    assert.equal((await session.broker.retained([AVAILABILITY])).get(AVAILABILITY), 'offline');
  });

  it('waits for a broker that is not up yet: configs, state and online go out once it is', async () => {
    const probe = await startBroker({ port: 0 });
    const port = probe.port;
    await probe.close();
    await helper.load(nodes, flow({ broker: 'broker' }, haBrokerNode('broker', port)));
    const brokerNode = helper.getNode('broker') as unknown as { connected: boolean };
    const out = nextMessage(helper.getNode('state'));
    helper.getNode('contract').receive({ payload: { temperature: -25 } });
    await out;
    assert.equal(brokerNode.connected, false);

    const late = await startBroker({ port });
    try {
      const lateWatch = await MqttWatch.connect(late.url, ['homeassistant/#', 'iot-ledger/#']);
      try {
        await until('the broker node connected', () => brokerNode.connected, { timeoutMs: 8000 });
        const state = await lateWatch.waitFor((m) => m.topic === STATE, 'state once connected');
        assert.equal((JSON.parse(state.payload) as { status: string }).status, 'awaiting-signatures');
        await lateWatch.waitFor((m) => m.topic === CONFIG && m.payload !== '', 'config once connected');
        await lateWatch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online once connected');
      } finally {
        await lateWatch.close();
      }
    } finally {
      await helper.unload();
      await late.close();
    }
  });

  it('warns once when the broker node does not leave offline on the availability topic', async () => {
    await helper.load(nodes, flow({ broker: 'broker' }, haBrokerNode('broker', session.broker.port, false)));
    await session.watch.waitFor((m) => m.topic === STATE, 'state');
    const warnings = logged().filter((e) => e.type === 'iot-ledger-ha' && e.level === 30);
    assert.equal(warnings.length, 1, warnings.map(text).join('\n'));
    assert.match(text(warnings[0]), /Last Will and Close message are not offline \(retained\) on iot-ledger\/availability/);
  });

  it('an old flow with its own broker settings is refused with a clear error; nothing is published', async () => {
    await helper.load(nodes, flow({ host: '127.0.0.1', port: session.broker.port, tls: false }), { ha: { password: 'secret' } });
    const out = nextMessage(helper.getNode('state'));
    helper.getNode('contract').receive({ payload: { temperature: -25 } });
    await out;
    const errors = logged().filter((e) => e.type === 'iot-ledger-ha' && e.level === 20);
    assert.equal(errors.length, 1);
    assert.match(text(errors[0]), /^ERR_INVALID_ARGUMENT: Home Assistant: the broker settings of this configuration \(host 127\.0\.0\.1\) are from an older version/);
    assert.match(text(errors[0]), /Open the Home Assistant configuration node in the editor/);
    assert.doesNotMatch(text(errors[0]), /secret/);
    // No client: no broker node exists in this flow and the HA node opens no connection of its own.
    assert.equal(session.watch.messages.filter((m) => !m.retain).length, 0);
  });
});
