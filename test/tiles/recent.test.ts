import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { bytesEqual } from '../../lib/encoding/bytes';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { readEntryBundle, readHashTile } from '../../lib/tiles/read';
import { RecentLeaves, recentLeaves } from '../../lib/tiles/recent';
import { readResource } from '../../lib/tiles/source';
import { tempDir } from '../support/ledger';

describe('tiles: recent leaves served from memory', () => {
  const tmp = tempDir('recent-');
  after(() => tmp.cleanup());

  it('keeps one contiguous run of at most its capacity, and answers only ranges it holds', () => {
    const r = new RecentLeaves(8);
    const leaf = (i: number) => ({ bytes: Uint8Array.of(i), leaf: Uint8Array.of(i, i) });
    r.add(5, [5, 6, 7].map(leaf));
    assert.deepEqual(r.range(5, 8)?.map((l) => l.bytes[0]), [5, 6, 7]);
    assert.equal(r.range(4, 6), undefined);
    r.add(8, [8, 9, 10, 11, 12, 13, 14].map(leaf));
    const held = Array.from({ length: 20 }, (_, i) => i).filter((i) => r.range(i, i + 1) !== undefined);
    assert.ok(held.length <= 8 && held[held.length - 1] === 14, JSON.stringify(held));
    assert.deepEqual(held, Array.from({ length: held.length }, (_, i) => 15 - held.length + i), 'contiguous, newest kept');
    r.add(100, [leaf(100)]);
    assert.equal(r.range(14, 15), undefined, 'a gap starts a new run');
    assert.equal(r.range(100, 101)?.[0].bytes[0], 100);
    // Also bounded in bytes: 10 records of 400 bytes under a 1000-byte budget keep at most 2.
    const small = new RecentLeaves(100, 1000);
    small.add(0, Array.from({ length: 10 }, () => ({ bytes: new Uint8Array(400), leaf: new Uint8Array(32) })));
    const kept = Array.from({ length: 10 }, (_, i) => i).filter((i) => small.range(i, i + 1) !== undefined);
    assert.ok(kept.length <= 2 && kept.includes(9), JSON.stringify(kept));
  });

  it('serves the same bytes as the disk for level-0 tiles and entry bundles', async () => {
    const ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'recent.test', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    try {
      await ledger.appendMany([{ type: 'note', body: { before: true } }]);
      await ledger.seal();
      await readResource(ledger, 'checkpoint'); // starts the cache: record 0 is only on disk
      for (let i = 0; i < 600; i += 50) await ledger.appendMany(Array.from({ length: 50 }, (_, j) => ({ type: 'note', body: { n: i + j } })));
      await ledger.seal();
      await new Promise((r) => setImmediate(r));
      const cache = recentLeaves(ledger);
      assert.equal(cache.range(0, 1), undefined);
      assert.ok(cache.range(1, 601), 'records appended since are held');
      for (const [p, disk] of [
        ['tile/entries/001', () => readEntryBundle(ledger.database, 1, 256)],
        ['tile/0/001', () => readHashTile(ledger.database, 0, 1, 256)],
        ['tile/entries/002.p/89', () => readEntryBundle(ledger.database, 2, 89)],
        ['tile/0/002.p/89', () => readHashTile(ledger.database, 0, 2, 89)],
        ['tile/entries/000', () => readEntryBundle(ledger.database, 0, 256)],
      ] as const) {
        const served = await readResource(ledger, p);
        assert.equal(served.status, 200, p);
        assert.ok(bytesEqual(served.body, await disk()), p);
      }
    } finally {
      await ledger.close();
    }
  });
});
