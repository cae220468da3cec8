import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { startTileServer, type TileServer } from '../support/tile-server';
import { tempDir } from '../support/ledger';

// A deploy closes the ledger under the tile requests being answered. A request whose ledger
// closes while it is read is answered as one that came a moment later: 503 'ledger not open'
// with Retry-After (a replica asks again), not a 500 that fails the replica's round.

describe('tiles: a ledger closed while a request is read', () => {
  const tmp = tempDir();
  const gatewayKey = generateKey('Ed25519');
  const open = () => Ledger.open(path.join(tmp.dir, 'l'), { name: 'tiles.closing', gatewayKey, blockRecords: 1000, blockSeconds: 3600 });
  /** The ledger, reopened, closes once a request has read its latest block, before the tile is read. */
  const openClosing = async (): Promise<Ledger> => {
    const l = await open();
    const latestBlock = l.latestBlock.bind(l);
    l.latestBlock = async () => {
      const last = await latestBlock();
      await l.close();
      return last;
    };
    return l;
  };
  let ledger: Ledger;
  let server: TileServer;
  before(async () => {
    ledger = await open();
    await ledger.appendMany(Array.from({ length: 300 }, (_, i) => ({ type: 'note', body: { i } })));
    await ledger.seal();
    server = await startTileServer(ledger);
  });
  after(async () => {
    await server.close();
    await ledger.close();
    tmp.cleanup();
  });

  it('answers 503 with Retry-After, not 500, for every kind of resource', async () => {
    const served = await fetch(`${server.url}tile/entries/000`);
    assert.equal(served.status, 200, 'served while open');
    await served.arrayBuffer();
    await ledger.close();
    for (const p of ['tile/entries/001.p/44', 'tile/0/000', 'tile/1/000.p/1', 'iot-ledger/blocks/000.p/1', 'iot-ledger/meta']) {
      ledger = await openClosing();
      server.ledger = ledger;
      const res = await fetch(`${server.url}${p}`);
      assert.equal(ledger.closed, true, p);
      assert.equal(res.status, 503, `${p}: ${res.status} ${await res.clone().text()}`);
      assert.equal(res.headers.get('retry-after'), '1', p);
      assert.equal(res.headers.get('cache-control'), 'no-store', p);
      assert.equal(await res.text(), 'ledger not open\n', p);
    }
    // A request for a ledger closed before it came: the same answer.
    const late = await fetch(`${server.url}checkpoint`);
    assert.equal(late.status, 503);
    assert.equal(late.headers.get('retry-after'), '1');
    assert.equal(await late.text(), 'ledger not open\n');
  });

  it('a read that fails on an open ledger is a 500 with no-store, like every error (FORMAT.md)', async () => {
    if (ledger.closed) ledger = await open();
    server.ledger = ledger;
    const latestBlock = ledger.latestBlock.bind(ledger);
    ledger.latestBlock = () => Promise.reject(new Error('the store failed'));
    try {
      for (const p of ['tile/0/000.p/1', 'checkpoint']) {
        const res = await fetch(`${server.url}${p}`);
        assert.equal(ledger.closed, false, p);
        assert.equal(res.status, 500, `${p}: ${res.status} ${await res.clone().text()}`);
        assert.equal(res.headers.get('cache-control'), 'no-store', p);
        assert.equal(await res.text(), 'ERR_INTERNAL\n', p);
      }
    } finally {
      ledger.latestBlock = latestBlock;
    }
  });
});
