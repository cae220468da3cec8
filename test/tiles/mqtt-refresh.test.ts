import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { mock } from 'node:test';
import * as mqtt from 'mqtt';
import { generateKey, keyToDid } from '../../lib/crypto';
import { RESTORE_AFTER_MS } from '../../lib/guards/overwrite-watch';
import { Ledger } from '../../lib/ledger';
import { mqttTileFetch, originRetainedCheck } from '../../lib/replica';
import { MAX_SMALL_RESOURCE_BYTES } from '../../lib/replica/http';
import { connectTileMqtt, MqttTilePublisher, resourceTopic, tileMqttPacketLimit } from '../../lib/tiles/mqtt';
import { readResource } from '../../lib/tiles/source';
import { CHECKPOINT_PATH as CHECKPOINT, HEAD_PATH as HEAD, META_PATH as META } from '../../lib/tiles/path';
import { fakeTileClient } from '../support/fake-tile-client';
import { appendNotes, tempDir } from '../support/ledger';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { until } from '../support/until';

// On an MQTT 5 broker the gateway's connection has a Maximum Packet Size of about 4 KiB: a larger
// message retained on its checkpoint, head or meta topic is never delivered to it, so its
// OverwriteWatch never sees it. Before, that message stayed there until the gateway's next block
// (on an idle gateway, for ever): a replica that connected after it got no checkpoint at all. The
// gateway now publishes each of the three again once REFRESH_MS have passed since it last did.

describe('tiles over MQTT: a message too large for the gateway retained on its checkpoint topic (mosquitto, MQTT 5)', function () {
  this.timeout(30_000);
  const tmp = tempDir('tiles-mqtt-refresh-');
  const key = generateKey('Ed25519');
  const NAME = 'example.org/refresh';
  const base = 'iot-ledger/refresh';
  const REFRESH = 1500;
  let broker: Mosquitto;
  let ledger: Ledger;
  let server: mqtt.MqttClient;
  let publisher: MqttTilePublisher;

  before(async () => {
    broker = await startMosquitto();
    ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    await appendNotes(ledger, 0, 10);
    server = connectTileMqtt(broker.url, { base });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.once('connect', () => resolve()));
    assert.equal(server.options.protocolVersion, 5, 'mosquitto 2: MQTT 5, where the broker keeps a larger packet from the gateway');
    publisher = new MqttTilePublisher(ledger, server, { base, refreshMs: REFRESH });
    await publisher.start();
  });
  after(async () => {
    publisher?.close();
    await server?.endAsync();
    await ledger?.close();
    await broker?.stop();
    tmp.cleanup();
  });

  it('a replica that connects after it gets the gateway\'s checkpoint, without a new block', async () => {
    const topic = resourceTopic(base, CHECKPOINT);
    const ours = Buffer.from((await readResource(ledger, CHECKPOINT)).body);
    const height = (await ledger.latestBlock())!.height;
    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }, false);
    const observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }, false);
    let fetch: ReturnType<typeof mqttTileFetch> | undefined;
    try {
      const seen: Buffer[] = [];
      observer.on('message', (_t, payload) => seen.push(payload));
      await observer.subscribeAsync(topic, { qos: 1 });
      await until('the retained checkpoint', () => seen.length > 0);
      assert.deepEqual(seen[0], ours);
      // Larger than the gateway's packet limit, and than any checkpoint a replica takes (it drops it unread).
      const oversized = Buffer.alloc(MAX_SMALL_RESOURCE_BYTES + 1, 0x41);
      assert.ok(oversized.length > tileMqttPacketLimit(base));
      await attacker.publishAsync(topic, oversized, { qos: 1, retain: true });
      await until('the oversized message delivered to a client without a packet limit', () => seen.some((m) => m.length === oversized.length));
      assert.equal(publisher.stats.overwritten, 0, 'never delivered to the gateway');
      // A replica connecting now: before, no checkpoint came within its timeout (on an idle gateway, never).
      fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 10_000, check: originRetainedCheck(keyToDid(key)) });
      assert.deepEqual(Buffer.from(await fetch(CHECKPOINT)), ours);
      const after = (): Buffer[] => seen.slice(seen.findIndex((m) => m.length === oversized.length) + 1);
      await until("the gateway's checkpoint published after it", () => after().length > 0);
      assert.deepEqual(after()[0], ours);
      assert.equal((await ledger.latestBlock())!.height, height, 'no new block');
      // The next refresh comes to the replica as the same checkpoint: not passed over.
      await until('the next refresh delivered', () => after().length > 1, { timeoutMs: 3 * REFRESH });
      assert.deepEqual(after()[1], ours);
      assert.deepEqual(Buffer.from(await fetch(CHECKPOINT)), ours);
      assert.equal(fetch.passedOver, 0);
      assert.deepEqual([publisher.stats.overwritten, publisher.stats.restored], [0, 0], "its own refreshes are not someone else's messages");
    } finally {
      await fetch?.close();
      await observer.endAsync();
      await attacker.endAsync();
    }
  });
});

describe('tiles over MQTT: the periodic refresh of the checkpoint, head and meta (mocked timers)', function () {
  const tmp = tempDir('tiles-mqtt-refresh-unit-');
  after(() => tmp.cleanup());

  it('publishes each again at most once per interval, not within one of its last publication, and not after close', async () => {
    const ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'example.org/refresh-unit', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    let clock = 1_000_000;
    const client = fakeTileClient(() => clock);
    const INTERVAL = 10_000;
    // Its first block, sealed before the publisher listens: the 'block' event (next tick) is gone.
    await appendNotes(ledger, 0, 3);
    await new Promise((resolve) => setImmediate(resolve));
    mock.timers.enable({ apis: ['setTimeout'] });
    const publisher = new MqttTilePublisher(ledger, client, { now: () => clock, refreshMs: INTERVAL });
    const t = (p: string): string => resourceTopic(publisher.base, p);
    /** Moves the clock and the mocked timers on together, then lets what the timers started finish. */
    const advance = async (ms: number): Promise<void> => {
      clock += ms;
      mock.timers.tick(ms);
      await new Promise((resolve) => setImmediate(resolve));
    };
    /** What was published since `from` (an index into sent), as [topic, ms since start]. */
    const since = (from: number, start: number): [string, number][] => client.sent.slice(from).map((s) => [s.topic, s.at - start]);
    try {
      const start = clock;
      await publisher.start();
      assert.deepEqual(since(0, start), [[t(META), 0], [t(HEAD), 0], [t(CHECKPOINT), 0]]);
      let n = client.sent.length;
      await advance(INTERVAL - 1);
      assert.deepEqual(since(n, start), [], 'nothing within the interval');
      await advance(1);
      // The same bytes, head before checkpoint.
      assert.deepEqual(since(n, start), [[t(META), INTERVAL], [t(HEAD), INTERVAL], [t(CHECKPOINT), INTERVAL]]);
      assert.deepEqual(client.sent.slice(n).map((s) => s.payload), client.sent.slice(0, 3).map((s) => s.payload));
      assert.equal(publisher.stats.refreshed, 3);

      // A block half an interval later publishes all three: nothing is due when the timer fires at
      // 2 intervals; all three are one interval after the block.
      await advance(INTERVAL / 2);
      // Announced on the 'block' event (next tick); announce() resolves after that one too.
      const block = new Promise((resolve) => ledger.once('block', resolve));
      await appendNotes(ledger, 3, 3);
      await block;
      await publisher.announce();
      const announced = client.sent.length;
      await advance(INTERVAL / 2);
      assert.equal(client.sent.length, announced, 'published within the interval: not again');
      await advance(INTERVAL / 2 - 1);
      assert.equal(client.sent.length, announced);
      await advance(1);
      assert.deepEqual(since(announced, start), [[t(META), 2.5 * INTERVAL], [t(HEAD), 2.5 * INTERVAL], [t(CHECKPOINT), 2.5 * INTERVAL]]);
      assert.deepEqual(client.sent.at(-1)!.payload, Buffer.from((await readResource(ledger, CHECKPOINT)).body), 'the latest checkpoint');

      // Someone else's head at 3 intervals, restored RESTORE_AFTER_MS later: from then on the head
      // is due that much after the other two.
      n = client.sent.length;
      await advance(INTERVAL / 2);
      client.deliver(t(HEAD), Buffer.from('garbage'));
      await advance(RESTORE_AFTER_MS);
      assert.deepEqual(since(n, start), [[t(HEAD), 3 * INTERVAL + RESTORE_AFTER_MS]], 'restored');
      assert.equal(publisher.stats.restored, 1);
      n = client.sent.length;
      await advance(INTERVAL / 2 - RESTORE_AFTER_MS);
      assert.deepEqual(since(n, start), [[t(META), 3.5 * INTERVAL], [t(CHECKPOINT), 3.5 * INTERVAL]]);
      n = client.sent.length;
      await advance(INTERVAL / 2 + RESTORE_AFTER_MS - 1);
      assert.deepEqual(since(n, start), [], 'the head: not within an interval of its restore');
      await advance(1);
      assert.deepEqual(since(n, start), [[t(HEAD), 4 * INTERVAL + RESTORE_AFTER_MS]]);

      // While the connection is down nothing is published (start() announces on the next one).
      n = client.sent.length;
      client.connected = false;
      await advance(2 * INTERVAL);
      assert.deepEqual(since(n, start), []);
      client.connected = true;
      await advance(INTERVAL);
      assert.deepEqual(
        since(n, start).map(([topic]) => topic),
        [t(META), t(HEAD), t(CHECKPOINT)],
        'refreshed once the connection is back, once each',
      );

      // Its own refreshes coming back are not someone else's messages.
      for (const s of client.sent.slice(-3)) client.deliver(s.topic, s.payload);
      assert.equal(publisher.stats.overwritten, 1, 'the garbage head only');

      publisher.close();
      n = client.sent.length;
      await advance(10 * INTERVAL);
      assert.deepEqual(since(n, start), [], 'nothing after close');
    } finally {
      publisher.close();
      mock.timers.reset();
      await ledger.close();
    }
  });
});
