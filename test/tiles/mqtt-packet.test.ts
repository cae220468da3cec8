import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { connectTileMqtt, MAX_PATH_BYTES, MqttTilePublisher, requestTopic, resourceTopic, tileMqttPacketLimit } from '../../lib/tiles/mqtt';
import { startBroker } from '../../demo/broker';
import { tempDir } from '../support/ledger';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';

// The tile server's own connection (what the Ledger config node opens for "tiles over MQTT")
// on Debian's mosquitto: MQTT 5 with a Maximum Packet Size just above a request, so the broker
// keeps a request of megabytes instead of delivering it to be dropped by the 128-byte check.
describe('tiles over MQTT: the server connection announces a Maximum Packet Size (mosquitto)', function () {
  this.timeout(30000);
  const tmp = tempDir();
  const base = 'iot-ledger/packet-limit';
  let broker: Mosquitto;
  let ledger: Ledger;
  let server: mqtt.MqttClient;
  let publisher: MqttTilePublisher;

  before(async () => {
    broker = await startMosquitto();
    ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'packet-limit', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    await ledger.appendMany(Array.from({ length: 10 }, (_, n) => ({ type: 'note', body: { n } })));
    await ledger.seal();
    server = connectTileMqtt(broker.url, { base });
    await new Promise<void>((resolve) => server.once('connect', () => resolve()));
    publisher = new MqttTilePublisher(ledger, server, { base });
    await publisher.start();
  });
  after(async () => {
    publisher?.close();
    await server?.endAsync();
    await ledger?.close();
    await broker?.stop();
    tmp.cleanup();
  });

  it('is small: a request path, its topic and 1 KiB', () => {
    assert.equal(tileMqttPacketLimit(base), MAX_PATH_BYTES + requestTopic(base).length + 1024);
  });

  it('a 4 MiB request never reaches the server; one just over 128 bytes does and is dropped; the next is answered', async () => {
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }, false);
    try {
      const tile = 'tile/0/000.p/10';
      await c.subscribeAsync(resourceTopic(base, tile), { qos: 1 });
      const answered = new Promise<void>((resolve) => c.on('message', () => resolve()));
      // A broker takes up to 256 MiB by default: the server must not receive this whole to drop it.
      await c.publishAsync(requestTopic(base), Buffer.alloc(4 * 1024 * 1024, 0x41), { qos: 1 });
      // Over the path limit, within the packet limit: delivered and dropped by the check.
      await c.publishAsync(requestTopic(base), Buffer.alloc(MAX_PATH_BYTES + 1, 0x41), { qos: 1 });
      await c.publishAsync(requestTopic(base), tile, { qos: 1 });
      await answered;
      assert.deepEqual([publisher.stats.requests, publisher.stats.dropped], [2, 1], 'the 4 MiB request was not delivered');
    } finally {
      await c.endAsync();
    }
  });

  it('a broker without MQTT 5 (Aedes) gets MQTT 3.1.1 on the next attempt, with a warning', async () => {
    const aedes = await startBroker({ port: 0 });
    let warned = 0;
    const c = connectTileMqtt(aedes.url, { base, onMqtt311: () => void warned++ });
    c.on('error', () => undefined);
    try {
      await new Promise<void>((resolve) => c.once('connect', () => resolve()));
      assert.deepEqual([c.options.protocolVersion, warned], [4, 1]);
    } finally {
      await c.endAsync();
      await aedes.close();
    }
  });
});
