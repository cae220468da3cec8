import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { makeBlock } from '../../lib/ledger/blocks';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { verifierKeyString } from '../../lib/note/note';
import { httpTileFetch, Replicator, type Evidence } from '../../lib/replica';
import type { TileFetch } from '../../lib/tiles/verify';
import { tempDir } from '../support/ledger';
import { startTileServer, type TileServer } from '../support/tile-server';

// A replica walks the origin's blocks a window at a time (at most 32 block bundles, 8192 blocks)
// and copies each window's entries before it fetches the next: a long history of small blocks,
// or millions of one-record blocks a stolen key signed, is never held at once. The checks stay:
// the chain, each block against its entries, the copy's end against the checkpoint.

const NAME = 'block-window.test';
/** Block bundles a window holds at most (lib/replica/replicate.ts WINDOW_BUNDLES). */
const WINDOW_BUNDLES = 32;
/** One-record blocks: 68 block bundles, three windows. */
const BLOCKS = 2 * WINDOW_BUNDLES * 256 + 900;

const isBlocks = (p: string): boolean => p.startsWith('iot-ledger/blocks/');
const isEntries = (p: string): boolean => p.startsWith('tile/entries/');

describe('replica: the origin\'s blocks are copied a window at a time', function () {
  this.timeout(180000);
  const tmp = tempDir('replica-block-window-');
  const key: PrivateKey = generateKey('Ed25519');
  const did = keyToDid(key);
  let server: TileServer;
  let gateway: Ledger;
  let n = 0;

  before(async () => {
    gateway = await Ledger.open(path.join(tmp.dir, 'gateway'), { name: NAME, gatewayKey: key, blockRecords: 1, blockSeconds: 0 });
    for (let i = 0; i < BLOCKS; i += 1000) await gateway.appendMany(Array.from({ length: Math.min(1000, BLOCKS - i) }, (_, j) => ({ type: 'note', body: { n: i + j } })));
    assert.deepEqual([gateway.size, gateway.height], [BLOCKS, BLOCKS]);
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });

  /** A replica whose fetches are logged in order. */
  const replicator = (log: string[], fetch: TileFetch = httpTileFetch(server.url)): Promise<Replicator> =>
    Replicator.open(path.join(tmp.dir, `replica-${n++}`), {
      trustedKey: did,
      fetch: (p) => {
        log.push(p);
        return fetch(p);
      },
    });

  it(`fetches at most ${WINDOW_BUNDLES} block bundles before copying their entries, each bundle once; the copy audits CLEAN`, async () => {
    const log: string[] = [];
    const r = await replicator(log);
    assert.equal((await r.catchUp()).size, BLOCKS);
    await r.close();
    const firstEntries = log.findIndex(isEntries);
    assert.ok(firstEntries > 0);
    const before = log.slice(0, firstEntries).filter(isBlocks).length;
    assert.ok(before <= WINDOW_BUNDLES, `${before} block bundles fetched before the first entry bundle`);
    // Windows alternate with their entries: never more than a window of blocks ahead of the copy.
    let blocks = 0;
    let entries = 0;
    for (const p of log) {
      if (isBlocks(p)) blocks++;
      if (isEntries(p)) entries++;
      assert.ok(blocks <= entries + WINDOW_BUNDLES + 1, `${blocks} block bundles fetched by the ${entries}th entry bundle`);
    }
    const fetched = log.filter((p) => isBlocks(p) || isEntries(p));
    assert.equal(new Set(fetched).size, fetched.length, 'no bundle fetched twice');
    assert.equal(log.filter(isBlocks).length, Math.ceil(BLOCKS / 256));
    assert.equal(log.filter(isEntries).length, Math.ceil(BLOCKS / 256));
    const report = await auditLedger(r.store.dir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, BLOCKS);
  });

  it('a checkpoint that conflicts with the last block, found after several windows, is ERR_REPLICA_FORK with both signed checkpoints kept', async () => {
    // The gateway key signs a second tree of the same size: the served checkpoint.
    const last = await gateway.latestBlock();
    assert.ok(last);
    const other = makeBlock({ ...last.header, root: new Uint8Array(32).fill(7) }, NAME, key).info.checkpoint;
    const honest = httpTileFetch(server.url);
    const log: string[] = [];
    const r = await replicator(log, (p) => (p === 'checkpoint' ? Promise.resolve(Buffer.from(other)) : honest(p)));
    const err = await r.catchUp().then(
      () => assert.fail('the round succeeded'),
      (e: unknown) => e,
    );
    await r.close();
    assert.ok(isLedgerError(err, 'ERR_REPLICA_FORK'), String(err));
    const evidence = JSON.parse(fs.readFileSync(String(err.details?.file), 'utf8')) as Evidence;
    const vkey = verifierKeyString(NAME, key);
    const [ours, theirs] = [openCheckpoint(evidence.ours, vkey), openCheckpoint(evidence.theirs, vkey)];
    assert.deepEqual([ours.size, theirs.size], [BLOCKS, BLOCKS]);
    assert.notDeepEqual(ours.root, theirs.root);
    // The windows before the end were written (the origin's signed blocks, verified against their
    // entries): the evidence holds two signed trees of the same size, and the copy audits CLEAN.
    const report = await auditLedger(r.store.dir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });
});
