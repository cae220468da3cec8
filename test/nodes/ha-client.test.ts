// The Home Assistant MQTT connection on its own, against a real in-process broker: lazy
// connection, the will, re-sending after a reconnect, waiting for a broker that is not up yet.
import * as assert from 'node:assert/strict';
import type * as mqtt from 'mqtt';
import { haTopics } from '../../lib/ha';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { HaConnection } from '../../nodes/lib/ha-client';
import { MqttWatch, retainedMessages } from '../ha/mqtt-watch';

const topics = haTopics();
const AVAILABILITY = 'iot-ledger/availability';

function connection(port: number, warnings: string[] = [], t = topics): HaConnection {
  return new HaConnection({
    host: '127.0.0.1',
    port,
    tls: false,
    topics: t,
    clientId: `ha-client-test-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 100,
    log: { log: () => undefined, warn: (m) => warnings.push(m) },
  });
}

const until = async (what: string, test: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('nodes/lib/ha-client: the shared MQTT connection', function () {
  this.timeout(20000);
  let broker: RunningBroker | undefined;
  const open: HaConnection[] = [];
  const watches: MqttWatch[] = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(watches.splice(0).map((w) => w.close()));
    await broker?.close();
    broker = undefined;
  });

  it('connects only when something is published; online, then offline on close', async () => {
    broker = await startBroker({ port: 0 });
    const watch = await MqttWatch.connect(broker.url, ['iot-ledger/#', 'homeassistant/#']);
    watches.push(watch);
    const c = connection(broker.port);
    open.push(c);
    // No MQTT client exists before the first publication, so none can be connecting either.
    assert.equal((c as unknown as { client?: mqtt.MqttClient }).client, undefined);
    assert.equal(c.connected, false);
    assert.equal(broker.clients, 1, 'only the watch is connected');

    c.retain('homeassistant/sensor/x/config', '{"name":"X"}');
    c.retain('iot-ledger/x/state', '{"v":1}');
    c.retain('iot-ledger/x/state', '{"v":1}'); // unchanged: not sent again
    await watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online');
    await watch.waitFor((m) => m.topic === 'iot-ledger/x/state', 'state');
    c.retain('iot-ledger/x/state', '{"v":2}');
    await watch.waitFor((m) => m.payload === '{"v":2}', 'changed state');
    assert.equal(watch.messages.filter((m) => m.topic === 'iot-ledger/x/state').length, 2);

    await c.close();
    await c.close();
    await watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'offline');
    c.retain('iot-ledger/x/state', '{"v":3}');
    const retained = await retainedMessages(broker, ['iot-ledger/#', 'homeassistant/#'], [AVAILABILITY, 'iot-ledger/x/state']);
    assert.equal(retained.get(AVAILABILITY), 'offline');
    assert.equal(retained.get('iot-ledger/x/state'), '{"v":2}', 'nothing is published after close');
    assert.equal(retained.get('homeassistant/sensor/x/config'), '{"name":"X"}');
  });

  it("sends everything again when Home Assistant announces its start on the status topic it is configured with", async () => {
    broker = await startBroker({ port: 0 });
    // Discovery prefix "ha", Home Assistant's birth topic left at its default, and one set apart.
    for (const [t, birth] of [
      [haTopics('ha'), 'homeassistant/status'],
      [haTopics('ha', 'gw-2', 'hass/birth'), 'hass/birth'],
    ] as const) {
      const watch = await MqttWatch.connect(broker.url, ['ha/#']);
      watches.push(watch);
      const c = connection(broker.port, [], t);
      open.push(c);
      c.retain(`ha/sensor/${t.baseTopic}/config`, '{"name":"X"}');
      await watch.waitFor((m) => m.topic === `ha/sensor/${t.baseTopic}/config`, 'config');
      // The connection subscribes right after connecting: wait until a birth message is answered.
      const before = watch.messages.length;
      await until('configs sent again after the birth message', () => {
        void watch.client.publishAsync(birth, 'online');
        return watch.messages.slice(before).some((m) => m.topic === `ha/sensor/${t.baseTopic}/config`);
      });
    }
  });

  it('a dropped connection: the broker publishes the will (offline); on reconnect online and everything again', async () => {
    broker = await startBroker({ port: 0 });
    const watch = await MqttWatch.connect(broker.url, ['iot-ledger/#', 'homeassistant/#']);
    watches.push(watch);
    const c = connection(broker.port);
    open.push(c);
    c.retain('homeassistant/update/y/config', '{"name":"Y"}');
    await watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online');

    const at = watch.messages.length;
    // Cut the TCP connection under the client, as a network failure would.
    (c as unknown as { client: mqtt.MqttClient }).client.stream.destroy();
    await watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'offline', 'will', 5000, at);
    const back = watch.messages.length;
    await watch.waitFor((m) => m.topic === 'homeassistant/update/y/config', 'config sent again', 5000, back);
    await watch.waitFor((m) => m.topic === AVAILABILITY && m.payload === 'online', 'online again', 5000, back);
  });

  it('waits for a broker that is not up yet, sends the latest of each topic, and reports the trouble once', async () => {
    const probe = await startBroker({ port: 0 });
    const port = probe.port;
    await probe.close();
    const warnings: string[] = [];
    const c = connection(port, warnings);
    open.push(c);
    c.retain('iot-ledger/z/state', '1');
    c.retain('iot-ledger/z/state', '2');
    await until('a failed attempt', () => warnings.length > 0);
    // Several more attempts fail (each one closes the client's stream) and are not reported again.
    let attempts = 0;
    (c as unknown as { client: mqtt.MqttClient }).client.on('close', () => attempts++);
    await until('three more attempts', () => attempts >= 3);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`^Home Assistant MQTT mqtt://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));

    broker = await startBroker({ port });
    await until('connected', () => c.connected);
    const retained = await retainedMessages(broker, ['iot-ledger/#'], [AVAILABILITY, 'iot-ledger/z/state']);
    assert.equal(retained.get('iot-ledger/z/state'), '2');
    assert.equal(retained.get(AVAILABILITY), 'online');
  });
});
