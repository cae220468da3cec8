import * as assert from 'node:assert/strict';
import { Ledger } from '../../lib/ledger';
import type { BlockSummary } from '../../lib/ledger/layout';
import { scanByTime, type TimeScanWatch } from '../../lib/ledger/query';
import { openRawDb } from '../support/raw-db';
import { gatewayKey, tempDir } from '../support/ledger';

// A gateway clock set back (or records appended with their own times) makes blocks
// whose times overlap: the merge by time must read all of them before it yields the first
// record, but one query of a few records must not hold every record of those blocks.
describe('ledger: records by time over blocks whose times overlap', function () {
  this.timeout(30000);
  const BLOCK = 10;
  const N = 40 * BLOCK;
  const L = 20;
  // Each block starts with a record dated 1970 (a gateway started without its clock, then set
  // right): each of those yielded makes the merge read the next block, and hold its 2026 records.
  const timeOf = (i: number): number => (i % BLOCK === 0 ? 1000 + i : 1_800_000_000_000 + i);
  const earliest = (n: number): number[] =>
    Array.from({ length: N }, (_, i) => i)
      .sort((a, b) => timeOf(a) - timeOf(b) || a - b)
      .slice(0, n);

  it('a query of 20 records gives the 20 earliest, its merge holding a block and twice the 20, not a block per record', async () => {
    const t = tempDir('time-scan-');
    try {
      const l = await Ledger.open(t.dir, { name: 'time-scan.test/a', gatewayKey, blockRecords: BLOCK, blockSeconds: 0 });
      await l.appendMany(Array.from({ length: N }, (_, i) => ({ type: 'reading', time: timeOf(i), body: { i } })));
      const viaLedger: number[] = [];
      for await (const r of l.byTime(0, Number.MAX_SAFE_INTEGER, { limit: L })) viaLedger.push(r.index);
      assert.deepEqual(viaLedger, earliest(L));
      await l.close();

      const db = await openRawDb(t.dir);
      try {
        // Every record sealed: the open block is empty.
        const open: BlockSummary = { first: N, count: 0, tmin: 0, tmax: 0, types: [], devices: [] };
        const watch: TimeScanWatch = { held: 0 };
        const got: number[] = [];
        for await (const r of scanByTime(db, open, 0, Number.MAX_SAFE_INTEGER, { from: 0, to: N, limit: L }, watch)) got.push(r.index);
        assert.deepEqual(got, earliest(L));
        assert.ok(watch.held <= 2 * L + BLOCK, `the merge held ${watch.held} of the ${N} records at once`);
        // Without a limit every record comes, in time order.
        const all: number[] = [];
        for await (const r of scanByTime(db, open, 0, Number.MAX_SAFE_INTEGER, { from: 0, to: N, limit: Number.MAX_SAFE_INTEGER })) all.push(r.index);
        assert.deepEqual(all, earliest(N));
      } finally {
        await db.close();
      }
    } finally {
      t.cleanup();
    }
  });
});
