import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { startBroker } from '../demo/broker';
import { connectBoundedMqtt, IncomingPacketGuard } from '../lib/guards/bounded-mqtt';
import { isLedgerError } from '../lib/errors';

// The packet-size guard wraps mqtt.js's private stream factory. A release that renamed it or built
// its connection elsewhere would leave every connection unguarded without a word: the connector
// must refuse to connect instead. The two ways are stood in for by the client mqtt.connect returns.
describe('bounded MQTT connector: refuses an mqtt.js it cannot guard', function () {
  this.timeout(10000);
  // mqtt's entry re-exports build/mqtt.js through getters: its connect is replaced there.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mqttModule = require(path.join(path.dirname(require.resolve('mqtt')), 'mqtt.js')) as { connect: typeof mqtt.connect };
  const realConnect = mqttModule.connect;
  let broker: Awaited<ReturnType<typeof startBroker>>;

  before(async () => {
    broker = await startBroker({ port: 0 });
  });
  after(async () => {
    mqttModule.connect = realConnect;
    await broker?.close();
  });
  afterEach(() => {
    mqttModule.connect = realConnect;
  });

  /** mqtt.connect, with the client's streamBuilder property replaced by `property`. */
  function connectWith(property: (builder: unknown) => PropertyDescriptor, made: mqtt.MqttClient[]): void {
    mqttModule.connect = ((url: string, opts: mqtt.IClientOptions) => {
      const client = realConnect(url, opts);
      const inner = client as unknown as { streamBuilder: unknown };
      Object.defineProperty(client, 'streamBuilder', property(inner.streamBuilder));
      made.push(client);
      return client;
    }) as typeof mqtt.connect;
  }

  function refused(err: unknown): boolean {
    return isLedgerError(err) && err.code === 'ERR_INTERNAL' && /packet-size guard cannot apply/.test(err.message);
  }

  it('a client without the stream factory: ERR_INTERNAL, and nothing connects', () => {
    const made: mqtt.MqttClient[] = [];
    connectWith(() => ({ value: undefined, writable: true, configurable: true }), made);
    assert.throws(() => connectBoundedMqtt(broker.url, 1024, { clientIdPrefix: 'guard-test' }), refused);
    assert.equal(made.length, 1);
    assert.equal(made[0].stream, undefined, 'no connection was opened');
  });

  it('a client that builds its connection without the wrapped factory: ERR_INTERNAL, and the connection is ended for good', async () => {
    const made: mqtt.MqttClient[] = [];
    // The factory is still there, but assigning it changes nothing: mqtt.js keeps using its own.
    connectWith((builder) => ({ get: () => builder, set: () => undefined, configurable: true }), made);
    assert.throws(() => connectBoundedMqtt(broker.url, 1024, { clientIdPrefix: 'guard-test' }), refused);
    assert.equal(made.length, 1);
    const client = made[0];
    let reconnects = 0;
    client.on('reconnect', () => void reconnects++);
    assert.equal(client.stream.destroyed, true, 'its connection was destroyed');
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    // Longer than the connector's reconnect period (2 s): an ended client must not come back.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(reconnects, 0, 'the unguarded client connected again');
  });

  it('the mqtt.js this pack installs is guarded: it connects', async () => {
    const client = connectBoundedMqtt(broker.url, 1024, { clientIdPrefix: 'guard-test' });
    try {
      client.on('error', () => undefined); // Aedes refuses MQTT 5 once: the client falls back to 3.1.1
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      assert.equal(client.connected, true);
    } finally {
      await client.endAsync();
    }
  });
});

describe('bounded MQTT: the guard names the topic of a retained message over the limit', () => {
  /** A PUBLISH fixed header (`flags` in the low nibble) announcing `length` bytes, then the topic. */
  function publish(flags: number, topic: string, length: number): Buffer {
    const t = Buffer.from(topic, 'utf8');
    const lengthBytes: number[] = [];
    let rest = length;
    do {
      lengthBytes.push((rest % 128) | (rest >= 128 ? 0x80 : 0));
      rest = Math.floor(rest / 128);
    } while (rest > 0);
    return Buffer.concat([Buffer.from([0x30 | flags, ...lengthBytes]), Buffer.from([t.length >> 8, t.length & 0xff]), t]);
  }

  it('a retained PUBLISH: its topic; one not retained, one whose topic has not arrived, one with a wildcard: none', () => {
    const cases: [Buffer, string | undefined][] = [
      [publish(0x1, 'a/request/x', 5000), 'a/request/x'],
      [publish(0x3, 'a/request', 5000), 'a/request'],
      [publish(0x0, 'a/request/x', 5000), undefined],
      [publish(0x1, 'a/request/x', 5000).subarray(0, 6), undefined],
      [publish(0x1, 'a/+/x', 5000), undefined],
    ];
    for (const [chunk, topic] of cases) {
      const guard = new IncomingPacketGuard(1024);
      assert.equal(guard.push(chunk), false);
      assert.equal(guard.retainedTopic, topic, chunk.toString('hex'));
    }
    const within = new IncomingPacketGuard(1024);
    assert.equal(within.push(publish(0x1, 'a/request/x', 100)), true);
    assert.equal(within.retainedTopic, undefined);
  });
});
