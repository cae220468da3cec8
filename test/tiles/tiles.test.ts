import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { decodeBlockBundle, decodeEntryBundle } from '../../lib/tiles/content';
import { readResource } from '../../lib/tiles/source';
import { encodeTileIndex, parseTilePath, tilePath, treeTiles, type TileId } from '../../lib/tiles/path';
import { TileVerifier } from '../../lib/tiles/verify';
import { isLedgerError } from '../../lib/errors';
import { projectRoot } from '../support/paths';
import { tempDir } from '../support/ledger';
import { VECTOR_SIZE, vectorInput } from './fixture';

// An implementation of the hashing written from the C2SP tlog-tiles text and RFC 6962 §2.1,
// on purpose independent of lib/merkle and of the ledger's stored nodes:
//   MTH({d0}) = SHA-256(0x00 || d0); MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),
//   k the largest power of two smaller than n; tile n at level l holds, for i in [0, W),
//   MTH(D[(n * 256 + i) * 256**l : (n * 256 + i + 1) * 256**l]).
const sha = (...parts: Uint8Array[]): Buffer => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
function specMth(leaves: Buffer[], lo: number, hi: number): Buffer {
  if (hi - lo === 1) return leaves[lo];
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return sha(Buffer.from([1]), specMth(leaves, lo, lo + k), specMth(leaves, lo + k, hi));
}
function specTile(leaves: Buffer[], l: number, n: number, w: number): Buffer {
  const span = 256 ** l;
  const out: Buffer[] = [];
  for (let i = 0; i < w; i++) out.push(specMth(leaves, (n * 256 + i) * span, (n * 256 + i + 1) * span));
  return Buffer.concat(out);
}

describe('tiles: C2SP tlog-tiles paths', () => {
  it('encodes indexes as the spec shows', () => {
    assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
    assert.equal(encodeTileIndex(0), '000');
    assert.equal(encodeTileIndex(999), '999');
    assert.equal(encodeTileIndex(1000), 'x001/000');
    assert.equal(tilePath({ kind: 'tile', level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
    assert.equal(tilePath({ kind: 'tile', level: 2, index: 5, width: 17 }), 'tile/2/005.p/17');
    assert.equal(tilePath({ kind: 'entries', level: 0, index: 273, width: 112 }), 'tile/entries/273.p/112');
  });

  it('parses exactly what it encodes and refuses other spellings', () => {
    for (const id of [
      { kind: 'tile', level: 0, index: 1234067, width: 256 },
      { kind: 'tile', level: 63, index: 0, width: 1 },
      { kind: 'entries', level: 0, index: 1000, width: 255 },
      { kind: 'blocks', level: 0, index: 7, width: 3 },
    ] as TileId[])
      assert.deepEqual(parseTilePath(tilePath(id)), id);
    for (const bad of ['tile/00/000', 'tile/64/000', 'tile/0/1', 'tile/0/0000', 'tile/0/x000/001', 'tile/0/001/002', 'tile/0/000.p/0', 'tile/0/000.p/256', 'tile/0/000.p/01', 'tile/entries/', 'tile/0/000/', 'checkpoints'])
      assert.equal(parseTilePath(bad), undefined, bad);
  });

  it('lists the tiles of the spec examples (70,000 and 256 entries)', () => {
    const count = (size: number): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const t of treeTiles(size)) c[`${t.level}:${t.width === 256 ? 'full' : `p${t.width}`}`] = (c[`${t.level}:${t.width === 256 ? 'full' : `p${t.width}`}`] ?? 0) + 1;
      return c;
    };
    assert.deepEqual(count(70000), { '0:full': 273, '0:p112': 1, '1:full': 1, '1:p17': 1, '2:p1': 1 });
    assert.deepEqual(count(256), { '0:full': 1, '1:p1': 1 });
  });
});

describe('tiles: contents from the stored Merkle nodes', function () {
  this.timeout(120000);
  const { dir, cleanup } = tempDir('tiles-');
  let ledger: Ledger;
  let entries: Buffer[];
  let leaves: Buffer[];
  const get = async (p: string): Promise<Uint8Array> => {
    const r = await readResource(ledger, p);
    if (r.status !== 200) throw Object.assign(new Error(`${p}: ${r.status}`), { status: r.status });
    return r.body;
  };

  before(async () => {
    ledger = await Ledger.open(dir, { name: 'tiles.test', gatewayKey: generateKey('Ed25519'), blockRecords: 5000, blockSeconds: 0 });
    for (let i = 0; i < VECTOR_SIZE; i += 2000)
      await ledger.appendMany(Array.from({ length: Math.min(2000, VECTOR_SIZE - i) }, (_, j) => vectorInput(i + j)));
    await ledger.seal();
    entries = [];
    for await (const r of ledger.range(0)) entries.push(Buffer.from(r.bytes));
    leaves = entries.map((e) => sha(Buffer.from([0]), e));
  });
  after(async () => {
    await ledger.close();
    cleanup();
  });

  it('every tile of the checkpoint equals the from-spec recomputation', async () => {
    let n = 0;
    for (const t of treeTiles(VECTOR_SIZE)) {
      assert.ok(Buffer.from(await get(tilePath(t))).equals(specTile(leaves, t.level, t.index, t.width)), tilePath(t));
      n++;
    }
    assert.equal(n, 277);
    const checkpoint = Buffer.from(await get('checkpoint')).toString('utf8');
    assert.equal(checkpoint.split('\n')[2], specMth(leaves, 0, VECTOR_SIZE).toString('base64'));
  });

  it('equals Go golang.org/x/mod/sumdb/tlog tile data for the same tree, every width (test/tiles/go-vector.txt)', async () => {
    const lines = fs.readFileSync(path.join(projectRoot, 'test', 'tiles', 'go-vector.txt'), 'utf8').trim().split('\n');
    assert.equal(lines[0], `root ${specMth(leaves, 0, VECTOR_SIZE).toString('hex')}`);
    for (const line of lines.slice(1)) {
      const [l, n, w, digest] = line.split(' ');
      const p = tilePath({ kind: 'tile', level: Number(l), index: Number(n), width: Number(w) });
      assert.equal(sha(await get(p)).toString('hex'), digest, p);
    }
    assert.equal(lines.length, 405);
  });

  it('entry bundles hold the records\' canonical bytes, uint16 length-prefixed', async () => {
    const bundle = Buffer.from(await get('tile/entries/273.p/112'));
    let at = 0;
    for (let i = 0; i < 112; i++) {
      const len = bundle.readUInt16BE(at);
      assert.ok(bundle.subarray(at + 2, at + 2 + len).equals(entries[273 * 256 + i]));
      at += 2 + len;
    }
    assert.equal(at, bundle.length);
    // Decoded as copies by default, or as views into the bundle (what a replica takes).
    const copies = decodeEntryBundle(bundle, 112);
    const views = decodeEntryBundle(bundle, 112, true);
    for (let i = 0; i < 112; i++) {
      assert.ok(Buffer.from(copies[i]).equals(entries[273 * 256 + i]) && Buffer.from(views[i]).equals(entries[273 * 256 + i]), `entry ${i}`);
      assert.notEqual(copies[i].buffer, bundle.buffer);
      assert.equal(views[i].buffer, bundle.buffer);
    }
    assert.throws(() => decodeEntryBundle(bundle, 111, true), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'));
    assert.throws(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1), 112, true), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'));
    // A body of empty entries (2 bytes each) is refused at the first item past the width, not
    // after splitting all of it (a 64 MiB body from a hostile server was 32 Mi views, GBs of heap).
    for (const decode of [decodeEntryBundle, decodeBlockBundle])
      assert.throws(
        () => decode(new Uint8Array(64 << 10), 256, true),
        (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE') && /bundle holds more than 256 items/.test(e.message),
      );
  });

  it('does not serve what the checkpoint does not hold, nor empty tiles', async () => {
    for (const p of ['tile/0/274', 'tile/0/273', 'tile/0/273.p/113', 'tile/1/001', 'tile/2/000', 'tile/3/000.p/1', 'tile/entries/274.p/1', 'iot-ledger/blocks/000.p/15'])
      assert.equal((await readResource(ledger, p)).status, 404, p);
    assert.equal((await readResource(ledger, 'tile/0/273.p/5')).status, 200, 'an older partial width is still served');
  });

  it('the verifier accepts every entry under the signed checkpoint and refuses a changed tile or entry', async () => {
    const v = new TileVerifier(VECTOR_SIZE, specMth(leaves, 0, VECTOR_SIZE), get);
    for (const n of [0, 1, 150, 273]) {
      const got = await v.entries(n);
      assert.deepEqual(got.map((e) => Buffer.from(e)), entries.slice(n * 256, n * 256 + got.length));
    }
    const flip = (target: string) => async (p: string): Promise<Uint8Array> => {
      const b = Buffer.from(await get(p));
      if (p === target) b[b.length - 1] ^= 1;
      return b;
    };
    for (const [target, n] of [
      ['tile/0/005', 5],
      ['tile/1/000', 5],
      ['tile/entries/005', 5],
      ['tile/0/273.p/112', 273],
      ['tile/1/001.p/17', 273],
      ['tile/2/000.p/1', 2],
    ] as const) {
      const bad = new TileVerifier(VECTOR_SIZE, specMth(leaves, 0, VECTOR_SIZE), flip(target));
      await assert.rejects(bad.entries(n), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE'), target);
    }
  });
});

describe('tiles: every record a ledger accepts by default fits an entry bundle', () => {
  it('refuses a record of 65536 bytes (an entry bundle carries at most 65535) and serves one of 65535', async () => {
    const tmp = tempDir();
    const ledger = await Ledger.open(path.join(tmp.dir, 'l'), { name: 'tiles.size', gatewayKey: generateKey('Ed25519'), blockRecords: 1000, blockSeconds: 3600 });
    try {
      // The record of a one-character text is `base` bytes; a text of n >= 256 characters has a 3-byte head, not 1.
      const small = await ledger.append({ type: 'note', body: { s: 'x' } });
      const base = (await ledger.get(small.index)).bytes.length;
      const sized = (bytes: number) => ({ type: 'note', body: { s: 'x'.repeat(bytes - base - 1) } });
      await assert.rejects(ledger.append(sized(65536)), (e: unknown) => isLedgerError(e, 'ERR_RECORD_TOO_LARGE'));
      const fits = await ledger.append(sized(65535));
      assert.equal((await ledger.get(fits.index)).bytes.length, 65535);
      await ledger.seal();
      const r = await readResource(ledger, 'tile/entries/000.p/2');
      assert.equal(decodeEntryBundle(r.body, 2)[1].length, 65535);
    } finally {
      await ledger.close();
      tmp.cleanup();
    }
  });
});
