import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { generateKey, keyToDid } from '../../lib/crypto';
import { RESTORE_AFTER_MS } from '../../lib/guards/overwrite-watch';
import { Ledger } from '../../lib/ledger';
import { mqttTileFetch, originRetainedCheck, ReplicaFollower } from '../../lib/replica';
import {
  connectTileMqtt,
  defaultTileTopicBase,
  ECHO_MS,
  MAX_RETAINED_RESOURCE_BYTES,
  MqttTilePublisher,
  requestTopic,
  type MqttTilePublisherOptions,
  resourceTopic,
  tileMqttPacketLimit,
} from '../../lib/tiles/mqtt';
import { readResource } from '../../lib/tiles/source';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { CHECKPOINT_PATH as CHECKPOINT, HEAD_PATH as HEAD, META_PATH as META } from '../../lib/tiles/path';
import { fakeTileClient } from '../support/fake-tile-client';
import { appendNotes, tempDir } from '../support/ledger';
import { roundAfterReplay } from '../support/replica-rounds';
import { until } from '../support/until';

// The gateway publishes its checkpoint, head and meta retained; anyone who can publish on the
// broker can put something else there (an older checkpoint the gateway signed, garbage, an empty
// message, a packet larger than the gateway's limit). Before, that stayed until the gateway's next
// block: on an idle gateway for ever. The gateway now watches its own three topics and publishes
// its own again, a bounded number of times however many overwrites come.

/** The gateway's tile server on `broker`, over its own bounded connection (MQTT 3.1.1 on Aedes). */
async function startServer(
  broker: RunningBroker,
  ledger: Ledger,
  base: string,
  opts: MqttTilePublisherOptions = {},
): Promise<{ client: mqtt.MqttClient; publisher: MqttTilePublisher; closes: () => number }> {
  const client = connectTileMqtt(broker.url, { base });
  client.on('error', () => undefined);
  let closes = 0;
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  client.on('close', () => void closes++);
  const publisher = new MqttTilePublisher(ledger, client, { ...opts, base });
  await publisher.start();
  return { client, publisher, closes: () => closes };
}

describe('tiles over MQTT: the gateway keeps its retained checkpoint, head and meta its own (Aedes, MQTT 3.1.1)', function () {
  this.timeout(60_000);
  const tmp = tempDir('tiles-mqtt-retained-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const NAME = 'example.org/retained';
  const base = defaultTileTopicBase(NAME);
  const topic = (p: string): string => resourceTopic(base, p);
  let broker: RunningBroker;
  let ledger: Ledger;
  let server: Awaited<ReturnType<typeof startServer>>;
  let attacker: mqtt.MqttClient;
  let olderCheckpoint: string;

  const ours = async (p: string): Promise<string> => Buffer.from((await readResource(ledger, p)).body).toString('utf8');
  /** Whether the broker holds the gateway's own resource retained on the topic of `p`. */
  const retainedIsOurs = async (p: string): Promise<boolean> => (await broker.retained([topic(p)])).get(topic(p)) === (await ours(p));
  /**
   * A tile request answered (idle again once it came): every message the broker had for the
   * gateway before it has been handled. `again`: asked every 250 ms until then (a request sent
   * while the gateway is between two connections is lost).
   */
  const roundTrip = async (again = false): Promise<void> => {
    const { requests } = server.publisher.stats;
    const { size } = (await ledger.latestBlock())!.header;
    let asked = 0;
    await until(
      () => `the answer to a tile request (requests ${server.publisher.stats.requests - requests}, idle ${String(server.publisher.idle)}, connections closed ${server.closes()}, connected ${String(server.client.connected)})`,
      async () => {
        if (asked === 0 || (again && Date.now() - asked > 250)) {
          asked = Date.now();
          await attacker.publishAsync(requestTopic(base), `tile/0/000.p/${Math.min(size, 255)}`, { qos: 1 });
        }
        return server.publisher.stats.requests > requests && server.publisher.idle;
      },
    );
  };

  before(async () => {
    broker = await startBroker({ port: 0 });
    ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    await appendNotes(ledger, 0, 10);
    olderCheckpoint = await ours(CHECKPOINT);
    await appendNotes(ledger, 10, 20);
    server = await startServer(broker, ledger, base);
    assert.equal(server.client.options.protocolVersion, 4, 'Aedes: MQTT 3.1.1, where the packet limit is the guard');
    attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
  });
  after(async () => {
    server?.publisher.close();
    await attacker?.endAsync();
    await server?.client.endAsync(true);
    await ledger?.close();
    await broker?.close();
    tmp.cleanup();
  });

  it('its own publications coming back (at start, after a block) are not taken for overwrites', async () => {
    await appendNotes(ledger, 30, 5);
    await server.publisher.announce();
    await until('the new checkpoint retained', () => retainedIsOurs(CHECKPOINT));
    await roundTrip();
    assert.deepEqual([server.publisher.stats.overwritten, server.publisher.stats.restored], [0, 0]);
  });

  it('an older checkpoint it signed, replayed retained, is replaced by its own: a replica completes a round without a new block', async () => {
    const follower = new ReplicaFollower({ url: `${broker.url}/${base}`, dir: path.join(tmp.dir, 'replica'), trustedKey: did, intervalSeconds: 3600, timeoutMs: 5000 });
    try {
      const first = await follower.catchUp();
      const current = await ours(CHECKPOINT);
      assert.equal(first.checkpoint, current);
      const height = (await ledger.latestBlock())!.height;
      const { restored, overwritten } = server.publisher.stats;
      await attacker.publishAsync(topic(CHECKPOINT), olderCheckpoint, { qos: 1, retain: true });
      await until('the gateway to publish its checkpoint again', () => server.publisher.stats.restored > restored);
      await until("the gateway's checkpoint retained again", () => retainedIsOurs(CHECKPOINT));
      // Until the replica has the gateway's checkpoint again, its rounds fail as a replay.
      const round = await roundAfterReplay(follower);
      assert.deepEqual([round.size, round.checkpoint], [first.size, current]);
      assert.equal((await ledger.latestBlock())!.height, height, 'no new block');
      assert.deepEqual([server.publisher.stats.overwritten - overwritten, server.publisher.stats.restored - restored], [1, 1], 'one overwrite, one restore');
      // A smaller checkpoint the gateway signed is how a rollback shows: the replica does not pass it over.
      assert.equal(follower.view().passedOver, 0);
    } finally {
      await follower.close();
    }
  });

  it('garbage on the head topic and an empty message on the meta topic are replaced: a replica started after has them', async () => {
    await attacker.publishAsync(topic(HEAD), 'garbage', { qos: 1, retain: true });
    await attacker.publishAsync(topic(META), '', { qos: 1, retain: true });
    await until('the head and the meta retained again', async () => (await retainedIsOurs(HEAD)) && retainedIsOurs(META));
    const fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 5000, check: originRetainedCheck(did) });
    try {
      for (const p of [HEAD, META]) assert.deepEqual(Buffer.from(await fetch(p)), Buffer.from((await readResource(ledger, p)).body), p);
    } finally {
      await fetch.close();
    }
  });

  it('a message larger than its packet limit retained on the checkpoint topic is cleared on its next connection, and its own published again', async () => {
    const closes = server.closes();
    await attacker.publishAsync(topic(CHECKPOINT), Buffer.alloc(tileMqttPacketLimit(base) + 1024, 0x41), { qos: 1, retain: true });
    await until('the oversized message to end the connection', () => server.closes() > closes);
    // Answered once connected again: the connection that cleared the message (first thing) and subscribed.
    await roundTrip(true);
    await until("the gateway's checkpoint retained again", () => retainedIsOurs(CHECKPOINT));
    // It stays connected now: the oversized message is gone, its own checkpoint does not cut it.
    const settled = server.closes();
    await roundTrip();
    assert.equal(server.closes(), settled);
    assert.ok(await retainedIsOurs(CHECKPOINT));
  });

  it('a flood of overwrites makes it publish its own again a bounded number of times, not once per overwrite', async () => {
    const n = 300;
    // Nothing of its own still waiting for the broker's acknowledgement (announced in turn: this resolves after all of it).
    await server.publisher.announce();
    await roundTrip();
    const before = { ...server.publisher.stats };
    const started = Date.now();
    await Promise.all(Array.from({ length: n }, (_, i) => attacker.publishAsync(topic(CHECKPOINT), `garbage ${i}`, { qos: 1, retain: true })));
    await until(
      () => `the gateway to see the ${n} overwrites and its checkpoint retained again (${server.publisher.stats.overwritten - before.overwritten} seen)`,
      // The broker holds a restore retained before its acknowledgement reaches the gateway, which counts it then.
      async () => server.publisher.stats.overwritten - before.overwritten === n && server.publisher.stats.restored > before.restored && retainedIsOurs(CHECKPOINT),
    );
    const restored = server.publisher.stats.restored - before.restored;
    // At most once per restore round of RESTORE_AFTER_MS (the first one RESTORE_AFTER_MS after the first overwrite).
    const rounds = Math.floor((Date.now() - started) / RESTORE_AFTER_MS);
    assert.ok(restored >= 1 && restored <= rounds, `${restored} restores for ${n} overwrites in ${rounds} rounds`);
    assert.equal(server.publisher.stats.published - before.published, restored, 'nothing else published');
  });
});

describe('tiles over MQTT: two gateways misconfigured on one topic base (Aedes, MQTT 3.1.1)', function () {
  this.timeout(30_000);
  const tmp = tempDir('tiles-mqtt-two-');

  it('each publishes its own again at most once a second per topic, and reports the others\' messages once, not per message', async () => {
    const broker = await startBroker({ port: 0 });
    const base = 'iot-ledger/shared';
    const servers: Awaited<ReturnType<typeof startServer>>[] = [];
    const ledgers: Ledger[] = [];
    const reports: number[][] = [[], []];
    try {
      const started = Date.now();
      for (const i of [0, 1]) {
        const ledger = await Ledger.open(path.join(tmp.dir, `gw${i}`), { name: `example.org/gw${i}`, gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
        ledgers.push(ledger);
        await appendNotes(ledger, 0, 3);
        servers.push(await startServer(broker, ledger, base, { onOverwritten: (n) => reports[i].push(n) }));
      }
      // Each publishes its own over the other's: for as long as both run, a trickle.
      await until('both to have published their own again twice per topic', () => servers.every((s) => s.publisher.stats.restored >= 6), { timeoutMs: 20_000 });
      const rounds = Math.floor((Date.now() - started) / RESTORE_AFTER_MS);
      for (const [i, s] of servers.entries()) {
        assert.ok(s.publisher.stats.restored <= 3 * rounds, `gateway ${i}: ${s.publisher.stats.restored} restores in ${rounds} rounds`);
        // The first report at once, the next ones at most once a minute (this test is shorter).
        assert.equal(reports[i].length, 1, `gateway ${i}: reports ${JSON.stringify(reports[i])}`);
      }
    } finally {
      for (const s of servers) s.publisher.close();
      for (const s of servers) await s.client.endAsync(true);
      for (const l of ledgers) await l.close();
      await broker.close();
      tmp.cleanup();
    }
  });
});

describe('tiles over MQTT: the packet limit admits the largest checkpoint, head and meta a gateway publishes (Aedes, MQTT 3.1.1)', function () {
  this.timeout(30_000);
  const tmp = tempDir('tiles-mqtt-longest-');

  it('a ledger name of 255 four-byte code points: its own retained messages come back without ending its connection', async () => {
    const name = '\u{1D11E}'.repeat(255);
    const broker = await startBroker({ port: 0 });
    const ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name, gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    const asker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      await appendNotes(ledger, 0, 3);
      for (const p of [CHECKPOINT, HEAD, META]) {
        const bytes = (await readResource(ledger, p)).body.length;
        assert.ok(bytes <= MAX_RETAINED_RESOURCE_BYTES, `${p}: ${bytes} bytes`);
      }
      const base = defaultTileTopicBase(name);
      assert.ok(tileMqttPacketLimit(base) < 16 * 1024, `a limit of ${tileMqttPacketLimit(base)} bytes`);
      server = await startServer(broker, ledger, base);
      await until('its checkpoint retained', async () => (await broker.retained([resourceTopic(base, CHECKPOINT)])).size === 1);
      // Answered after its own checkpoint, head and meta came back to it (one broker, in order).
      await asker.publishAsync(requestTopic(base), 'tile/0/000.p/3', { qos: 1 });
      await until('the answer to a tile request', () => server!.publisher.stats.published === 4);
      assert.deepEqual([server.closes(), server.publisher.stats.overwritten], [0, 0]);
    } finally {
      server?.publisher.close();
      await asker.endAsync();
      await server?.client.endAsync(true);
      await ledger.close();
      await broker.close();
      tmp.cleanup();
    }
  });
});

describe('tiles over MQTT: its own publications echoed late (after the broker acknowledged the next one)', function () {
  this.timeout(30_000);
  const tmp = tempDir('tiles-mqtt-echo-');
  after(() => tmp.cleanup());

  /** A client whose broker acknowledges each publication at once and delivers it back to the publisher only when told to. */
  it('are not counted or reported as someone else\'s; the same payload sent again later is', async () => {
    const ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'example.org/echo', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    const client = fakeTileClient();
    let clock = Date.now();
    const reports: number[] = [];
    const publisher = new MqttTilePublisher(ledger, client, { now: () => clock, onOverwritten: (n) => reports.push(n) });
    try {
      await appendNotes(ledger, 0, 3);
      await publisher.start();
      const first = Buffer.from((await readResource(ledger, CHECKPOINT)).body);
      // Three blocks announced one after the other before any of their echoes came back.
      for (let i = 1; i <= 3; i++) {
        await appendNotes(ledger, i * 3, 3);
        await publisher.announce();
      }
      client.echoAll();
      assert.deepEqual([publisher.stats.overwritten, reports], [0, []]);
      // The first checkpoint again, past ECHO_MS: someone replaying it.
      clock += ECHO_MS;
      client.deliver(resourceTopic(publisher.base, CHECKPOINT), first);
      assert.deepEqual([publisher.stats.overwritten, reports], [1, [1]]);
    } finally {
      publisher.close();
      await ledger.close();
    }
  });
});
