import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { bytesEqual } from '../../lib/encoding/bytes';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { encodeEntryBundle, encodeHashTile, MAX_ENTRY_BYTES } from '../../lib/tiles/content';
import { readEntryBundle, readHashTile } from '../../lib/tiles/read';
import { RecentLeaves, recentLeaves } from '../../lib/tiles/recent';
import { readResource } from '../../lib/tiles/source';
import { tempDir } from '../support/ledger';

describe('tiles: recent leaves served from memory', () => {
  const tmp = tempDir('recent-');
  after(() => tmp.cleanup());

  it('keeps one contiguous run of at most its capacity, and answers only ranges it holds', () => {
    const r = new RecentLeaves(8);
    const hash = (i: number): Uint8Array => new Uint8Array(32).fill(i);
    const leaf = (i: number) => ({ bytes: Uint8Array.of(i, i), leaf: hash(i) });
    const bundle = (...ns: number[]): Uint8Array => encodeEntryBundle(ns.map((n) => Uint8Array.of(n, n)));
    const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && bytesEqual(a, b);
    r.add(5, [5, 6, 7].map(leaf));
    assert.ok(same(r.entryBundle(5, 8), bundle(5, 6, 7)));
    assert.ok(same(r.entryBundle(6, 7), bundle(6)));
    assert.ok(same(r.hashTile(6, 8), encodeHashTile([hash(6), hash(7)])));
    assert.equal(r.entryBundle(4, 6), undefined);
    assert.equal(r.hashTile(7, 9), undefined);
    r.add(8, [8, 9, 10, 11, 12, 13, 14].map(leaf));
    const held = Array.from({ length: 20 }, (_, i) => i).filter((i) => r.entryBundle(i, i + 1) !== undefined);
    assert.ok(held.length <= 8 && held[held.length - 1] === 14, JSON.stringify(held));
    assert.deepEqual(held, Array.from({ length: held.length }, (_, i) => 15 - held.length + i), 'contiguous, newest kept');
    assert.ok(same(r.entryBundle(held[0], 15), bundle(...held)));
    r.add(100, [leaf(100)]);
    assert.equal(r.entryBundle(14, 15), undefined, 'a gap starts a new run');
    assert.ok(same(r.entryBundle(100, 101), bundle(100)));
    // Ranges are answered within one tile (what a tile request asks for).
    const tiles = new RecentLeaves(1000);
    tiles.add(250, Array.from({ length: 10 }, (_, i) => leaf(250 + i)));
    assert.ok(same(tiles.entryBundle(250, 256), bundle(250, 251, 252, 253, 254, 255)));
    assert.ok(same(tiles.hashTile(256, 260), encodeHashTile([256, 257, 258, 259].map(hash))));
    // Also bounded in bytes: 10 records of 400 bytes under a 1000-byte budget keep at most 2.
    const small = new RecentLeaves(100, 1000);
    small.add(0, Array.from({ length: 10 }, () => ({ bytes: new Uint8Array(400), leaf: new Uint8Array(32) })));
    const kept = Array.from({ length: 10 }, (_, i) => i).filter((i) => small.entryBundle(i, i + 1) !== undefined);
    assert.ok(kept.length <= 2 && kept.includes(9), JSON.stringify(kept));
    // A record no entry bundle can carry: nothing up to it is served from memory.
    const big = new RecentLeaves(100);
    big.add(0, [leaf(0), { bytes: new Uint8Array(MAX_ENTRY_BYTES + 1), leaf: hash(1) }, leaf(2)]);
    assert.equal(big.entryBundle(0, 1), undefined);
    assert.equal(big.entryBundle(1, 2), undefined);
    assert.ok(same(big.entryBundle(2, 3), bundle(2)));
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
      assert.equal(cache.entryBundle(0, 1), undefined);
      assert.ok(cache.entryBundle(1, 256) && cache.entryBundle(256, 512) && cache.hashTile(512, 601), 'records appended since are held');
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
