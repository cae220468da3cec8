import * as assert from 'node:assert/strict';
import { collectViews, latestViews } from '../../lib/ledger';
import type { StoredRecord } from '../../lib/ledger';

// collectViews / latestViews (lib/ledger/query-views): the Query node's lists, bounded by a
// record count and by stored bytes.

function stored(index: number, size: number): StoredRecord {
  return { index, leafHash: new Uint8Array(32), bytes: new Uint8Array(size), record: { v: 1, type: 'note', time: 0 } };
}

function fakeLedger(sizes: number[]) {
  const records = sizes.map((s, i) => stored(i, s));
  let reads = 0;
  return {
    get size() {
      return records.length;
    },
    get reads() {
      return reads;
    },
    async *range(from: number, to = records.length) {
      for (let i = from; i < Math.min(to, records.length); i++) {
        reads++;
        yield records[i];
      }
    },
  };
}

const indexes = (v: { records: Record<string, unknown>[] }) => v.records.map((r) => r.index);

describe('ledger: query views are bounded in records and bytes', () => {
  it('collectViews stops before the record that would pass maxBytes, and marks the cut', async () => {
    const l = fakeLedger([40, 40, 40, 40, 40]);
    const v = await collectViews(l.range(0), 100, 100);
    assert.deepEqual(indexes(v), [0, 1]);
    assert.equal(v.truncated, true);
    assert.equal(l.reads, 3, 'reads one record past the bound, no more');
  });

  it('collectViews: within the bound, the limit alone; a limit of 0 gives nothing', async () => {
    const l = fakeLedger([10, 10, 10, 10]);
    assert.deepEqual(await collectViews(l.range(0), 3, 100).then(indexes), [0, 1, 2]);
    assert.equal((await collectViews(l.range(0), 3, 100)).truncated, false);
    assert.deepEqual(await collectViews(l.range(0), 0, 100), { records: [], truncated: false });
    // Exactly at the bound is within it.
    const exact = await collectViews(l.range(0), 10, 40);
    assert.deepEqual(indexes(exact), [0, 1, 2, 3]);
    assert.equal(exact.truncated, false);
  });

  it('collectViews always returns a first record, even one over the bound', async () => {
    const v = await collectViews(fakeLedger([500, 10]).range(0), 10, 100);
    assert.deepEqual(indexes(v), [0]);
    assert.equal(v.truncated, true);
  });

  it('latestViews keeps the newest records, oldest first, and leaves out the oldest when cut', async () => {
    const sizes = Array.from({ length: 200 }, () => 10);
    const l = fakeLedger(sizes);
    const v = await latestViews(l, 150, 505);
    assert.equal(v.truncated, true);
    assert.deepEqual(indexes(v), Array.from({ length: 50 }, (_, i) => 150 + i));
    assert.ok(l.reads <= 64 + 64, `read ${l.reads} records for 51`);
    const all = await latestViews(fakeLedger(sizes), 5, 505);
    assert.deepEqual(indexes(all), [195, 196, 197, 198, 199]);
    assert.equal(all.truncated, false);
    assert.deepEqual(await latestViews(fakeLedger(sizes), 0, 505), { records: [], truncated: false });
    assert.deepEqual(indexes(await latestViews(fakeLedger([1, 2, 3]), 10, 505)), [0, 1, 2]);
  });
});
