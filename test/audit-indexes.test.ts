import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSampleLedger, copyDir, mutate, tempDir, type RawDb, type SampleLedger } from './support/audit-fixtures';
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
