import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { ReplicaFollower, type CatchUpResult } from '../../lib/replica';
import {
  AGAIN_MS,
  againRequest,
  connectTileMqtt,
  defaultTileTopicBase,
  MqttTilePublisher,
  type MqttTilePublisherOptions,
  REPUBLISH_MS,
  requestTopic,
  resourceTopic,
  type TileMqttClient,
} from '../../lib/tiles/mqtt';
import { readResource } from '../../lib/tiles/source';
import { decodeBlockBundle, encodeBlockBundle } from '../../lib/tiles/content';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { appendNotes, tempDir } from '../support/ledger';
import { startMosquitto } from '../support/mosquitto';
import { until } from '../support/until';

// A full tile is published retained, and not again within REPUBLISH_MS of that: the broker's copy
// serves later subscribers. Anyone who can publish on the broker can replace that copy (garbage,
// another tile's bytes) right after the gateway published it. Before, every replica fetching that
// tile took the replacement, failed its round with ERR_REPLICA_BAD_TILE, and its requests were
// ignored for up to 60 s (again every minute, as often as the attacker liked). A replica now tells
// its fetch which tile did not verify; the next fetch of it passes over the retained copy and asks
// the gateway to publish it again (`again <path>`), which the gateway does at most once a second.

const NAME = 'example.org/bad-tile';

/** `client` as a gateway before againRequest sees it: such a request is no tile path, and dropped unseen. */
function withoutAgain(client: mqtt.MqttClient, seen: { again: number }): TileMqttClient {
  const filters = new Map<(topic: string, payload: Buffer) => void, (topic: string, payload: Buffer) => void>();
  return {
    publish: (topic, payload, opts, cb) => client.publish(topic, payload, opts, cb),
    subscribe: (topic, opts, cb) => client.subscribe(topic, opts, cb),
    unsubscribe: (topic, cb) => client.unsubscribe(topic, cb),
    on(event: 'message' | 'connect', fn: never): unknown {
      if (event === 'connect') return client.on('connect', fn);
      const message = fn as (topic: string, payload: Buffer) => void;
      const filter = (topic: string, payload: Buffer): void => {
        if (payload.toString('utf8').startsWith('again ')) seen.again++;
        else message(topic, payload);
      };
      filters.set(message, filter);
      return client.on('message', filter);
    },
    off(event: 'message' | 'connect', fn: never): unknown {
      if (event === 'connect') return client.off('connect', fn);
      return client.off('message', filters.get(fn) ?? fn);
    },
    get connected() {
      return client.connected;
    },
  };
}

describe('replica over MQTT tiles: a full tile replaced on the broker right after the gateway published it (Aedes)', function () {
  this.timeout(60_000);
  const tmp = tempDir('replica-mqtt-bad-tile-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const base = defaultTileTopicBase(NAME);
  let broker: RunningBroker;
  let gateway: Ledger;
  let attacker: mqtt.MqttClient;
  const clients: mqtt.MqttClient[] = [];
  const publishers: MqttTilePublisher[] = [];

  const body = async (p: string): Promise<Buffer> => Buffer.from((await readResource(gateway, p)).body);
  /** A tile server for `gateway` on `topicBase`, over its own connection (`wrap`: what it sees of it). */
  async function serve(topicBase: string, opts: MqttTilePublisherOptions = {}, wrap?: (c: mqtt.MqttClient) => TileMqttClient): Promise<MqttTilePublisher> {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    clients.push(client);
    const publisher = new MqttTilePublisher(gateway, wrap ? wrap(client) : client, { ...opts, base: topicBase });
    publishers.push(publisher);
    await publisher.start();
    return publisher;
  }
  /** Asks `publisher` for full tile `p` and waits until the broker holds its bytes retained. */
  async function publishedRetained(publisher: MqttTilePublisher, p: string): Promise<void> {
    const topic = resourceTopic(publisher.base, p);
    // As the broker helper reads it (UTF-8): garbage would not read the same.
    const ours = (await body(p)).toString();
    const held = async (): Promise<boolean> => (await broker.retained([topic])).get(topic) === ours;
    await attacker.publishAsync(requestTopic(publisher.base), p, { qos: 1 });
    await until(`${p} retained`, held);
  }
  const follower = (dir: string, topicBase: string, timeoutMs = 10_000): ReplicaFollower =>
    new ReplicaFollower({ url: `${broker.url}/${topicBase}`, dir: path.join(tmp.dir, dir), trustedKey: did, intervalSeconds: 3600, timeoutMs });
  const badTile = (p: string) => (e: unknown) => {
    assert.ok(isLedgerError(e, 'ERR_REPLICA_BAD_TILE') || isLedgerError(e, 'ERR_LEDGER_CORRUPT'), String(e));
    assert.equal(e.details?.path, p, e.message);
    return true;
  };
  async function auditsClean(dir: string, size: number): Promise<void> {
    const report = await auditLedger(path.join(tmp.dir, dir), { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, size);
  }

  before(async () => {
    broker = await startBroker({ port: 0 });
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    for (let i = 0; i < 700; i += 100) await appendNotes(gateway, i, 100);
    attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
  });
  after(async () => {
    for (const p of publishers) p.close();
    for (const c of clients) await c.endAsync();
    await attacker?.endAsync();
    await gateway?.close();
    await broker?.close();
    tmp.cleanup();
  });

  it('garbage retained on an entry tile: the round fails on that tile, the next one takes the gateway\'s fresh copy (not in 60 s), and the copy audits CLEAN', async () => {
    const topicBase = `${base}/garbage`;
    const publisher = await serve(topicBase);
    await publishedRetained(publisher, 'tile/entries/000');
    await attacker.publishAsync(resourceTopic(topicBase, 'tile/entries/000'), 'garbage', { qos: 1, retain: true });
    const f = follower('garbage', topicBase);
    try {
      await assert.rejects(f.catchUp(), badTile('tile/entries/000'));
      const { published } = publisher.stats;
      const round = await f.catchUp();
      assert.deepEqual([round.size, round.height], [700, 7]);
      assert.ok(publisher.stats.published > published, 'the gateway published it again');
    } finally {
      await f.close();
    }
    await auditsClean('garbage', 700);
    // The gateway's publication is retained again: a replica that comes later takes it at once.
    const later = follower('garbage-later', topicBase);
    try {
      assert.equal((await later.catchUp()).size, 700);
    } finally {
      await later.close();
    }
  });

  it('the two full entry tiles swapped on the broker (well formed, wrong entries): each round fails on one, then the copy is whole and audits CLEAN', async () => {
    const topicBase = `${base}/swapped`;
    const publisher = await serve(topicBase);
    await publishedRetained(publisher, 'tile/entries/000');
    await publishedRetained(publisher, 'tile/entries/001');
    await attacker.publishAsync(resourceTopic(topicBase, 'tile/entries/000'), await body('tile/entries/001'), { qos: 1, retain: true });
    await attacker.publishAsync(resourceTopic(topicBase, 'tile/entries/001'), await body('tile/entries/000'), { qos: 1, retain: true });
    const f = follower('swapped', topicBase);
    try {
      // The round fails at the first bad tile (the entries are checked in order), then at the next.
      await assert.rejects(f.catchUp(), badTile('tile/entries/000'));
      await assert.rejects(f.catchUp(), badTile('tile/entries/001'));
      assert.equal((await f.catchUp()).size, 700);
    } finally {
      await f.close();
    }
    await auditsClean('swapped', 700);
  });

  it('a follower started with rounds an hour apart tries again a second after the round that failed on the tile, not an hour later', async () => {
    const topicBase = `${base}/retry`;
    const publisher = await serve(topicBase);
    await publishedRetained(publisher, 'tile/entries/000');
    await attacker.publishAsync(resourceTopic(topicBase, 'tile/entries/000'), 'garbage', { qos: 1, retain: true });
    const f = follower('retry', topicBase);
    const failures: unknown[] = [];
    const rounds: CatchUpResult[] = [];
    f.on('failure', (e: unknown) => failures.push(e));
    f.on('round', (r: CatchUpResult) => rounds.push(r));
    try {
      f.start();
      await until(() => `a round that succeeds (failures: ${failures.map(String).join('; ')})`, () => rounds.length > 0, { timeoutMs: 20_000 });
      assert.equal(failures.length, 1);
      badTile('tile/entries/000')(failures[0]);
      assert.equal(rounds[0].size, 700);
    } finally {
      await f.close();
    }
    await auditsClean('retry', 700);
  });

  it('a full block bundle replaced by well-framed blocks that do not open at their heights: the round fails on that bundle, the next succeeds', async () => {
    const blocks = await Ledger.open(path.join(tmp.dir, 'gw-blocks'), { name: `${NAME}/blocks`, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    const topicBase = `${base}/blocks`;
    try {
      for (let i = 0; i < 260; i++) await appendNotes(blocks, i, 1);
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
      clients.push(client);
      const publisher = new MqttTilePublisher(blocks, client, { base: topicBase });
      publishers.push(publisher);
      await publisher.start();
      const bundle = 'iot-ledger/blocks/000';
      const real = decodeBlockBundle((await readResource(blocks, bundle)).body, 256);
      await attacker.publishAsync(requestTopic(topicBase), bundle, { qos: 1 });
      await until('the bundle retained', async () => (await broker.retained([resourceTopic(topicBase, bundle)])).has(resourceTopic(topicBase, bundle)));
      // Block 0 at every height: each signed by the gateway, but block 1 says height 0.
      await attacker.publishAsync(resourceTopic(topicBase, bundle), Buffer.from(encodeBlockBundle(real.map(() => real[0]))), { qos: 1, retain: true });
      const f = new ReplicaFollower({ url: `${broker.url}/${topicBase}`, dir: path.join(tmp.dir, 'blocks'), trustedKey: did, intervalSeconds: 3600, timeoutMs: 10_000 });
      try {
        await assert.rejects(f.catchUp(), badTile(bundle));
        assert.deepEqual([(await f.catchUp()).height, f.view().size], [260, 260]);
      } finally {
        await f.close();
      }
    } finally {
      await blocks.close();
    }
    await auditsClean('blocks', 260);
  });

  it('a gateway that does not know the request: the fetch takes the retained copy after a few seconds, as before, and the round after the gateway published again succeeds', async () => {
    const topicBase = `${base}/old-gateway`;
    const seen = { again: 0 };
    let clock = 1_000_000;
    const publisher = await serve(topicBase, { now: () => clock }, (c) => withoutAgain(c, seen));
    await publishedRetained(publisher, 'tile/entries/000');
    await attacker.publishAsync(resourceTopic(topicBase, 'tile/entries/000'), 'garbage', { qos: 1, retain: true });
    // Waits 2 s (half its timeout) for the gateway's fresh answer.
    const f = follower('old-gateway', topicBase, 4000);
    try {
      await assert.rejects(f.catchUp(), badTile('tile/entries/000'));
      // No fresh answer comes: the retained copy is taken, as before (not a fetch timeout).
      await assert.rejects(f.catchUp(), badTile('tile/entries/000'));
      assert.ok(seen.again >= 1, 'asked with againRequest');
      clock += REPUBLISH_MS;
      const round = await until(
        'a round that succeeds once the gateway publishes the tile again',
        async () => {
          try {
            return await f.catchUp();
          } catch (err) {
            badTile('tile/entries/000')(err);
            return false;
          }
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(round.size, 700);
    } finally {
      await f.close();
    }
    await auditsClean('old-gateway', 700);
  });

  it('a flood of again requests for one full tile: published once, then at most once per AGAIN_MS, however many come', async () => {
    const topicBase = `${base}/flood`;
    let clock = 2_000_000;
    const publisher = await serve(topicBase, { now: () => clock });
    const tile = 'tile/entries/000';
    const topic = resourceTopic(topicBase, tile);
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    clients.push(watcher);
    let live = 0;
    watcher.on('message', (t, _payload, packet) => {
      if (t === topic && !packet.retain) live++;
    });
    await watcher.subscribeAsync(topic, { qos: 1 });
    // Besides its checkpoint, head and meta, announced at start.
    const announced = publisher.stats.published;
    const answered = (published: number) =>
      until(`${published} publications, the publisher idle`, () => publisher.stats.published - announced === published && publisher.idle && live === published);
    // Asked for as before: published once; asked again within REPUBLISH_MS, not.
    await attacker.publishAsync(requestTopic(topicBase), tile, { qos: 1 });
    await answered(1);
    clock += AGAIN_MS;
    await attacker.publishAsync(requestTopic(topicBase), tile, { qos: 1 });
    await until('the repeat seen', () => publisher.stats.requests === 2 && publisher.idle);
    assert.equal(publisher.stats.published - announced, 1);
    // Asked again (AGAIN_MS after): published again at once, within REPUBLISH_MS.
    await attacker.publishAsync(requestTopic(topicBase), againRequest(tile), { qos: 1 });
    await answered(2);
    // 500 more at the same instant: one more publication once AGAIN_MS has passed, not 500.
    await Promise.all(Array.from({ length: 500 }, () => attacker.publishAsync(requestTopic(topicBase), againRequest(tile), { qos: 0 })));
    await until('the 500 seen', () => publisher.stats.requests === 503);
    assert.equal(publisher.idle, false, 'one waiting');
    assert.equal(publisher.stats.published - announced, 2, 'none within AGAIN_MS');
    clock += AGAIN_MS;
    await answered(3);
    // Nothing else waits: time passing publishes nothing more.
    clock += 10 * AGAIN_MS;
    await attacker.publishAsync(requestTopic(topicBase), 'tile/entries/000.p/3', { qos: 1 });
    await until('a partial answer', () => publisher.stats.published - announced === 4 && publisher.idle);
    assert.deepEqual([live, publisher.stats.dropped], [3, 0]);
  });
});

describe('replica over MQTT tiles: a full tile replaced on the broker right after the gateway published it (mosquitto, MQTT 5)', function () {
  this.timeout(60_000);
  const tmp = tempDir('replica-mqtt-bad-tile-m5-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const base = defaultTileTopicBase(NAME);
  const tile = 'tile/entries/000';

  it('the round fails on the garbage, the next one takes the gateway\'s fresh copy, and the copy audits CLEAN', async () => {
    const broker = await startMosquitto();
    const gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    const server = connectTileMqtt(broker.url, { base });
    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 }, false);
    const f = new ReplicaFollower({ url: `${broker.url}/${base}`, dir: path.join(tmp.dir, 'replica'), trustedKey: did, intervalSeconds: 3600, timeoutMs: 10_000 });
    let publisher: MqttTilePublisher | undefined;
    try {
      for (let i = 0; i < 300; i += 100) await appendNotes(gateway, i, 100);
      await until('the gateway connected', () => server.connected);
      assert.equal(server.options.protocolVersion, 5);
      publisher = new MqttTilePublisher(gateway, server, { base });
      await publisher.start();
      // The gateway's copy retained (a subscriber after it gets it), then garbage over it.
      const topic = resourceTopic(base, tile);
      const ours = Buffer.from((await readResource(gateway, tile)).body);
      const retained = (): Promise<Buffer> =>
        new Promise((resolve) => {
          const c = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
          c.on('message', (_t, payload) => void c.endAsync().then(() => resolve(payload)));
          c.on('connect', () => c.subscribe(topic, { qos: 1 }));
        });
      await attacker.publishAsync(requestTopic(base), tile, { qos: 1 });
      await until('the gateway\'s tile retained', async () => (await retained()).equals(ours));
      await attacker.publishAsync(topic, 'garbage', { qos: 1, retain: true });
      await assert.rejects(f.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE') && e.details?.path === tile);
      assert.equal((await f.catchUp()).size, 300);
      assert.ok((await retained()).equals(ours), "the gateway's copy retained again");
    } finally {
      await f.close();
      publisher?.close();
      await attacker.endAsync();
      await server.endAsync(true);
      await gateway.close();
      await broker.stop();
    }
    const report = await auditLedger(path.join(tmp.dir, 'replica'), { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    tmp.cleanup();
  });
});
