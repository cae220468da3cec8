import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, termsHashHex, validateTerms, type Terms } from '../../lib/contracts';
import { ContractRunner, Gateway } from '../../lib/gateway';
import { RecentRecords } from '../../lib/gateway/recent-records';
import { contractSeries, sidebarData, SIDEBAR_DEVICES } from '../../lib/gateway/sidebar-data';
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

describe('sidebar data asked for again (every second while records arrive)', function () {
  this.timeout(20000);
  const tmp = tempDir();
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'sidebar-again', gatewayKey: generateKey('Ed25519'), blockRecords: 4, blockSeconds: 0 });
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  const readings = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await gw.record({ type: 'reading', body: { n: i } });
  };
  const security = (code: string) => gw.record({ type: 'security', body: { code, count: 1, source: 'verify' } });

  it('reads the ledger for the security list once, then keeps it from the appends', async () => {
    let reads = 0;
    const byType = gw.ledger.byType.bind(gw.ledger);
    gw.ledger.byType = (type, opts) => {
      if (type === 'security') reads++;
      return byType(type, opts);
    };
    await security('ERR_OLD');
    await readings(30);
    let [data] = await sidebarData([gw]);
    assert.deepEqual(data.security.recent.map((r) => [r.code, r.index]), [['ERR_OLD', 0]]);
    assert.equal(reads, 1);

    await readings(10);
    await security('ERR_A');
    await gw.recordMany([
      { type: 'reading', body: { n: 1 } },
      { type: 'security', body: { code: 'ERR_B', count: 2, source: 'verify' } },
    ]);
    [data] = await sidebarData([gw]);
    assert.deepEqual(data.security.recent.map((r) => [r.code, r.index, r.count]), [['ERR_B', 43, 2], ['ERR_A', 41, 1], ['ERR_OLD', 0, 1]]);

    for (const code of ['ERR_C', 'ERR_D', 'ERR_E', 'ERR_F']) await security(code);
    const concurrent = await Promise.all([sidebarData([gw]), sidebarData([gw])]);
    for (const [d] of concurrent) assert.deepEqual(d.security.recent.map((r) => r.code), ['ERR_F', 'ERR_E', 'ERR_D', 'ERR_C', 'ERR_B']);
    assert.equal(reads, 1);

    // What a reader gets back from the ledger is what the list shows.
    const stored = [];
    for await (const r of byType('security', { reverse: true, limit: 5 })) stored.push(r.index);
    assert.deepEqual(concurrent[0][0].security.recent.map((r) => r.index), stored);
  });

  it('reads the list again at the next request when reading it failed', async () => {
    const ledger = gw.ledger;
    let fail = true;
    const list = new RecentRecords(
      {
        get size() {
          return ledger.size;
        },
        byType: (type, opts) => {
          if (fail) {
            fail = false;
            throw new Error('disk gone');
          }
          return ledger.byType(type, opts);
        },
      },
      'security',
      2,
    );
    await assert.rejects(list.list(), /disk gone/);
    assert.deepEqual((await list.list()).map((r) => (r.record.body as { code: string }).code), ['ERR_F', 'ERR_E']);
  });

  it('lists the first devices in enrolment order and counts them all', async () => {
    const dids = Array.from({ length: SIDEBAR_DEVICES + 3 }, () => keyToDid(generateKey('Ed25519')));
    await gw.recordMany(dids.map((did, i) => ({ type: 'device.enrol', device: did, body: { did, name: `d${i}` } })));
    const [data] = await sidebarData([gw]);
    assert.equal(data.deviceCount, SIDEBAR_DEVICES + 3);
    assert.deepEqual(
      data.devices.map((d) => d.name),
      dids.slice(0, SIDEBAR_DEVICES).map((_, i) => `d${i}`),
    );
  });

  it('verifies a sealed block shown before only once', async () => {
    const [first] = await sidebarData([gw]);
    const newest = first.latestBlocks[0].height;
    const opened: number[] = [];
    const block = gw.ledger.block.bind(gw.ledger);
    gw.ledger.block = (height) => {
      opened.push(height);
      return block(height);
    };
    await readings(8); // two more blocks
    const [second] = await sidebarData([gw]);
    assert.deepEqual(second.latestBlocks.map((b) => b.height), [0, 1, 2, 3, 4].map((d) => newest + 2 - d));
    // The newest block is the ledger's own; the one before it is read and verified; the rest were shown before.
    assert.deepEqual(opened, [newest + 1]);
    assert.deepEqual(second.latestBlocks.slice(2), first.latestBlocks.slice(0, 3));
    await sidebarData([gw]);
    assert.deepEqual(opened, [newest + 1]);
  });
});

describe('contract series of a terms hash no registration holds', function () {
  this.timeout(60000);
  const tmp = tempDir();
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'sidebar-scan', gatewayKey: generateKey('Ed25519'), blockRecords: 1000, blockSeconds: 0 });
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('reads at most the scan bound of registrations before it answers none', async () => {
    const registrations = 10_050;
    for (let at = 0; at < registrations; at += 1000) {
      const n = Math.min(1000, registrations - at);
      await gw.recordMany(Array.from({ length: n }, (_, i) => ({ type: 'contract.register', body: { contract: `c${at + i}`, termsHash: (at + i).toString(16).padStart(64, '0') } })));
    }
    let read = 0;
    const byType = gw.ledger.byType.bind(gw.ledger);
    gw.ledger.byType = async function* (type, opts) {
      for await (const r of byType(type, opts)) {
        read++;
        yield r;
      }
    };
    assert.equal(await contractSeries(gw, 'f'.repeat(64)), null);
    // The bound is 10,000 records of a type per request (the one past it ends the scan).
    assert.ok(read > 0 && read <= 10_001, `read ${read} of ${registrations} registrations`);
  });
});
