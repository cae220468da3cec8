// A ledger directory from someone else: what is stored there must not make the audit's work
// grow faster than what is stored (docs/AUDIT.md, "The work follows what is stored"). Each case
// stores a few hundred thousand small keys that the audit once handled in quadratic time: it now
// completes well within the test's time (the old code took several minutes) with bounded findings.
import * as assert from 'node:assert/strict';
import { auditLedger } from '../lib/audit';
import { buildSampleLedger, keys, scratchLedgers, type RawDb, type SampleLedger } from './support/audit-fixtures';

/** Puts `n` entries made by `entry(k)`, in batches. */
async function putMany(db: RawDb, n: number, entry: (k: number) => [Buffer, Buffer][]): Promise<void> {
  let ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
  for (let k = 0; k < n; k++) {
    for (const [key, value] of entry(k)) ops.push({ type: 'put', key, value });
    if (ops.length >= 20000) {
      await db.batch(ops);
      ops = [];
    }
  }
  if (ops.length > 0) await db.batch(ops);
}

describe('audit: a hostile directory costs work in proportion to what it stores', function () {
  this.timeout(60000);
  let sample: SampleLedger;
  const scratch = scratchLedgers();
  const damaged = (fn: (db: RawDb) => Promise<void>): Promise<string> => scratch.damaged(sample.dir, fn);

  before(async () => {
    // 40 records in blocks of 10: blocks 0..3.
    sample = await buildSampleLedger(undefined, { records: 40, blockRecords: 10 });
    scratch.keep(sample.dir);
  });

  it('many unreadable blocks after the last one: each a finding, read once (no quadratic queue)', async () => {
    const n = 500_000;
    const dir = await damaged((db) => putMany(db, n, (k) => [[keys.block(4 + k), Buffer.from('x')]]));
    const r = await auditLedger(dir, { trustedKey: sample.verifierKey, workers: 0 });
    assert.equal(r.clean, false);
    assert.equal(r.blocks, 4 + n);
    assert.equal(r.findings.length, 10000);
    assert.ok(r.omitted > 0);
    const first = r.findings.find((f) => f.height === 4);
    assert.equal(first?.kind, 'block-header');
    assert.match(first?.detail ?? '', /block value is not canonical CBOR/);
    assert.deepEqual(new Set(r.findings.map((f) => f.kind)), new Set(['block-header', 'index']));
  });

  it('summaries stored for many runs of missing blocks: skipped with their runs, each looked up once', async () => {
    // Blocks at heights 4, 6, 8, ... (unreadable), none at 5, 7, 9, ...: 150,000 runs of a missing
    // block, each with a summary stored for it (a summary of a missing block is not reported).
    const n = 150_000;
    const dir = await damaged((db) =>
      putMany(db, n, (k) => [
        [keys.block(4 + 2 * k), Buffer.from('x')],
        [keys.summary(5 + 2 * k), Buffer.from('x')],
      ]),
    );
    const r = await auditLedger(dir, { trustedKey: sample.verifierKey, workers: 0 });
    assert.equal(r.clean, false);
    assert.equal(r.findings.length, 10000);
    assert.ok(r.omitted > 0);
    assert.equal(r.findings.find((f) => f.height === 5)?.kind, 'missing');
    // No summary of a missing block is a finding: the index findings are the stored (even) blocks',
    // and the last summary's, which lies past the last block.
    const odd = r.findings.filter((f) => f.kind === 'index' && f.height !== undefined && f.height % 2 === 1).map((f) => f.height);
    assert.deepEqual(odd, [5 + 2 * (n - 1)]);
  });
});
