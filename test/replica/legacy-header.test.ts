import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { sha256 } from '../../lib/crypto/hash';
import { decodeCbor, encodeCbor } from '../../lib/encoding/codec';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { blockKey, blockValue, decodeBlockValue } from '../../lib/ledger/layout';
import { openCheckpoint, signCheckpoint } from '../../lib/note/checkpoint';
import { httpTileFetch, Replicator } from '../../lib/replica';
import { EVIDENCE_DIR } from '../../lib/replica/evidence';
import { decodeBlockBundle, encodeBlockBundle } from '../../lib/tiles/content';
import { tilePath } from '../../lib/tiles/path';
import type { TileFetch } from '../../lib/tiles/verify';
import { tempDir } from '../support/ledger';
import { openRawDb } from '../support/raw-db';
import { startTileServer, type TileServer } from '../support/tile-server';

// Checkpoints written before format 2 carry no `iot-ledger header` line: their block headers are
// not under the signature, so whoever serves the blocks can change those bytes.
describe('replica: blocks whose checkpoints predate the header line', function () {
  this.timeout(30_000);
  const NAME = 'replica.legacy.test';
  const tmp = tempDir('replica-legacy-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const gwDir = path.join(tmp.dir, 'gw');
  const repDir = path.join(tmp.dir, 'replica');
  let gateway: Ledger;
  let server: TileServer;
  const open = (): Promise<Ledger> => Ledger.open(gwDir, { name: NAME, gatewayKey: key, blockRecords: 10, blockSeconds: 0 });

  before(async () => {
    gateway = await open();
    await gateway.appendMany(Array.from({ length: 25 }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    await gateway.close();
    // What an earlier version wrote: the same checkpoints without the extension line.
    const db = await openRawDb(gwDir);
    for (let h = 0; h < 3; h++) {
      const block = decodeBlockValue((await db.get(blockKey(h)))!, h);
      const old = signCheckpoint({ ...openCheckpoint(block.checkpoint), extensions: [] }, NAME, key);
      await db.put(blockKey(h), blockValue({ ...block, checkpoint: old }));
    }
    await db.close();
    gateway = await open();
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });

  /** Block `h` of a served block bundle with its header's time changed and its hash recomputed; the checkpoint as signed. */
  const retimed = (bundle: Uint8Array, width: number, h: number): Uint8Array => {
    const raws = decodeBlockBundle(bundle, width);
    const block = decodeBlockValue(raws[h], h);
    const header = decodeCbor(block.header) as Record<string, unknown>;
    const bytes = encodeCbor({ ...header, time: (header.time as number) + 1 });
    raws[h] = blockValue({ header: bytes, hash: sha256(bytes), checkpoint: block.checkpoint });
    return encodeBlockBundle(raws);
  };

  it('a block served with other header bytes under the checkpoint the copy holds is a bad tile (no fork, no rollback, no evidence); the honest origin is then followed', async () => {
    const honest = httpTileFetch(server.url);
    try {
      const replica = await Replicator.open(repDir, { trustedKey: did, fetch: honest });
      assert.equal((await replica.catchUp()).size, 25);
      await replica.close();
      await gateway.appendMany(Array.from({ length: 5 }, (_, i) => ({ type: 'note', body: { i: 25 + i } })));
      await gateway.seal();

      // The copy's last block (2) changed, as the bundle of the origin's 4 blocks.
      const lastChanged: TileFetch = async (p, o) => {
        const body = await honest(p, o);
        return p === tilePath({ kind: 'blocks', level: 0, index: 0, width: 4 }) ? retimed(body, 4, 2) : body;
      };
      // A head (not signed) of 2 blocks, and block 1 changed in the bundle of 2.
      const lowHead: TileFetch = async (p, o) => {
        if (p === 'iot-ledger/head') return Buffer.from('{"height":2,"size":20}\n');
        const body = await honest(p, o);
        return p === tilePath({ kind: 'blocks', level: 0, index: 0, width: 2 }) ? retimed(body, 2, 1) : body;
      };
      for (const fetch of [lowHead, lastChanged]) {
        const r = await Replicator.open(repDir, { trustedKey: did, fetch });
        try {
          await assert.rejects(r.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_BAD_TILE') && /same signed checkpoint/.test(e.message));
        } finally {
          await r.close();
        }
      }
      assert.equal(fs.existsSync(path.join(repDir, EVIDENCE_DIR)), false, 'no evidence against the gateway');
      const again = await Replicator.open(repDir, { trustedKey: did, fetch: honest });
      try {
        assert.equal((await again.catchUp()).size, 30);
      } finally {
        await again.close();
      }
    } finally {
      await honest.close();
    }
    const report = await auditLedger(repDir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });
});
