import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, termsHashHex, validateTerms, type Terms } from '../../lib/contracts';
import { ContractRunner, Gateway } from '../../lib/gateway';
import { contractSeries, sidebarData } from '../../lib/gateway/sidebar-data';
import { tempDir } from '../support/ledger';

// What the Ledger sidebar shows, read from a gateway without a Node-RED runtime.

function coldRoom(parties: string[], extra: Partial<Terms> = {}): Terms {
  return validateTerms({
    id: 'cold-room',
    version: 1,
    title: 'Cold room below -18 °C',
    subjects: 'any',
    metric: 'temperature',
    unit: '°C',
    rule: { op: '<', limit: -18 },
    alarm: { mode: 'instant' },
    hysteresis: 0.5,
    parties,
    ...extra,
  });
}

describe('sidebar data on a Gateway', function () {
  this.timeout(20000);
  const tmp = tempDir();
  let gw: Gateway;
  const parties = [generateKey('Ed25519'), generateKey('Ed25519')];
  const terms = coldRoom(parties.map(keyToDid), { alarm: { mode: 'consecutive', seconds: 60 } });
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);

  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'sidebar-unit', gatewayKey: generateKey('Ed25519'), blockRecords: 4, blockSeconds: 0 });
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('marks an excursion that began before the first point, and describes contracts no node runs', async () => {
    const runner = await ContractRunner.load(gw, terms);
    for (const p of parties) await runner.sign(signContract(terms, p, { kid: keyToDid(p) }));
    const values = [-20, -17, -16, -15, -16, -17];
    for (let i = 0; i < values.length; i++) await runner.reading({ temperature: values[i] }, t0 + i * 30_000);

    // No Contract node registered a view: the terms come from the contract.register record.
    const series = await contractSeries(gw, termsHashHex(terms), 3);
    assert.ok(series);
    assert.equal(series.contract.active, null);
    assert.deepEqual(series.contract.rule, { op: '<', limit: -18 });
    assert.deepEqual(series.points.map((p) => p.value), [-15, -16, -17]);
    // The violation began when the excursion had lasted the alarm's seconds, not at its start.
    const violation = series.events.find((e) => e.type === 'violation');
    assert.ok(violation && violation.time > t0 + 30_000, JSON.stringify(series.events));
    assert.deepEqual(series.excursions, [{ start: t0 + 30_000, end: null, violated: true, violatedAt: violation.time }]);
    assert.equal(series.events[0].type, 'excursion.started');
    assert.equal(await contractSeries(gw, '1'.repeat(64)), null);

    gw.listContract(runner);
    const [data] = await sidebarData([gw]);
    assert.equal(data.name, 'sidebar-unit');
    assert.equal(data.size, gw.ledger.size);
    assert.equal(data.blocks, gw.ledger.height);
    assert.equal(data.latestBlocks[0].height, gw.ledger.height - 1);
    assert.equal(data.lastAudit, null);
    assert.deepEqual(data.devices, []);
    assert.equal(data.contracts[0].status, 'violated');
    assert.deepEqual(data.contracts[0].last, { time: t0 + 150_000, value: -17 });
  });
});
