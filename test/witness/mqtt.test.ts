import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { verifierKeyString } from '../../lib/note/note';
import { MAX_REQUEST_BYTES, parseWitnessEndpoints, parseWitnessedLogs, WitnessService, WitnessState, witnessVerifierKey } from '../../lib/witness';
import { isOwnResponseTopic, mqttTransport, serveWitnessMqtt, splitMqttUrl } from '../../lib/witness/mqtt';
import { freePort } from '../../demo/ports';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { tempDir } from '../support/ledger';
import { isLedgerError } from '../../lib/errors';
import { assertClosesWithin, until } from '../support/until';

// The MQTT transport on Debian's mosquitto: the topic pair (any MQTT version) through the
// gateway's transport, and MQTT 5 response topic + correlation data from a plain client.
describe('witness over MQTT (mosquitto)', function () {
  this.timeout(30000);
  let broker: ChildProcess;
  let url = '';
  const tmp = tempDir();
  const gw = generateKey('Ed25519');
  const wkey = generateKey('Ed25519');
  const ORIGIN = 'mqtt.test/log';
  const BASE = 'iot-ledger/witness/w.mqtt';
  const note = signCheckpoint({ origin: ORIGIN, size: 0, root: new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex')), extensions: [] }, ORIGIN, gw);
  let server: ReturnType<typeof serveWitnessMqtt>;

  before(async () => {
    const port = await freePort();
    broker = spawn('/usr/sbin/mosquitto', ['-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    url = `mqtt://127.0.0.1:${port}`;
    const service = new WitnessService({
      cosigner: { name: 'w.mqtt', key: wkey },
      logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)),
      state: new WitnessState(path.join(tmp.dir, 'w')),
    });
    // mosquitto needs a moment to listen: the witness's client reconnects until it can subscribe.
    server = serveWitnessMqtt({ url, base: 'iot-ledger/witness/w.mqtt', handle: (b) => service.addCheckpoint(b) });
    await server.ready;
  });
  after(async () => {
    await server.close();
    broker.kill();
    tmp.cleanup();
  });

  it('answers through the topic pair, as the gateway sends', async () => {
    const t = mqttTransport(5000);
    try {
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.mqtt', wkey)} ${url}/iot-ledger/witness/w.mqtt`);
      const ok = await t(endpoint, `old 0\n\n${note}`);
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^\u2014 w\.mqtt /);
      const conflict = await t(endpoint, `old 3\n\n${note}`);
      assert.equal(conflict.status, 400);
      const bad = await t(endpoint, 'garbage');
      assert.equal(bad.status, 400);
    } finally {
      await t.close();
    }
  });

  it('a broker that is down costs each request its timeout, and leaves no listener behind', async () => {
    const t = mqttTransport(20);
    const warnings: Error[] = [];
    const onWarning = (w: Error): number => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.mqtt', wkey)} mqtt://127.0.0.1:${await freePort()}/iot-ledger/witness/w.mqtt`);
      for (let i = 0; i < 15; i++) await assert.rejects(t(endpoint, `old 0\n\n${note}`), (err: unknown) => isLedgerError(err, 'ERR_WITNESS_REFUSED'));
      await new Promise((r) => setImmediate(r));
      // Each unanswered wait used to leave its 'connect' listener: Node warns past 10 on one emitter.
      assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
    } finally {
      process.off('warning', onWarning);
      await t.close();
    }
  });

  it('answers an MQTT 5 request on its response topic with the correlation data and the status', async () => {
    const c = mqtt.connect(url, { protocolVersion: 5 });
    try {
      await new Promise<void>((r) => c.once('connect', () => r()));
      await c.subscribeAsync(`${BASE}/response/client-1`, { qos: 1 });
      const got = new Promise<mqtt.IPublishPacket>((resolve) => c.once('message', (_t, _p, packet) => resolve(packet)));
      await c.publishAsync(`${BASE}/add-checkpoint`, `old 0\n\n${note}`, {
        qos: 1,
        properties: { responseTopic: `${BASE}/response/client-1`, correlationData: Buffer.from('abc') },
      });
      const p = await got;
      assert.equal(Buffer.from(p.properties!.correlationData!).toString(), 'abc');
      // The same checkpoint as the first test's: cosigned again (old = size, same root).
      assert.equal((p.properties!.userProperties as Record<string, string>).status, '200');
      assert.equal(p.properties!.contentType, 'text/plain; charset=utf-8');
      assert.match(p.payload.toString(), /^\u2014 w\.mqtt \S+\n$/);
    } finally {
      await c.endAsync();
    }
  });

  it('drops an MQTT 5 request whose response topic is outside <topic>/response/: nothing is published there', async () => {
    const c = mqtt.connect(url, { protocolVersion: 5 });
    try {
      await new Promise<void>((r) => c.once('connect', () => r()));
      // A gateway's sensor topic, the namespace's own name, a look-alike sibling and a legitimate topic.
      const victims = ['coldroom/sensor-1/reading', `${BASE}/response`, `${BASE}/responses/x`];
      const legit = `${BASE}/response/client-2`;
      await c.subscribeAsync([...victims, legit], { qos: 1 });
      const seen: string[] = [];
      const answered = new Promise<void>((resolve) =>
        c.on('message', (topic) => {
          seen.push(topic);
          if (topic === legit) resolve();
        }),
      );
      // The witness answers requests in the order they come: the legitimate one, sent last, is answered last.
      for (const responseTopic of [...victims, legit])
        await c.publishAsync(`${BASE}/add-checkpoint`, `old 0\n\n${note}`, { qos: 1, properties: { responseTopic, correlationData: Buffer.from('x') } });
      await answered;
      assert.deepEqual(seen, [legit]);
    } finally {
      await c.endAsync();
    }
  });

  it('has the broker keep a request larger than it takes: never delivered, never answered, the next one answered', async () => {
    const c = mqtt.connect(url, { protocolVersion: 5 });
    try {
      await new Promise<void>((r) => c.once('connect', () => r()));
      await c.subscribeAsync(`${BASE}/response/+/+`, { qos: 1 });
      const seen: string[] = [];
      const answered = new Promise<void>((resolve) =>
        c.on('message', (topic) => {
          seen.push(topic);
          if (topic.startsWith(`${BASE}/response/small/`)) resolve();
        }),
      );
      // 4 MiB (a broker takes up to 256 MiB by default): the witness must not hold it whole to refuse it.
      await c.publishAsync(`${BASE}/add-checkpoint/big`, Buffer.alloc(4 * 1024 * 1024, 0x41), { qos: 1 });
      // Just over the body limit fits the packet limit: delivered, refused with 400.
      await c.publishAsync(`${BASE}/add-checkpoint/over`, Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x41), { qos: 1 });
      await c.publishAsync(`${BASE}/add-checkpoint/small`, 'garbage', { qos: 1 });
      await answered;
      assert.deepEqual(seen, [`${BASE}/response/over/400`, `${BASE}/response/small/400`]);
    } finally {
      await c.endAsync();
    }
  });

  it("the gateway's transport never takes a reply larger than a body: the broker drops one over its packet size, one over 64 KiB is ignored", async () => {
    // Anyone who sees a request on <topic>/add-checkpoint/<id> can publish on its response topic.
    const NOBODY = 'iot-ledger/witness/nobody';
    const attacker = mqtt.connect(url, { protocolVersion: 5 });
    const t = mqttTransport(10_000);
    try {
      await new Promise<void>((r) => attacker.once('connect', () => r()));
      await attacker.subscribeAsync(`${NOBODY}/add-checkpoint/+`, { qos: 1 });
      attacker.on('message', (topic) => {
        const replies = `${NOBODY}/response/${topic.split('/').pop()!}/200`;
        void (async () => {
          // 4 MiB (mosquitto passes up to 256 MiB by default): the gateway must not hold it whole.
          await attacker.publishAsync(replies, Buffer.alloc(4 * 1024 * 1024, 0x41), { qos: 1 });
          await attacker.publishAsync(replies, Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x42), { qos: 1 });
          await attacker.publishAsync(replies, 'small', { qos: 1 });
        })();
      });
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.mqtt', wkey)} ${url}/${NOBODY}`);
      const reply = await t(endpoint, `old 0\n\n${note}`);
      assert.deepEqual([reply.status, reply.body.length > 64 ? `${reply.body.length} bytes` : reply.body], [200, 'small']);
    } finally {
      await t.close();
      await attacker.endAsync();
    }
  });

  it('answers 500 with the error code only when its state cannot be read', async () => {
    const dir = path.join(tmp.dir, 'w');
    const file = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.json'))!);
    const kept = fs.readFileSync(file);
    fs.writeFileSync(file, '{ not json');
    const c = mqtt.connect(url, { protocolVersion: 5 });
    try {
      await new Promise<void>((r) => c.once('connect', () => r()));
      await c.subscribeAsync(`${BASE}/response/broken/+`, { qos: 1 });
      const got = new Promise<[string, string]>((resolve) => c.once('message', (topic, payload) => resolve([topic, payload.toString()])));
      await c.publishAsync(`${BASE}/add-checkpoint/broken`, `old 0\n\n${note}`, { qos: 1 });
      assert.deepEqual(await got, [`${BASE}/response/broken/500`, 'ERR_WITNESS_STATE\n']);
    } finally {
      fs.writeFileSync(file, kept);
      await c.endAsync();
    }
  });

  it('takes as its own only a response topic one level or more below <topic>/response/, without wildcards', () => {
    for (const t of [`${BASE}/response/a`, `${BASE}/response/a/b`]) assert.equal(isOwnResponseTopic(BASE, t), true, t);
    for (const t of [undefined, '', 'coldroom/x', `${BASE}/response`, `${BASE}/response/`, `${BASE}/responses/a`, `x/${BASE}/response/a`, `${BASE}/response/+`, `${BASE}/response/a/#`, `${BASE}/response/a\u0000`])
      assert.equal(isOwnResponseTopic(BASE, t), false, String(t));
  });

  it('reads mqtt:// witness URLs', () => {
    assert.deepEqual(splitMqttUrl('mqtt://b:1883/iot-ledger/witness/w1'), { broker: 'mqtt://b:1883', base: 'iot-ledger/witness/w1' });
    assert.throws(() => splitMqttUrl('mqtt://b:1883/'));
  });
});

// Aedes speaks MQTT 3.1.1 only: the gateway's transport falls back from MQTT 5, and as 3.1.1 has no
// Maximum Packet Size, it ends the connection when a packet announces more than it takes.
describe("the gateway's witness transport on an MQTT 3.1.1 broker (aedes)", function () {
  this.timeout(30000);
  const gw = generateKey('Ed25519');
  const wkey = generateKey('Ed25519');
  const ORIGIN = 'mqtt.test/log';
  const NOBODY = 'iot-ledger/witness/nobody';
  const note = signCheckpoint({ origin: ORIGIN, size: 0, root: new Uint8Array(32), extensions: [] }, ORIGIN, gw);
  let broker: RunningBroker;
  before(async () => {
    broker = await startBroker({ port: 0 });
  });
  after(() => broker.close());

  it('connects, and a reply of megabytes ends its connection instead of being taken; the next reply after it connects again is', async () => {
    const attacker = mqtt.connect(broker.url, { protocolVersion: 4 });
    const t = mqttTransport(15_000);
    try {
      await new Promise<void>((r) => attacker.once('connect', () => r()));
      await attacker.subscribeAsync(`${NOBODY}/add-checkpoint/+`, { qos: 1 });
      attacker.on('message', (topic) => {
        const id = topic.split('/').pop()!;
        void (async () => {
          await attacker.publishAsync(`${NOBODY}/response/${id}/200`, Buffer.alloc(4 * 1024 * 1024, 0x41), { qos: 1 });
          // Retained: the gateway, cut off by the reply above, finds it when it subscribes again.
          await attacker.publishAsync(`${NOBODY}/response/${id}/201`, 'small', { qos: 1, retain: true });
        })();
      });
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.mqtt', wkey)} ${broker.url}/${NOBODY}`);
      const reply = await t(endpoint, `old 0\n\n${note}`);
      assert.deepEqual([reply.status, reply.body.length > 64 ? `${reply.body.length} bytes` : reply.body], [201, 'small']);
    } finally {
      await t.close();
      await attacker.endAsync();
    }
  });
});

// Nobody retains a request, but anyone can. On an MQTT 3.1.1 broker a retained request larger than
// the witness's packet limit came with every subscription to <topic>/add-checkpoint/+: the guard
// ended the connection, the witness connected and subscribed again, got it again, and so on for
// good, answering nothing. The guard reads the topic of such a retained message, and the next
// connection clears it before it subscribes.
describe('the witness on an MQTT 3.1.1 broker (aedes): a retained request larger than it takes', function () {
  this.timeout(30000);
  const BASE = 'iot-ledger/witness/retained';

  it('does not keep it off the broker: it answers the next request, and the retained one is gone', async () => {
    const broker = await startBroker({ port: 0 });
    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 }, false);
    let server: ReturnType<typeof serveWitnessMqtt> | undefined;
    try {
      const big = `${BASE}/add-checkpoint/big`;
      await attacker.publishAsync(big, Buffer.alloc(200 * 1024, 0x41), { qos: 1, retain: true });
      let handled = 0;
      server = serveWitnessMqtt({ url: broker.url, base: BASE, handle: async () => ((handled += 1), { status: 404, contentType: 'text/plain; charset=utf-8', body: 'unknown\n' }) });
      let answered = false;
      await attacker.subscribeAsync(`${BASE}/response/+/+`, { qos: 1 });
      attacker.on('message', (topic) => void (answered ||= topic.startsWith(`${BASE}/response/q`)));
      for (let i = 0; !answered; i++) {
        assert.ok(i < 50, `no answer in 10 s (requests handled: ${handled})`);
        await attacker.publishAsync(`${BASE}/add-checkpoint/q${i}`, 'old 0\n\nnot a note\n', { qos: 1 });
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(await broker.retained([big]), new Map(), 'the retained request is gone');
    } finally {
      await server?.close();
      await attacker.endAsync();
      await broker.close();
    }
  });
});

// A request someone retained came with every subscription, and was handled and answered again at
// each connection: whoever retained thousands had them all handled again whenever the witness
// reconnected (on a 3.1.1 broker, whenever anyone sent it a packet over its limit). Retained
// requests are dropped and cleared; the empty message that clears one is no request either.
describe('the witness over MQTT: requests someone retained (aedes)', function () {
  this.timeout(30000);
  const BASE = 'iot-ledger/witness/replayed';

  it('are not handled when it subscribes, and are cleared from the broker', async () => {
    const broker = await startBroker({ port: 0 });
    const attacker = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 }, false);
    let server: ReturnType<typeof serveWitnessMqtt> | undefined;
    try {
      for (let i = 0; i < 50; i++) await attacker.publishAsync(`${BASE}/add-checkpoint/r${i}`, 'old 0\n\nnot a note\n', { qos: 1, retain: true });
      const handled: string[] = [];
      server = serveWitnessMqtt({ url: broker.url, base: BASE, handle: async (body) => (handled.push(body), { status: 404, contentType: 'text/plain; charset=utf-8', body: 'unknown\n' }) });
      await server.ready;
      await attacker.subscribeAsync(`${BASE}/response/live/+`, { qos: 1 });
      const answered = new Promise<void>((resolve) => attacker.on('message', () => resolve()));
      await attacker.publishAsync(`${BASE}/add-checkpoint/live`, 'live request', { qos: 1 });
      await answered;
      assert.deepEqual(handled, ['live request']);
      await until('the retained requests to be cleared', async () => (await broker.retained([`${BASE}/add-checkpoint/+`])).size === 0);
    } finally {
      await server?.close();
      await attacker.endAsync();
      await broker.close();
    }
  });
});

// mqtt.js ends a client gracefully only once the broker acknowledged every QoS 1 publication in
// flight: an answer a stalled broker (or one gone down) never acknowledged kept the witness's
// close() (a redeploy of the Witness node) waiting for ever.
describe('witness over MQTT: close() with a publication the broker never acknowledged (a broker gone or stalled)', function () {
  this.timeout(30000);
  const BASE = 'iot-ledger/witness/stalled';

  it("the gateway's transport, with a request the broker never acknowledged: close() resolves", async () => {
    const { Aedes } = await import('aedes');
    const net = await import('node:net');
    const stalling = await Aedes.createBroker({ authorizePublish: (_client, packet, done) => (packet.topic.startsWith(`${BASE}/add-checkpoint/`) ? undefined : done(null)) });
    const tcp = net.createServer(stalling.handle);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const url = `mqtt://127.0.0.1:${(tcp.address() as import('node:net').AddressInfo).port}`;
    const t = mqttTransport(3000);
    try {
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.stalled', generateKey('Ed25519'))} ${url}/${BASE}`);
      await assert.rejects(t(endpoint, 'old 0\n\nnot a note\n'), (e: unknown) => isLedgerError(e, 'ERR_WITNESS_REFUSED'));
      await assertClosesWithin(() => t.close());
    } finally {
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });

  it('the witness, with an answer the broker never acknowledged: close() resolves', async () => {
    const { Aedes } = await import('aedes');
    const net = await import('node:net');
    // Takes the witness's answers and never acknowledges them (no PUBACK).
    const stalling = await Aedes.createBroker({ authorizePublish: (_client, packet, done) => (packet.topic.startsWith(`${BASE}/response/`) ? undefined : done(null)) });
    const tcp = net.createServer(stalling.handle);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const url = `mqtt://127.0.0.1:${(tcp.address() as import('node:net').AddressInfo).port}`;
    const attacker = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 }, false);
    let handled = 0;
    const server = serveWitnessMqtt({ url, base: BASE, handle: async () => ((handled += 1), { status: 404, contentType: 'text/plain; charset=utf-8', body: 'unknown\n' }) });
    try {
      await server.ready;
      await attacker.publishAsync(`${BASE}/add-checkpoint/one`, 'old 0\n\nnot a note\n', { qos: 1 });
      await until('the request to be answered', () => handled === 1);
      await assertClosesWithin(() => server.close());
    } finally {
      await attacker.endAsync(true);
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    }
  });
});
