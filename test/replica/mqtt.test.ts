import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { auditLedger } from '../../lib/audit';
import { bytesEqual } from '../../lib/encoding/bytes';
import { isLedgerError } from '../../lib/errors';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { mqttTileFetch, originRetainedCheck, ReplicaFollower, Replicator, splitTileMqttUrl } from '../../lib/replica';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { defaultTileTopicBase, MAX_QUEUE, MqttTilePublisher, REPUBLISH_MS, requestTopic, resourceTopic } from '../../lib/tiles/mqtt';
import { readResource } from '../../lib/tiles/source';
import { appendNotes, tempDir } from '../support/ledger';
import { roundAfterReplay } from '../support/replica-rounds';
import { assertClosesWithin, until } from '../support/until';

const NAME = 'example.org/mqtt#tiles';

describe('replica over MQTT tiles (Aedes broker in-process)', function () {
  this.timeout(60_000);
  const tmp = tempDir('replica-mqtt-');
  const key: PrivateKey = generateKey('Ed25519');
  const did = keyToDid(key);
  const base = defaultTileTopicBase(NAME);
  let broker: RunningBroker;
  let gateway: Ledger;
  let gwClient: mqtt.MqttClient;
  let publisher: MqttTilePublisher;

  before(async () => {
    broker = await startBroker({ port: 0 });
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    await appendNotes(gateway, 0, 700);
    gwClient = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    publisher = new MqttTilePublisher(gateway, gwClient);
    await publisher.start();
  });
  after(async () => {
    publisher?.close();
    await gwClient?.endAsync();
    await gateway?.close();
    await broker?.close();
    tmp.cleanup();
  });

  it('names topics from the origin without wildcards or extra levels', () => {
    assert.equal(base, 'iot-ledger/example.org_mqtt_tiles');
    assert.deepEqual(splitTileMqttUrl(`${broker.url}/${base}/`), { broker: broker.url, base });
    assert.throws(() => splitTileMqttUrl(broker.url), /topic base/);
    assert.throws(() => splitTileMqttUrl(`${broker.url}/a/#`), /topic base/);
  });

  it('a replica catches up over the broker alone, follows new blocks, and its copy audits CLEAN', async () => {
    const fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 5000 });
    const dir = path.join(tmp.dir, 'replica');
    try {
      let replica = await Replicator.open(dir, { trustedKey: did, fetch });
      assert.deepEqual([(await replica.catchUp()).size, replica.store.height], [700, 7]);
      await replica.close();
      await appendNotes(gateway, 700, 333);
      // The retained checkpoint follows the new block.
      await publisher.announce();
      // The fetcher's standing subscription receives the new retained checkpoint a moment later.
      let size: string | undefined;
      await until(() => `the fetcher to see checkpoint size 1033 (it sees ${size})`, async () => (size = Buffer.from(await fetch('checkpoint')).toString('utf8').split('\n')[1]) === '1033');
      replica = await Replicator.open(dir, { trustedKey: did, fetch });
      const r = await replica.catchUp();
      assert.equal(r.size, 1033);
      assert.equal(r.fetched, 333, 'resumes without fetching again what it has');
      await replica.close();
    } finally {
      await fetch.close();
    }
    const report = await auditLedger(dir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });

  it('a message anyone publishes on the checkpoint or head topic (garbage, empty, an older head replayed) does not stop a following replica; an older checkpoint the gateway signed still reaches it, until the gateway publishes its own again', async () => {
    const follower = new ReplicaFollower({ url: `${broker.url}/${base}`, dir: path.join(tmp.dir, 'replica-attacked'), trustedKey: did, intervalSeconds: 3600, timeoutMs: 3000 });
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const seen: string[] = [];
    watcher.on('message', (_topic, payload) => seen.push(payload.toString('utf8')));
    await watcher.subscribeAsync([resourceTopic(base, 'checkpoint'), resourceTopic(base, 'iot-ledger/head')], { qos: 1 });
    /** Published in order by one client, so the replica's connection has them once the watcher has the last. */
    const attack = async (messages: [string, string][]): Promise<void> => {
      const mark = `end of attack ${seen.length}`;
      for (const [p, body] of [...messages, ['checkpoint', mark] as [string, string]]) await attacker.publishAsync(resourceTopic(base, p), body, { qos: 1 });
      await until(`the watcher to see "${mark}"`, () => seen.includes(mark));
    };
    try {
      const first = await follower.catchUp();
      assert.ok(first.size > 0 && first.checkpoint);
      const olderCheckpoint = first.checkpoint;
      const olderHead = `${JSON.stringify({ height: first.height, size: first.size })}\n`;
      await appendNotes(gateway, first.size, 150);
      await publisher.announce();
      const second = await until('the replica to follow the new block', async () => {
        const r = await follower.catchUp();
        return r.size === first.size + 150 && r;
      });

      await attack([
        ['checkpoint', 'garbage'],
        ['checkpoint', ''],
        ['iot-ledger/head', '{"height":'],
      ]);
      // The replica's own connection may get them after the watcher's: it has them all once it passed over the mark.
      await until('the replica to pass over the first attack', () => follower.view().passedOver === 4);
      const after = await follower.catchUp();
      assert.deepEqual([after.size, after.checkpoint], [second.size, second.checkpoint], 'the next round still succeeds, at the newest checkpoint');

      // New records: the gateway's head and checkpoint, then (before the replica's round) an older head and checkpoint replayed.
      await appendNotes(gateway, second.size, 120);
      const newest = `\n${second.size + 120}\n`;
      await until('the watcher to see the new checkpoint', () => seen.some((m) => m.includes(newest)));
      // Each sealed block is announced: the announcements still queued are published (and
      // acknowledged) before the attack, so none of them comes after it.
      await publisher.announce();
      await attack([
        ['iot-ledger/head', olderHead],
        ['iot-ledger/head', 'garbage'],
        ['checkpoint', 'garbage'],
      ]);
      await until('the replica to pass over the second attack', () => follower.view().passedOver === 8);
      const caught = await follower.catchUp();
      assert.deepEqual([caught.size, caught.fetched], [second.size + 120, 120], 'catches up the records appended after the attack');

      // A smaller checkpoint the gateway signed is how a rollback shows: it is not passed over. One
      // that agrees with the copy (this replay) is refused by the round, not kept as evidence.
      await publisher.announce(); // nothing of the gateway's is still queued to come after it
      await attack([['checkpoint', olderCheckpoint]]);
      // Only the mark is passed over this time. Rounds refuse the replay (ERR_REPLICA_ORIGIN) until
      // the gateway, seeing it on its own topic, publishes its checkpoint again (a second later).
      await until('the replica to pass over the end-of-attack mark', () => follower.view().passedOver === 9);
      const back = await roundAfterReplay(follower);
      assert.deepEqual([back.size, back.checkpoint], [caught.size, caught.checkpoint], 'no new block: the same checkpoint');
    } finally {
      await attacker.endAsync();
      await watcher.endAsync();
      await follower.close();
    }
  });

  it('originRetainedCheck takes only the trusted key\'s meta and checkpoint, of the ledger of the meta held', async () => {
    const check = originRetainedCheck(did);
    const held = (m: Record<string, Uint8Array>) => (p: string) => m[p];
    const resources = async (ledger: Ledger): Promise<{ meta: Uint8Array; checkpoint: Uint8Array }> => ({
      meta: (await readResource(ledger, 'iot-ledger/meta')).body,
      checkpoint: (await readResource(ledger, 'checkpoint')).body,
    });
    const ours = await resources(gateway);
    const sameKey = await Ledger.open(path.join(tmp.dir, 'same-key'), { name: 'example.org/other', gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    const stranger = await Ledger.open(path.join(tmp.dir, 'stranger'), { name: NAME, gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    try {
      await appendNotes(sameKey, 0, 1);
      await appendNotes(stranger, 0, 1);
      const other = await resources(sameKey);
      const forged = await resources(stranger);
      assert.equal(check('iot-ledger/meta', ours.meta, held({})), true);
      assert.equal(check('iot-ledger/meta', forged.meta, held({})), false, 'a meta naming another key');
      assert.equal(check('iot-ledger/meta', other.meta, held({ 'iot-ledger/meta': ours.meta })), false, 'the meta of another ledger of the key');
      assert.equal(check('checkpoint', ours.checkpoint, held({ 'iot-ledger/meta': ours.meta })), true);
      assert.equal(check('checkpoint', forged.checkpoint, held({})), false, 'signed by another key');
      assert.equal(check('checkpoint', other.checkpoint, held({ 'iot-ledger/meta': ours.meta })), false, 'signed by the key for another ledger');
      assert.equal(check('iot-ledger/head', Buffer.from('{"height":1}\n'), held({})), false, 'a head without its size');
      // Hostile shapes: 100,000 levels of nesting and 10 MB are refused, not thrown or kept.
      for (const payload of [Buffer.from('['.repeat(100_000)), Buffer.from('{"a":'.repeat(100_000)), Buffer.alloc(10_000_000, 0x5b)])
        for (const p of ['iot-ledger/meta', 'checkpoint', 'iot-ledger/head']) assert.equal(check(p, payload, held({ 'iot-ledger/meta': ours.meta })), false, `${p}: ${payload.length} bytes`);
    } finally {
      await sameKey.close();
      await stranger.close();
    }
  });

  it('a fetch its caller cancels (a replica refusing a block too large) rejects at once, without waiting for its timeout', async () => {
    const fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 600_000 });
    try {
      assert.match(Buffer.from(await fetch('checkpoint')).toString('utf8'), /^example\.org\/mqtt#tiles\n\d+\n/, 'connected');
      // Past the checkpoint: the gateway never answers it.
      const cancel = new AbortController();
      const pending = fetch('tile/entries/x999/000', { signal: cancel.signal });
      cancel.abort();
      await assert.rejects(pending, (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /cancelled/.test(e.message));
      await assert.rejects(fetch('tile/entries/x999/001', { signal: cancel.signal }), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /cancelled/.test(e.message));
    } finally {
      await fetch.close();
    }
  });

  it('a fetch cancelled before the broker acknowledged its subscription sends no request for it', async () => {
    const fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 20_000 });
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      assert.match(Buffer.from(await fetch('checkpoint')).toString('utf8'), /^example\.org\/mqtt#tiles\n/, 'connected');
      const asked: string[] = [];
      watcher.on('message', (_topic, payload) => asked.push(payload.toString('utf8')));
      await watcher.subscribeAsync(requestTopic(base), { qos: 1 });
      const cancel = new AbortController();
      const cancelled = fetch('tile/entries/x999/000', { signal: cancel.signal });
      cancel.abort(); // before its SUBACK: the subscription is on its way, its request is not yet
      await assert.rejects(cancelled, (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /cancelled/.test(e.message));
      // A fetch after it that only a request brings (a partial tile is not retained): its request
      // follows any request of the cancelled one (one client, in order).
      await fetch('tile/0/000.p/10');
      await until('the second request', () => asked.includes('tile/0/000.p/10'));
      assert.deepEqual(asked, ['tile/0/000.p/10']);
    } finally {
      await watcher.endAsync();
      await fetch.close();
    }
  });

  it('a tile asked for before the connection is up (Aedes refuses MQTT 5, the fetch connects again with 3.1.1) is asked for on the 3.1.1 connection', async () => {
    // Its timeout (30 s) is far past the 2 s mqtt.js waits before connecting again.
    const fetch = mqttTileFetch(`${broker.url}/${base}`, { timeoutMs: 30_000 });
    try {
      // A partial tile is not retained: only a request brings it.
      const tile = await fetch('tile/0/000.p/10');
      assert.ok(bytesEqual(tile, (await readResource(gateway, 'tile/0/000.p/10')).body), 'same bytes as HTTP');
    } finally {
      await fetch.close();
    }
  });

  it('a tile whose subscription the broker refuses fails at once with ERR_REPLICA_FETCH naming the refusal, not at its timeout', async () => {
    const { Aedes } = await import('aedes');
    // Refuses subscriptions to tiles only (SUBACK 128), so the fetch connects and takes the retained resources.
    const refusing = await Aedes.createBroker({ authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.includes('/tile/') ? null : sub) });
    const server = net.createServer(refusing.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fetch = mqttTileFetch(`mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}/${base}`, { timeoutMs: 30_000 });
    try {
      await assert.rejects(fetch('tile/0/000.p/10'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.reason === 128 && /refused the subscription/.test(e.message));
    } finally {
      await fetch.close();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('close() ends a fetch whose request the broker never acknowledged (a broker gone or stalled): it does not wait for the acknowledgement', async () => {
    const { Aedes } = await import('aedes');
    // Takes requests and never acknowledges them (no PUBACK): mqtt.js keeps each as in flight.
    const stalling = await Aedes.createBroker({ authorizePublish: (_client, packet, done) => (packet.topic === requestTopic(base) ? undefined : done(null)) });
    const server = net.createServer(stalling.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fetch = mqttTileFetch(`mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}/${base}`, { timeoutMs: 3000 });
    try {
      await assert.rejects(fetch('tile/0/000.p/10'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /within 3000 ms/.test(e.message));
      await assertClosesWithin(() => fetch.close());
    } finally {
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a tile whose SUBACK is malformed (two reason codes for one subscription) fails at once with ERR_REPLICA_FETCH saying so', async () => {
    // A broker that answers a tile's SUBSCRIBE with two reason codes (granted), all else as it should.
    const server = net.createServer((socket) => {
      const parser = mqttPacket.parser();
      let version: 4 | 5 = 4;
      const send = (p: mqttPacket.Packet): boolean => socket.write(mqttPacket.generate(p, { protocolVersion: version }));
      parser.on('packet', (p) => {
        if (p.cmd === 'connect') {
          version = p.protocolVersion === 5 ? 5 : 4;
          send({ cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: false });
        } else if (p.cmd === 'subscribe') {
          const tile = p.subscriptions.some((sub) => sub.topic.includes('/tile/'));
          send({ cmd: 'suback', messageId: p.messageId, granted: tile ? [1, 1] : p.subscriptions.map(() => 1) });
        } else if (p.cmd === 'unsubscribe') send({ cmd: 'unsuback', messageId: p.messageId, granted: [] });
        else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' });
      });
      socket.on('data', (d: Buffer) => parser.parse(d));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fetch = mqttTileFetch(`mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}/${base}`, { timeoutMs: 30_000 });
    try {
      await assert.rejects(fetch('tile/0/000.p/10'), (e: unknown) => {
        assert.ok(isLedgerError(e, 'ERR_REPLICA_FETCH'), String(e));
        assert.match(e.message, /^the SUBACK of mqtt:\/\/127\.0\.0\.1:\d+ for \S+\/tile\/0\/000\.p\/10 was malformed \(2 reason codes for one subscription\)/);
        assert.doesNotMatch(e.message, /undefined/);
        assert.equal(e.details?.reasonCodes, 2);
        return true;
      });
    } finally {
      await fetch.close();
      server.close();
    }
  });

  it('publishes the same bytes as HTTP: retained checkpoint, head and meta; full tiles retained, partial ones not', async () => {
    const seen = new Map<string, { payload: Buffer; retain: boolean }>();
    const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      c.on('message', (topic, payload, packet) => seen.set(topic, { payload, retain: packet.retain }));
      await c.subscribeAsync(`${base}/#`, { qos: 1 });
      for (const p of ['checkpoint', 'iot-ledger/head', 'iot-ledger/meta']) {
        await until(p, () => seen.has(resourceTopic(base, p)));
        const got = seen.get(resourceTopic(base, p))!;
        assert.equal(got.retain, true, `${p} is retained`);
        assert.ok(bytesEqual(got.payload, (await readResource(gateway, p)).body), `${p}: same bytes as HTTP`);
      }
      // Entry tile 0 is full (1033 records): the replica asked for it, so the broker holds it retained
      // and hands it to this new subscriber without anyone asking again.
      const full = resourceTopic(base, 'tile/entries/000');
      await until('the retained full tile', () => seen.has(full));
      assert.equal(seen.get(full)!.retain, true);
      assert.ok(bytesEqual(seen.get(full)!.payload, (await readResource(gateway, 'tile/entries/000')).body), 'same bytes as HTTP');
      // Hash tile 0/004 is partial (9 wide): published when asked, not retained.
      const partial = resourceTopic(base, 'tile/0/004.p/9');
      seen.delete(partial);
      await c.publishAsync(requestTopic(base), 'tile/0/004.p/9', { qos: 1 });
      await until('the partial tile', () => seen.has(partial));
      assert.equal(seen.get(partial)!.retain, false);
      assert.ok(bytesEqual(seen.get(partial)!.payload, (await readResource(gateway, 'tile/0/004.p/9')).body), 'same bytes as HTTP');
      const late = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
      try {
        const got = new Promise<Buffer>((resolve) => late.on('message', (_t, payload) => resolve(payload)));
        await late.subscribeAsync(partial, { qos: 1 });
        // Nothing retained: the first message this subscriber sees is the answer to its own request.
        await late.publishAsync(requestTopic(base), 'tile/0/004.p/9', { qos: 1 });
        assert.ok(bytesEqual(await got, (await readResource(gateway, 'tile/0/004.p/9')).body));
      } finally {
        await late.endAsync();
      }
    } finally {
      await c.endAsync();
    }
  });

  it('is bounded: a full tile asked 500 times is published once, junk is dropped, answers keep to the byte rate and the queue', async () => {
    const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const slowBase = 'iot-ledger/slow';
    const rate = 2000;
    const slow = new MqttTilePublisher(gateway, gwClient, { base: slowBase, maxBytesPerSecond: rate });
    await slow.start();
    try {
      const full = resourceTopic(base, 'tile/entries/001');
      let fullCopies = 0;
      c.on('message', (topic) => {
        if (topic === full) fullCopies++;
      });
      await c.subscribeAsync(full, { qos: 1 });
      await until('the retained copy', () => fullCopies === 1);
      const before = { ...publisher.stats };
      const flood: Promise<unknown>[] = Array.from({ length: 500 }, () => c.publishAsync(requestTopic(base), 'tile/entries/001', { qos: 0 }));
      for (let i = 0; i < 250; i++) flood.push(c.publishAsync(requestTopic(base), `../../etc/passwd${i}`, { qos: 0 }));
      flood.push(c.publishAsync(requestTopic(base), Buffer.alloc(100_000, 'a'), { qos: 0 }));
      await Promise.all(flood);
      await until('the gateway to see every request', () => publisher.stats.requests - before.requests === 751 && publisher.idle);
      assert.equal(publisher.stats.published, before.published, 'nothing published again');
      assert.equal(publisher.stats.dropped - before.dropped, 251, 'junk and oversized requests dropped');
      // A subscriber that stayed on sees no second copy either: an unseen republish would have arrived before the next one.
      await c.publishAsync(requestTopic(base), 'tile/entries/000.p/3', { qos: 1 });
      await until('a partial answer', () => publisher.stats.published === before.published + 1 && publisher.idle);
      assert.equal(fullCopies, 1);

      // At 2000 bytes/s, 255 distinct partial tiles (about 600 kB of answers) cannot go out: the
      // queue holds 64, the rest is dropped, and what is published keeps to the rate.
      const partial = resourceTopic(slowBase, 'tile/entries/000.p/');
      const answers: { at: number; bytes: number }[] = [];
      c.on('message', (topic, payload) => {
        if (topic.startsWith(partial)) answers.push({ at: Date.now(), bytes: payload.length });
      });
      await c.subscribeAsync(`${partial}+`, { qos: 1 });
      const started = Date.now();
      const many: Promise<unknown>[] = [];
      for (let w = 1; w <= 255; w++) many.push(c.publishAsync(requestTopic(slowBase), `tile/entries/000.p/${w}`, { qos: 0 }));
      await Promise.all(many);
      await until('the slow publisher to see every request', () => slow.stats.requests === 255);
      assert.ok(slow.stats.dropped > 0 && slow.stats.dropped >= 255 - MAX_QUEUE - slow.stats.published, `dropped ${slow.stats.dropped}, published ${slow.stats.published}`);
      // The bucket holds at most one second's worth when the requests start, so an answer can go
      // out only once the rate has paid for the answers before it beyond that.
      const sent = (): number => answers.reduce((n, a) => n + a.bytes, 0);
      await until(`answers of more than ${3 * rate} bytes`, () => sent() > 3 * rate, { timeoutMs: 15_000 });
      let paid = 0;
      let latest = 0;
      for (const a of answers) {
        const earliest = ((paid - rate) / rate) * 1000;
        assert.ok(a.at - started >= earliest - 5, `an answer came ${a.at - started} ms after the requests, the rate allows it after ${earliest} ms`);
        latest = earliest;
        paid += a.bytes;
      }
      assert.ok(latest >= 1000, `the bound checked says little: ${latest} ms`);
    } finally {
      slow.close();
      await c.endAsync();
    }
  });

  it('remembers the full tiles it published for REPUBLISH_MS only, and at most maxRemembered of them', async () => {
    const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    let clock = 1_000_000;
    const pubBase = 'iot-ledger/remember';
    const pub = new MqttTilePublisher(gateway, gwClient, { base: pubBase, now: () => clock });
    const capped = new MqttTilePublisher(gateway, gwClient, { base: 'iot-ledger/remember-capped', now: () => clock, maxRemembered: 2 });
    await pub.start();
    await capped.start();
    const ask = async (p: MqttTilePublisher, paths: string[]): Promise<void> => {
      const before = p.stats.published;
      for (const path of paths) await c.publishAsync(requestTopic(p.base), path, { qos: 1 });
      await until(`${paths.length} answers`, () => p.stats.published === before + paths.length && p.idle);
    };
    // Six full tiles of the log (it holds more than 768 records): each remembered once published.
    const full = ['tile/entries/000', 'tile/entries/001', 'tile/entries/002', 'tile/0/000', 'tile/0/001', 'tile/0/002'];
    try {
      await ask(pub, full);
      assert.equal(pub.remembered, 6);
      // Asked again within REPUBLISH_MS: not published again.
      const again = pub.stats.published;
      await c.publishAsync(requestTopic(pubBase), full[0], { qos: 1 });
      await until('the repeat', () => pub.stats.requests >= full.length + 1 && pub.idle);
      assert.equal(pub.stats.published, again);
      // Once REPUBLISH_MS has passed, the next full tile published lets the others go.
      clock += REPUBLISH_MS;
      await ask(pub, [full[1]]);
      assert.equal(pub.remembered, 1);

      await ask(capped, full);
      assert.equal(capped.remembered, 2, 'the oldest forgotten past maxRemembered');
    } finally {
      pub.close();
      capped.close();
      await c.endAsync();
    }
  });

  it('never takes a packet larger than a tile from the broker: an answer of a megabyte cuts the connection (MQTT 3.1.1 on Aedes), the next fetch is answered', async () => {
    const lonely = 'iot-ledger/replica-packet-limit';
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const fetch = mqttTileFetch(`${broker.url}/${lonely}`, { timeoutMs: 3000, maxPacketBytes: 64 * 1024 });
    try {
      // Anyone who can publish on the tile topics answers the replica's request first.
      await attacker.subscribeAsync(requestTopic(lonely), { qos: 1 });
      attacker.on('message', (_topic, path) => void attacker.publishAsync(resourceTopic(lonely, path.toString()), Buffer.alloc(1024 * 1024, 0x41), { qos: 1 }));
      await assert.rejects(fetch('tile/0/000'), (err: Error & { code?: string }) => err.code === 'ERR_REPLICA_FETCH');
      await attacker.publishAsync(resourceTopic(lonely, 'checkpoint'), 'small', { qos: 1, retain: true });
      assert.equal(Buffer.from(await fetch('checkpoint')).toString(), 'small');
    } finally {
      await attacker.publishAsync(resourceTopic(lonely, 'checkpoint'), '', { qos: 1, retain: true });
      await attacker.endAsync();
      await fetch.close();
    }
  });
  it('takes no message larger than the resource can be: an answer of 64 KiB to a one-hash tile is passed over, the real one taken', async () => {
    const lonely = 'iot-ledger/replica-resource-bound';
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const fetch = mqttTileFetch(`${broker.url}/${lonely}`, { timeoutMs: 5000 });
    const tile = Buffer.alloc(32, 0x07);
    try {
      // The fetcher connected and subscribed: it has the retained checkpoint.
      await attacker.publishAsync(resourceTopic(lonely, 'checkpoint'), 'connected', { qos: 1, retain: true });
      assert.equal(Buffer.from(await fetch('checkpoint')).toString(), 'connected');
      // Whoever answers first: 64 KiB for a tile of one 32-byte hash, then the tile.
      await attacker.subscribeAsync(requestTopic(lonely), { qos: 1 });
      attacker.on('message', (_topic, path) => {
        const topic = resourceTopic(lonely, path.toString());
        void attacker.publishAsync(topic, Buffer.alloc(64 * 1024, 0x41), { qos: 1 }).then(() => attacker.publishAsync(topic, tile, { qos: 1 }));
      });
      assert.deepEqual(Buffer.from(await fetch('tile/3/000.p/1')), tile);
    } finally {
      await attacker.publishAsync(resourceTopic(lonely, 'checkpoint'), '', { qos: 1, retain: true });
      await attacker.endAsync();
      await fetch.close();
    }
  });
  it('close() ends the fetches waiting at once, not at their timeout (a follower closed during a round)', async () => {
    const lonely = 'iot-ledger/replica-close';
    const fetch = mqttTileFetch(`${broker.url}/${lonely}`, { timeoutMs: 600_000 });
    // Connected and subscribed: it has the retained checkpoint.
    const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      await publisher.publishAsync(resourceTopic(lonely, 'checkpoint'), 'connected', { qos: 1, retain: true });
      assert.equal(Buffer.from(await fetch('checkpoint')).toString(), 'connected');
    } finally {
      await publisher.publishAsync(resourceTopic(lonely, 'checkpoint'), '', { qos: 1, retain: true });
      await publisher.endAsync();
    }
    const closedFetch = (e: unknown): boolean => isLedgerError(e, 'ERR_REPLICA_FETCH') && /closed/.test(e.message);
    // Nobody publishes these: a tile asked for, and a retained resource.
    const waiting = [assert.rejects(fetch('tile/0/000.p/3'), closedFetch), assert.rejects(fetch('iot-ledger/head'), closedFetch)];
    await fetch.close();
    await Promise.all(waiting);
    await assert.rejects(fetch('checkpoint'), closedFetch);
  });
});
