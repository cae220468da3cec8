import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../lib/audit';
import { decodeCbor, encodeCbor, type CborValue } from '../lib/encoding/codec';
import type { RecordInput } from '../lib/ledger';
import { appendAll, buildSampleLedger, copyDir, createLedger, keys, makeDevice, mutate, scratchLedgers, tempDir, type RawDb, type SampleLedger } from './support/audit-fixtures';
import { runCli } from './support/cli';

// The block summaries (`i` + u64(height): first, count, tmin, tmax, types, devices) are checked
// exactly against the records of each sealed block: a deleted, added or altered summary is an
// `index` finding, and so is any key left under format 2's index prefixes (d, t, s).

type Summary = { first: number; count: number; tmin: number; tmax: number; types: string[]; devices: string[] };

const readSummary = async (db: RawDb, h: number): Promise<Summary> => decodeCbor((await db.get(keys.summary(h))) as Buffer) as unknown as Summary;
const putSummary = (db: RawDb, h: number, s: Summary): Promise<void> => db.put(keys.summary(h), Buffer.from(encodeCbor(s as unknown as CborValue)));
const u64 = (x: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(x));
  return b;
};

describe('audit: the block summaries', function () {
  this.timeout(60_000);
  let sample: SampleLedger;
  const scratch = scratchLedgers();

  before(async () => {
    sample = await buildSampleLedger();
    scratch.keep(sample.dir);
  });

  const damaged = (fn: (db: RawDb) => Promise<void>): Promise<string> => scratch.damaged(sample.dir, fn);
  const audit = (dir: string, ...extra: string[]) => {
    const r = runCli(['audit', dir, '--json', '--key', sample.verifierKey, ...extra]);
    return { status: r.status, report: JSON.parse(r.stdout) as { findings: { kind: string; index?: number; height?: number; detail: string }[] } };
  };

  it('the sample ledger audits clean, one summary per block', async () => {
    const r = audit(sample.dir);
    assert.equal(r.status, 0, JSON.stringify(r.report.findings));
    const dir = await damaged(async (db) => {
      const s = await readSummary(db, 1);
      assert.equal(s.first, 10);
      assert.equal(s.count, 10);
      assert.ok(s.types.length > 0 && s.devices.length > 0);
    });
    assert.equal(audit(dir).status, 0);
  });

  it('a deleted summary is missing at its block', async () => {
    const dir = await damaged((db) => db.del(keys.summary(1)));
    const r = audit(dir);
    assert.equal(r.status, 1);
    assert.deepEqual(r.report.findings.map((f) => [f.kind, f.height, f.index]), [['index', 1, 10]]);
    assert.match(r.report.findings[0].detail, /the summary of block 1 \(records 10\.\.19\) is missing/);
  });

  it('each altered field is named', async () => {
    const dir = await damaged(async (db) => {
      const s0 = await readSummary(db, 0);
      await putSummary(db, 0, { ...s0, types: [...s0.types, 'zz.never'].sort() });
      const s1 = await readSummary(db, 1);
      await putSummary(db, 1, { ...s1, devices: s1.devices.slice(1) });
      const s2 = await readSummary(db, 2);
      await putSummary(db, 2, { ...s2, tmin: s2.tmin + 1 });
      const s3 = await readSummary(db, 3);
      await putSummary(db, 3, { ...s3, first: 31, count: 9 });
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    const f = r.report.findings;
    assert.deepEqual(f.map((x) => [x.kind, x.height]), [['index', 0], ['index', 1], ['index', 2], ['index', 3]], JSON.stringify(f));
    assert.match(f[0].detail, /differs from its records: types are \[.*zz\.never.*\], the records' are/);
    assert.match(f[1].detail, /differs from its records: devices are/);
    assert.match(f[2].detail, /differs from its records: times are/);
    assert.match(f[3].detail, /first is 31, the block starts at 30; count is 9, the block holds 10/);
  });

  it('an unreadable summary, one out of order and one for an unsealed height are named', async () => {
    const dir = await damaged(async (db) => {
      await db.put(keys.summary(0), Buffer.from([0xff]));
      const s1 = await readSummary(db, 1);
      if (s1.types.length < 2) throw new Error('the sample needs two types in block 1');
      await putSummary(db, 1, { ...s1, types: [...s1.types].reverse() });
      await putSummary(db, 9, { first: 90, count: 1, tmin: 1, tmax: 1, types: ['note'], devices: [] });
      await db.put(Buffer.concat([Buffer.from('i'), Buffer.from('x')]), Buffer.from([0]));
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    const details = r.report.findings.map((f) => `${f.kind}: ${f.detail}`);
    assert.equal(details.length, 4, details.join('\n'));
    assert.ok(details.every((d) => d.startsWith('index: ')));
    assert.ok(details.some((d) => /summary key 6978 is not `i` \+ u64\(height\)/.test(d)));
    assert.ok(details.some((d) => /summary of block 0 .* is unreadable/.test(d)));
    assert.ok(details.some((d) => /summary of block 1 .* is unreadable: types is not a list of texts in ascending UTF-8 order/.test(d)));
    assert.ok(details.some((d) => /summary is stored for block 9, but the ledger has sealed only 4 block/.test(d)));
  });

  it('keys left under format 2 index prefixes are named, one finding per prefix', async () => {
    const dir = await damaged(async (db) => {
      await db.put(Buffer.concat([Buffer.from('treading'), Buffer.from([0]), u64(3)]), Buffer.from([0]));
      await db.put(Buffer.concat([Buffer.from('treading'), Buffer.from([0]), u64(4)]), Buffer.from([0]));
      await db.put(Buffer.concat([Buffer.from('s'), u64(5), u64(5)]), Buffer.from([0]));
      await db.put(Buffer.concat([Buffer.from('d'), Buffer.from(sample.devices[0].did), Buffer.from([0]), u64(7)]), Buffer.from([0]));
    });
    const r = audit(dir);
    assert.equal(r.status, 1);
    const details = r.report.findings.map((f) => f.detail).sort();
    assert.equal(details.length, 3, details.join('\n'));
    assert.match(details[0], /^1 key\(s\) under format 2's by-device index prefix 'd'/);
    assert.match(details[1], /^1 key\(s\) under format 2's by-time index prefix 's'/);
    assert.match(details[2], /^2 key\(s\) under format 2's by-type index prefix 't'/);
  });

  it('a deleted block leaves its summary unchecked (the block is what is missing)', async () => {
    const dir = await damaged((db) => db.del(keys.block(1)));
    const r = audit(dir);
    assert.equal(r.status, 1);
    assert.ok(!r.report.findings.some((f) => f.kind === 'index'), JSON.stringify(r.report.findings));
  });

  it('an incremental audit checks the summaries of the blocks after its checkpoint', async () => {
    const note = path.join(tempDir('audit-sum-'), 'cp.note');
    scratch.keep(path.dirname(note));
    fs.writeFileSync(note, sample.checkpoints[1]); // tree size 20
    const dir = await damaged(async (db) => {
      const s2 = await readSummary(db, 2);
      await putSummary(db, 2, { ...s2, tmax: s2.tmax + 1 });
    });
    const r = audit(dir, '--from', note);
    assert.equal(r.status, 1);
    assert.deepEqual(r.report.findings.map((f) => [f.kind, f.height]), [['index', 2]]);
  });
});

// Many types and devices per block, times going back and forth, the audit in this thread and in
// workers with chunks that do not line up with blocks.
describe('audit: the block summaries, across chunks and workers', function () {
  this.timeout(60_000);
  const TYPES = 70;
  const N = 420;
  const base = 1764000000000;
  const dirs: string[] = [];
  let dir: string;
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  // Record i is stamped (i * 7919) mod N seconds after base.
  const timeOf = (i: number) => base + ((i * 7919) % N) * 1000;

  before(async () => {
    dir = tempDir('audit-sum-merge-');
    dirs.push(dir);
    const devices = Array.from({ length: TYPES }, () => makeDevice());
    const inputs: (RecordInput & { time: number })[] = Array.from({ length: N }, (_, i) => ({
      type: `k${i % TYPES}`,
      device: devices[(i * 3) % TYPES].did,
      time: timeOf(i),
      body: { n: i },
    }));
    const ledger = await createLedger(dir, { blockRecords: 100 });
    await appendAll(ledger, inputs, 50);
    await ledger.close();
  });

  const runs = [
    { name: 'in this thread, chunks of 16', opts: { workers: 0, chunkLevel: 4 } },
    { name: 'in two workers, chunks of 32', opts: { workers: 2, chunkLevel: 5, parallelThreshold: 0 } },
  ];

  for (const { name, opts } of runs) {
    it(`audits clean, ${name}`, async () => {
      const r = await auditLedger(dir, opts);
      assert.deepEqual(r.findings, []);
      assert.equal(r.checked.records, N);
      assert.equal(r.blocks, 5);
    });
  }

  it('finds a type dropped from a summary, and a summary whose block starts elsewhere, on every path', async () => {
    const copy = copyDir(dir);
    dirs.push(copy);
    await mutate(copy, async (db) => {
      const s1 = await readSummary(db, 1);
      await putSummary(db, 1, { ...s1, types: s1.types.filter((t) => t !== 'k69') });
      const s4 = await readSummary(db, 4);
      await putSummary(db, 4, { ...s4, first: 0 });
    });
    for (const { opts } of runs) {
      const r = await auditLedger(copy, opts);
      assert.deepEqual(
        r.findings.map((f) => [f.kind, f.height]),
        [['index', 1], ['index', 4]],
        JSON.stringify(r.findings),
      );
      assert.match(r.findings[0].detail, /types are/);
      assert.match(r.findings[1].detail, /first is 0, the block starts at 400/);
    }
  });
});
