// A run of missing records that spans whole chunks: the hashes over it come from the stored
// nodes that tile it, so the block roots in it and after it are checked as they are when the
// run lies inside one chunk (docs/AUDIT.md: "A missing record's hash is taken from the intact
// stored node over it").
import * as assert from 'node:assert/strict';
import { auditLedger, type AuditOptions, type AuditReport, type Finding } from '../lib/audit';
import { decodeCbor, encodeCbor, type CborValue } from '../lib/encoding/codec';
import { nodeValue } from '../lib/ledger/layout';
import { leafHash, nodeHash } from '../lib/merkle';
import { buildSampleLedger, keys, scratchLedgers, type RawDb, type SampleLedger } from './support/audit-fixtures';

const blockRoots = (r: AuditReport): [number | undefined, string][] => r.findings.filter((f) => f.kind === 'block-root').map((f) => [f.height, f.detail]);
const unrecomputable = (r: AuditReport): Finding[] => r.findings.filter((f) => /cannot be recomputed/.test(f.detail));

async function deleteRecords(db: RawDb, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await db.del(keys.record(i));
}

/** Rewrites note `i`'s text, its leaf hash and every stored node over it (what a writer holding no key can recompute). */
async function rewriteNote(db: RawDb, i: number): Promise<void> {
  const value = (await db.get(keys.record(i))) as Buffer;
  const record = decodeCbor(value.subarray(32), { canonical: false }) as { type: string; body: CborValue };
  assert.equal(record.type, 'note');
  record.body = { text: 'rewritten' };
  const bytes = encodeCbor(record);
  let hash = leafHash(bytes);
  await db.put(keys.record(i), Buffer.concat([hash, bytes]));
  for (let level = 0, index = i; ; level++, index = Math.floor(index / 2)) {
    const sibling = level === 0 ? await db.get(keys.record(index ^ 1)) : await db.get(keys.node(level, index ^ 1));
    if (!sibling) break;
    const other = sibling.subarray(0, 32);
    hash = index % 2 === 0 ? nodeHash(hash, other) : nodeHash(other, hash);
    const key = keys.node(level + 1, Math.floor(index / 2));
    if (!(await db.get(key))) break;
    await db.put(key, nodeValue(key, hash));
  }
}

describe('audit: a run of missing records over whole chunks', function () {
  this.timeout(120000);
  let sample: SampleLedger;
  const scratch = scratchLedgers();
  const damaged = (fn: (db: RawDb) => Promise<void>): Promise<string> => scratch.damaged(sample.dir, fn);
  const run = async (dir: string, opts: AuditOptions): Promise<AuditReport> => {
    const inThread = await auditLedger(dir, { trustedKey: sample.verifierKey, workers: 0, ...opts });
    const inWorkers = await auditLedger(dir, { trustedKey: sample.verifierKey, workers: 2, parallelThreshold: 0, ...opts });
    assert.deepEqual(inWorkers.findings, inThread.findings, 'with and without workers');
    return inThread;
  };

  before(async () => {
    // 40 records in blocks of 10: blocks end at 10, 20, 30 and 40.
    sample = await buildSampleLedger(undefined, { records: 40, blockRecords: 10 });
    scratch.keep(sample.dir);
  });

  it('takes the hashes from the stored nodes: the block roots are checked as when the run lies in one chunk', async () => {
    const dir = await damaged((db) => deleteRecords(db, 8, 23));
    const whole = await run(dir, { chunkLevel: 5 }); // the run inside the chunk 0..31
    const chunks = await run(dir, { chunkLevel: 3 }); // the run is the chunks 8..15 and 16..23
    assert.deepEqual(unrecomputable(whole), [], JSON.stringify(whole.findings));
    assert.deepEqual(unrecomputable(chunks), [], JSON.stringify(chunks.findings));
    assert.deepEqual(blockRoots(chunks), blockRoots(whole));
    const missing = chunks.findings.filter((f) => f.kind === 'missing');
    assert.deepEqual(missing.map((f) => [f.index, f.detail]), [[8, 'records 8..23 are missing (16 records)']]);
  });

  it('names a record after the run rewritten with its leaf hash and every stored node over it', async () => {
    const dir = await damaged(async (db) => {
      await deleteRecords(db, 8, 23);
      await rewriteNote(db, 34);
    });
    for (const chunkLevel of [3, 5]) {
      const r = await run(dir, { chunkLevel });
      assert.deepEqual(unrecomputable(r), [], `chunk level ${chunkLevel}: ${JSON.stringify(r.findings)}`);
      const roots = r.findings.filter((f) => f.kind === 'block-root' && f.height === 3);
      assert.ok(roots.some((f) => /signed checkpoint root differs from the recomputed root at tree size 40/.test(f.detail)), `chunk level ${chunkLevel}: ${JSON.stringify(r.findings)}`);
    }
  });

  it('a run whose stored node is also gone: the node is rebuilt from its children and reported, as inside one chunk', async () => {
    const dir = await damaged(async (db) => {
      await deleteRecords(db, 8, 23);
      await db.del(keys.node(3, 1)); // over records 8..15
    });
    const whole = await run(dir, { chunkLevel: 5 });
    const chunks = await run(dir, { chunkLevel: 3 });
    assert.deepEqual(unrecomputable(chunks), [], JSON.stringify(chunks.findings));
    assert.deepEqual(chunks.findings, whole.findings);
    assert.deepEqual(
      chunks.findings.filter((f) => f.kind === 'missing').map((f) => f.detail),
      ['records 8..23 are missing (16 records)', 'node (level 3, index 1) over records 8..15 is missing'],
    );
  });

  it('a damaged stored node over the run is reported and rebuilt from its children', async () => {
    const dir = await damaged(async (db) => {
      await deleteRecords(db, 8, 23);
      const key = keys.node(3, 1);
      const value = Buffer.from((await db.get(key)) as Buffer);
      value[0] ^= 1;
      await db.put(key, value);
    });
    const r = await run(dir, { chunkLevel: 3 });
    assert.deepEqual(unrecomputable(r), [], JSON.stringify(r.findings));
    assert.deepEqual(
      r.findings.filter((f) => f.kind === 'merkle-node').map((f) => f.detail),
      ['node (level 3, index 1) over records 8..15: node checksum does not match its hash'],
    );
  });

  it('a run whose stored node and every node down one path under it are gone still reports the roots it cannot recompute', async () => {
    const dir = await damaged(async (db) => {
      await deleteRecords(db, 8, 23);
      for (const [level, index] of [[3, 1], [2, 3], [1, 6]]) await db.del(keys.node(level, index)); // over 8..15, 12..15, 12..13
    });
    const r = await run(dir, { chunkLevel: 3 });
    assert.equal(r.clean, false);
    assert.ok(r.findings.some((f) => f.kind === 'missing' && f.index === 8), JSON.stringify(r.findings));
    // The block ending at 10 needs only the node over 8..9; every later one needs the lost node over 8..15.
    assert.deepEqual(
      unrecomputable(r).map((f) => f.height),
      [1, 2, 3],
      JSON.stringify(r.findings),
    );
  });
});
