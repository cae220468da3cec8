import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../lib/audit';
import type { RecordInput } from '../lib/ledger';
import { appendAll, buildSampleLedger, copyDir, createLedger, makeDevice, mutate, tempDir, type RawDb, type SampleLedger } from './support/audit-fixtures';
import { runCli } from './support/cli';

// The derived indexes (d: by device, t: by type, s: by gateway time) are checked exactly:
// a deleted, added or altered entry is an `index` finding at the record it concerns.

const u64 = (x: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(x));
  return b;
};
const typeKey = (type: string, i: number) => Buffer.concat([Buffer.from('t'), Buffer.from(type), Buffer.from([0]), u64(i)]);
const deviceKey = (did: string, i: number) => Buffer.concat([Buffer.from('d'), Buffer.from(did), Buffer.from([0]), u64(i)]);
const timeKey = (t: number, i: number) => Buffer.concat([Buffer.from('s'), u64(t), u64(i)]);

/** The record's type, device and time, read through the CLI's export (JSON lines). */
function exported(dir: string): { index: number; type: string; device?: string; time: string }[] {
  const r = runCli(['export', dir]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

describe('audit: the derived indexes', function () {
  this.timeout(60_000);
  let sample: SampleLedger;
  let records: ReturnType<typeof exported>;
  const dirs: string[] = [];

  before(async () => {
    sample = await buildSampleLedger();
    records = exported(sample.dir);
    dirs.push(sample.dir);
  });
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  const damaged = async (fn: (db: RawDb) => Promise<void>): Promise<string> => {
    const dir = copyDir(sample.dir);
    dirs.push(dir);
    await mutate(dir, fn);
    return dir;
  };
  const audit = (dir: string, ...extra: string[]) => {
    const r = runCli(['audit', dir, '--json', '--key', sample.verifierKey, ...extra]);
    return { status: r.status, report: JSON.parse(r.stdout) as { findings: { kind: string; index: number; detail: string }[] } };
  };
  const ms = (i: number) => Date.parse(records[i].time);
  const reading = (from: number) => records.find((r) => r.index >= from && r.type === 'reading' && r.device) as (typeof records)[number];

  it('the sample ledger audits clean, its entries all accounted for', () => {
    const r = audit(sample.dir);
    assert.equal(r.status, 0, JSON.stringify(r.report.findings));
  });

  it('a deleted by-type, by-device or by-time entry is missing at its record', async () => {
    const a = reading(7);
    const b = reading(21);
    const dir = await damaged(async (db) => {
      await db.del(typeKey(records[3].type, 3));
      await db.del(deviceKey(a.device as string, a.index));
      await db.del(timeKey(ms(b.index), b.index));
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    const idx = r.report.findings.filter((f) => f.kind === 'index');
    assert.deepEqual(idx.map((f) => f.index), [3, a.index, b.index]);
    assert.match(idx[0].detail, /by-type entry \(.*\) of record 3 is missing/);
    assert.match(idx[1].detail, /by-device entry/);
    assert.match(idx[2].detail, /by-time entry/);
    assert.equal(r.report.findings[0].kind, 'index');
  });

  it('an added or altered entry is named at the record it points to', async () => {
    const a = reading(10);
    const dir = await damaged(async (db) => {
      await db.put(typeKey('device.revoke', 12), Buffer.from([0])); // record 12 is no revocation
      await db.del(deviceKey(a.device as string, a.index));
      await db.put(deviceKey(sample.devices.find((d) => d.did !== a.device)!.did, a.index), Buffer.from([0])); // moved to the other device
      await db.put(timeKey(ms(30) + 5, 30), Buffer.from([0]));
      await db.put(typeKey('note', 4000), Buffer.from([0])); // beyond the ledger
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    const idx = r.report.findings.filter((f) => f.kind === 'index');
    const at = (i: number) => idx.filter((f) => f.index === i).map((f) => f.detail).join(' | ');
    assert.match(at(12), /by-type entry .* names record 12, which is not what the record says/);
    assert.match(at(a.index), /by-device entry \(.*\) of record \d+ is missing/);
    assert.match(at(a.index), /by-device entry .* names record \d+, which is not what the record says/);
    assert.match(at(30), /by-time entry .* names record 30/);
    assert.match(at(records.length), /names record 4000, beyond the ledger's 40 records/);
    assert.equal(idx.length, 5, JSON.stringify(idx));
  });

  it('an entry of a type no record has, alone, is named (the merge leaves its range to a walk)', async () => {
    assert.ok(!records.some((r) => r.type === 'zz'));
    const dir = await damaged(async (db) => {
      await db.put(typeKey('zz', 4), Buffer.from([0]));
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    assert.deepEqual(r.report.findings.map((f) => [f.kind, f.index]), [['index', 4]]);
    assert.match(r.report.findings[0].detail, /by-type entry .* names record 4, which is not what the record says/);
  });

  it('an incremental audit checks the entries of the records after its checkpoint', async () => {
    const note = path.join(tempDir('audit-idx-'), 'cp.note');
    dirs.push(path.dirname(note));
    fs.writeFileSync(note, sample.checkpoints[1]); // tree size 20
    const dir = await damaged(async (db) => {
      await db.del(typeKey(records[25].type, 25));
    });
    const r = audit(dir, '--from', note);
    assert.equal(r.status, 1);
    assert.deepEqual(r.report.findings.map((f) => [f.kind, f.index]), [['index', 25]]);
  });
});

// The audit merges the entries with the records as it reads them: a cursor per type and per
// device (up to a budget, then lookups), one over the by-time entries (a record older than the
// one before it is looked up). These ledgers take every path.
describe('audit: the derived indexes, beyond the merge', function () {
  this.timeout(60_000);
  const TYPES = 70; // more than the audit's cursor budget per family (64)
  const N = 420;
  const base = 1764000000000;
  const dirs: string[] = [];
  let dir: string;
  let inputs: (RecordInput & { time: number })[];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  // Times go back and forth: record i is stamped (i * 7919) mod N seconds after base.
  const timeOf = (i: number) => base + ((i * 7919) % N) * 1000;

  before(async () => {
    dir = tempDir('audit-idx-merge-');
    dirs.push(dir);
    const devices = Array.from({ length: TYPES }, () => makeDevice());
    inputs = Array.from({ length: N }, (_, i) => ({ type: `k${i % TYPES}`, device: devices[(i * 3) % TYPES].did, time: timeOf(i), body: { n: i } }));
    const ledger = await createLedger(dir);
    await appendAll(ledger, inputs, 50);
    await ledger.close();
  });

  const damaged = async (fn: (db: RawDb) => Promise<void>): Promise<string> => {
    const copy = copyDir(dir);
    dirs.push(copy);
    await mutate(copy, fn);
    return copy;
  };
  const runs = [
    { name: 'in this thread, chunks of 16', opts: { workers: 0, chunkLevel: 4 } },
    { name: 'in two workers, chunks of 32', opts: { workers: 2, chunkLevel: 5, parallelThreshold: 0 } },
  ];

  for (const { name, opts } of runs) {
    it(`audits clean, ${name}`, async () => {
      const r = await auditLedger(dir, opts);
      assert.deepEqual(r.findings, []);
      assert.equal(r.checked.records, N);
    });
  }

  it('finds deleted entries on every path: merged, looked up past the cursor budget, older than the record before', async () => {
    // Record 2 is older than record 1 (its by-time key is looked up); record 69 has type k69 and
    // record 68's device is the 69th distinct one (both past the budget); record 5 is merged.
    assert.ok(timeOf(2) < timeOf(1));
    const deviceOf68 = inputs[68].device as string;
    assert.equal(new Set(inputs.slice(0, 68).map((x) => x.device)).size, 68);
    const copy = await damaged(async (db) => {
      await db.del(timeKey(timeOf(2), 2));
      await db.del(typeKey('k69', 69));
      await db.del(deviceKey(deviceOf68, 68));
      await db.del(typeKey('k5', 5));
      await db.del(timeKey(timeOf(5), 5));
    });
    for (const { opts } of runs) {
      const r = await auditLedger(copy, opts);
      const idx = r.findings.filter((f) => f.kind === 'index');
      assert.deepEqual(
        idx.map((f) => [f.index, f.detail.replace(/ \(.*\)/, '')]),
        [
          [2, 'by-time entry of record 2 is missing'],
          [5, 'by-type entry of record 5 is missing'],
          [5, 'by-time entry of record 5 is missing'],
          [68, 'by-device entry of record 68 is missing'],
          [69, 'by-type entry of record 69 is missing'],
        ],
      );
      assert.equal(r.findings.length, idx.length, JSON.stringify(r.findings));
    }
  });

  it('names added entries inside and outside the merged ranges', async () => {
    const copy = await damaged(async (db) => {
      await db.put(typeKey('k1', 2), Buffer.from([0])); // inside k1's merged range (record 2 is k2)
      await db.put(typeKey('k69', 3), Buffer.from([0])); // k69 is looked up: its range is walked
      await db.put(typeKey('zz', 4), Buffer.from([0])); // a type no record has
      await db.put(timeKey(timeOf(7) + 1, 7), Buffer.from([0]));
    });
    for (const { opts } of runs) {
      const r = await auditLedger(copy, opts);
      const idx = r.findings.filter((f) => f.kind === 'index');
      assert.deepEqual(idx.map((f) => f.index), [2, 3, 4, 7], JSON.stringify(idx));
      for (const f of idx) assert.match(f.detail, /names record \d+, which is not what the record says/);
      assert.equal(r.findings.length, idx.length, JSON.stringify(r.findings));
    }
  });
});
