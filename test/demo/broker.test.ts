import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { assertPortFree, ListenError } from '../../demo/ports';

describe('demo/broker', () => {
  let broker: RunningBroker | undefined;
  const clients: mqtt.MqttClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.close();
    broker = undefined;
  });

  const connect = async (id: string): Promise<mqtt.MqttClient> => {
    const c = await mqtt.connectAsync(broker!.url, { clientId: id, reconnectPeriod: 0 }, false);
    clients.push(c);
    return c;
  };

  it('passes messages between real MQTT clients (QoS 1, retained)', async () => {
    broker = await startBroker({ port: 0 });
    assert.ok(broker.port > 0);
    assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    const sub = await connect('sub');
    const pub = await connect('pub');
    const got: Array<[string, string]> = [];
    const two = new Promise<void>((resolve) =>
      sub.on('message', (topic, payload) => {
        got.push([topic, payload.toString()]);
        if (got.length === 2) resolve();
      }),
    );
    await sub.subscribeAsync('coldroom/+/reading', { qos: 1 });
    await pub.publishAsync('coldroom/a/reading', '{"temperature":-22.1}', { qos: 1 });
    await pub.publishAsync('other/topic', 'not for sub', { qos: 1 });
    await pub.publishAsync('coldroom/b/reading', 'x', { qos: 0 });
    await two;
    assert.deepEqual(got, [
      ['coldroom/a/reading', '{"temperature":-22.1}'],
      ['coldroom/b/reading', 'x'],
    ]);

    // A retained message reaches a client that subscribes later.
    await pub.publishAsync('coldroom/status', 'up', { qos: 1, retain: true });
    const late = await connect('late');
    const retained = new Promise<string>((resolve) => late.on('message', (_t, p) => resolve(p.toString())));
    await late.subscribeAsync('coldroom/status');
    assert.equal(await retained, 'up');
  });

  it('fails with EADDRINUSE and a message naming the way out when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startBroker({ port }), (err: unknown) => {
        assert.ok(err instanceof ListenError);
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.port, port);
        assert.equal(err.message, `port ${port} is in use; set MQTT_PORT or --mqtt-port`);
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('says which host is wrong when it cannot listen there', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    await assert.rejects(startBroker({ host: '192.0.2.1', port: 0 }), (err: unknown) => {
      assert.ok(err instanceof ListenError);
      assert.equal(err.code, 'EADDRNOTAVAIL');
      assert.match(err.message, /cannot listen on host 192\.0\.2\.1/);
      return true;
    });
  });

  it('close() disconnects clients, frees the port and can be called twice', async () => {
    broker = await startBroker({ port: 0 });
    const port = broker.port;
    const c = await connect('c');
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    await Promise.all([broker.close(), broker.close()]);
    await closed;
    assert.equal(c.connected, false);
    await assertPortFree('127.0.0.1', port, 'unused');
    // The same port can be used again at once.
    broker = await startBroker({ port });
    assert.equal(broker.port, port);
  });
});
