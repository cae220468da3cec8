import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { ledgerPaths } from '../../lib/gateway/paths';
import { writeKeyFile } from '../../lib/crypto/keyfile';
import { startBroker, type RunningBroker } from '../../demo/broker';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { helper, ledgerNode, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// A gateway's Ledger config publishing its tiles on a real broker (Aedes), and a Replica node
// following it over that broker alone (mqtt:// URL), in the same test runtime.
describe('Ledger config "Tiles over MQTT" + Replica node following over MQTT', function () {
  this.timeout(60_000);
  let userDir: string;
  let broker: RunningBroker;
  before((done) => {
    userDir = startTestRuntime(done);
  });
  before(async () => {
    broker = await startBroker({ port: 0 });
  });
  after(async () => {
    await broker.close();
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  /**
   * A Ledger config named `name` publishing tiles over MQTT (blocks of 5) and a Replica node
   * following it into `replica`: the gateway, the trusted key, the copy's directory, the Ledger
   * config node and `reach(n)`, which waits until the replica reports a size of at least n.
   */
  async function gatewayAndReplica(name: string, replica: string) {
    const key = generateKey('Ed25519');
    writeKeyFile(ledgerPaths(userDir, name).keyFile, key);
    const dir = path.join(userDir, replica);
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: name, blockRecords: 5, tilesMqtt: broker.url }),
        { id: 'rep', type: 'iot-ledger-replica', url: `${broker.url}/iot-ledger/${name}`, key: keyToDid(key), dir, interval: 0.3, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]),
    );
    const node = helper.getNode('ledger') as unknown as LedgerConfigNode & { warn: { args: unknown[][]; thisValues: unknown[] } };
    const gw = await node.gateway();
    const sizes: number[] = [];
    helper.getNode('out').on('input', (msg: { payload: { size: number } }) => sizes.push(msg.payload.size));
    const reach = (n: number) => until(() => `replica size ${n} (sizes ${JSON.stringify(sizes.slice(-5))})`, () => sizes.some((s) => s >= n), { timeoutMs: 30_000, pollMs: 50 });
    return { key, dir, node, gw, reach };
  }

  it('the replica copies every sealed block, follows new ones, and its copy audits CLEAN', async () => {
    const { key, dir, gw, reach } = await gatewayAndReplica('mqtt-nodes', 'replica-copy');
    assert.equal(gw.ledger.gatewayDid, keyToDid(key));
    for (let i = 0; i < 12; i++) await gw.record({ type: 'note', body: { i } });
    await reach(10);
    // A block sealed by time rather than size is published (retained checkpoint) and followed too.
    await gw.record({ type: 'note', body: { last: true } });
    await gw.ledger.seal();
    await reach(13);
    await helper.unload();
    const report = await auditLedger(dir, { trustedKey: keyToDid(key), workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, 13);
  });

  it('100 messages from someone else on its checkpoint topic (an older checkpoint replayed, garbage): its own is back, one warning, and the replica goes on', async () => {
    const name = 'mqtt-overwritten';
    const { key, dir, node: ledger, gw, reach } = await gatewayAndReplica(name, 'replica-overwritten');
    for (let i = 0; i < 5; i++) await gw.record({ type: 'note', body: { i } });
    const topic = `iot-ledger/${name}/checkpoint`;
    const current = async (): Promise<string | undefined> => (await broker.retained([topic])).get(topic);
    await until('the first checkpoint retained', async () => (await current()) !== undefined);
    const older = (await current())!;
    for (let i = 5; i < 10; i++) await gw.record({ type: 'note', body: { i } });
    await reach(10);
    const ours = (await current())!;
    assert.notEqual(ours, older);
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    try {
      for (let i = 0; i < 100; i++) await attacker.publishAsync(topic, i % 2 ? older : `garbage ${i}`, { qos: 1, retain: true });
      await attacker.publishAsync(topic, older, { qos: 1, retain: true });
    } finally {
      await attacker.endAsync();
    }
    await until('the gateway checkpoint retained again', async () => (await current()) === ours, { timeoutMs: 10_000 });
    const warned = ledger.warn.args.filter((_, i) => ledger.warn.thisValues[i] === ledger).map((x) => String(x[0])).filter((w) => w.includes('from another client'));
    assert.equal(warned.length, 1, JSON.stringify(warned));
    // No new block came meanwhile: the replica follows the next ones as before.
    assert.equal(gw.ledger.height, 2);
    for (let i = 10; i < 15; i++) await gw.record({ type: 'note', body: { i } });
    await reach(15);
    await helper.unload();
    const report = await auditLedger(dir, { trustedKey: keyToDid(key), workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, 15);
  });

  it('garbage put back on a full tile\'s topic each time the gateway publishes it: the replica recovers in seconds, not 60 s, and its copy audits CLEAN', async () => {
    const name = 'mqtt-bad-tile';
    const topic = `iot-ledger/${name}/tile/entries/000`;
    // Watches the tile's topic and puts garbage back, retained, after every other message on it.
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    let overwrites = 0;
    const putBack = (_topic: string, payload: Buffer): void => {
      if (payload.toString() === 'garbage') return;
      overwrites++;
      // A publication the end of the test overtakes is of no matter (the client may be disconnecting by then).
      attacker.publishAsync(topic, 'garbage', { qos: 1, retain: true }).catch(() => undefined);
    };
    attacker.on('message', putBack);
    await attacker.subscribeAsync(topic, { qos: 1 });
    await attacker.publishAsync(topic, 'garbage', { qos: 1, retain: true });
    try {
      const { key, dir, gw, reach } = await gatewayAndReplica(name, 'replica-bad-tile');
      const replica = helper.getNode('rep') as unknown as { error: { args: unknown[][] } };
      await gw.ledger.appendMany(Array.from({ length: 300 }, (_, i) => ({ type: 'note', body: { i } })));
      await gw.ledger.seal();
      // Its first fetch of the tile takes the garbage; the gateway's answers are overwritten as they come.
      await reach(300);
      const codes = replica.error.args.map((a) => (a[0] as { code?: string }).code ?? String(a[0]));
      assert.ok(codes.some((c) => /ERR_REPLICA_BAD_TILE/.test(c)), `the garbage reached the replica: ${JSON.stringify(codes)}`);
      assert.ok(overwrites >= 1, 'the gateway published the tile, and the garbage was put back after it');
      await helper.unload();
      const report = await auditLedger(dir, { trustedKey: keyToDid(key), workers: 0 });
      assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
      assert.equal(report.size, 300);
    } finally {
      attacker.off('message', putBack);
      await attacker.publishAsync(topic, '', { qos: 1, retain: true });
      await attacker.endAsync();
    }
  });
});
