import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { generateKey } from '../../lib/crypto';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { parseWitnessEndpoints, parseWitnessedLogs, WitnessService, WitnessState, witnessVerifierKey } from '../../lib/witness';
import { mqttTransport, serveWitnessMqtt } from '../../lib/witness/mqtt';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { tempDir } from '../support/ledger';
import { until } from '../support/until';

// Anyone who can publish on the broker can send the witness requests: a flood of them is held
// in a bounded queue, the rest dropped and counted, and honest requests are answered after it.
describe('witness over MQTT: a flood of requests (Aedes)', function () {
  this.timeout(30000);
  const tmp = tempDir();
  const gw = generateKey('Ed25519');
  const wkey = generateKey('Ed25519');
  const ORIGIN = 'flood.test/log';
  const BASE = 'iot-ledger/witness/w.flood';
  const note = signCheckpoint({ origin: ORIGIN, size: 0, root: new Uint8Array(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex')), extensions: [] }, ORIGIN, gw);
  let broker: RunningBroker;
  before(async () => {
    broker = await startBroker({ port: 0 });
  });
  after(async () => {
    await broker.close();
    tmp.cleanup();
  });

  it('handles at most maxActive at once, queues at most maxWaiting, drops and counts the rest in aggregated reports; answers honest requests after', async () => {
    const service = new WitnessService({
      cosigner: { name: 'w.flood', key: wkey },
      logs: parseWitnessedLogs(verifierKeyString(ORIGIN, gw)),
      state: new WitnessState(path.join(tmp.dir, 'w')),
    });
    const limits = { maxActive: 2, maxWaiting: 5, reportMs: 1000 };
    // The flood's requests are held inside the handler until the test lets them go.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inside = 0;
    let peakInside = 0;
    let entered = 0;
    const reports: number[] = [];
    const server = serveWitnessMqtt({
      url: broker.url,
      base: BASE,
      limits,
      onDropped: (n) => reports.push(n),
      handle: async (body) => {
        entered++;
        peakInside = Math.max(peakInside, ++inside);
        try {
          await held;
          return await service.addCheckpoint(body);
        } finally {
          inside--;
        }
      },
    });
    const flooder = await mqtt.connectAsync(broker.url, { clientId: 'flooder', reconnectPeriod: 0 }, false);
    const t = mqttTransport(5000);
    try {
      await server.ready;
      const flood = 300;
      for (let i = 0; i < flood; i++) flooder.publish(`${BASE}/add-checkpoint/flood${i}`, 'garbage', { qos: 0 });
      await flooder.publishAsync(`${BASE}/add-checkpoint/flood-last`, 'garbage', { qos: 1 });
      // Every request received (without the bound: each one inside the handler).
      await until(
        () => `the flood received (entered ${entered}, stats ${JSON.stringify(server.stats)})`,
        () => entered >= flood + 1 || server.stats?.received === flood + 1,
      );
      assert.ok(peakInside <= limits.maxActive, `${peakInside} requests handled at once`);
      assert.equal(server.stats.active, limits.maxActive);
      assert.equal(server.stats.waiting, limits.maxWaiting);
      assert.equal(server.stats.peakWaiting, limits.maxWaiting);
      assert.equal(server.stats.dropped, flood + 1 - limits.maxActive - limits.maxWaiting);
      // One report at once for the first drop; the rest together, once the interval is over.
      assert.equal(reports[0], 1);
      await until(() => `every drop reported (${JSON.stringify(reports)})`, () => reports.reduce((a, b) => a + b, 0) === server.stats.dropped);
      assert.ok(reports.length < server.stats.dropped / 10, `${reports.length} reports for ${server.stats.dropped} drops`);

      release();
      await until('the queue drained', () => server.stats.answered === limits.maxActive + limits.maxWaiting && server.stats.active === 0 && server.stats.waiting === 0);
      const [endpoint] = parseWitnessEndpoints(`${witnessVerifierKey('w.flood', wkey)} ${broker.url}/${BASE}`);
      const ok = await t(endpoint, `old 0\n\n${note}`);
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^\u2014 w\.flood /);
      assert.equal(server.stats.dropped, flood + 1 - limits.maxActive - limits.maxWaiting);
    } finally {
      release();
      await t.close();
      await flooder.endAsync(true);
      await server.close();
    }
  });
});
