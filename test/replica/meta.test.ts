import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { decodeMeta, metaValue } from '../../lib/ledger/layout';
import { verifierKeyString } from '../../lib/note/note';
import { httpTileFetch, Replicator } from '../../lib/replica';
import type { TileFetch } from '../../lib/tiles/verify';
import { tempDir } from '../support/ledger';
import { openRawDb } from '../support/raw-db';
import { startTileServer, type TileServer } from '../support/tile-server';

// The origin's meta is not signed: a new replica takes it from whoever answers first.

/** Opens (creating) the copy in `dir` of the origin whose gateway is `did` and catches up: all 25 records. */
async function catchesUpWhole(dir: string, did: string, fetch: TileFetch): Promise<void> {
  const replica = await Replicator.open(dir, { trustedKey: did, fetch });
  try {
    assert.equal((await replica.catchUp()).size, 25);
  } finally {
    await replica.close();
  }
}
describe('replica: the meta a new replica is created from', function () {
  this.timeout(30_000);
  const NAME = 'replica.meta.test';
  const tmp = tempDir('replica-meta-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  let gateway: Ledger;
  let server: TileServer;

  before(async () => {
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 10, blockSeconds: 0 });
    await gateway.appendMany(Array.from({ length: 25 }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });

  it("refuses (ERR_REPLICA_ORIGIN) a meta whose verifier key is not its name's and gateway's, writing nothing: the honest origin is then copied into the same directory", async () => {
    const dir = path.join(tmp.dir, 'replica');
    const honest = httpTileFetch(server.url);
    try {
      const meta = decodeMeta(await honest('iot-ledger/meta'));
      // The trusted name and gateway did:key, with another key's verifier: the checks on name and key pass.
      const forged = metaValue({ ...meta, verifier: verifierKeyString(NAME, generateKey('Ed25519')) });
      const hostile: TileFetch = (p, o) => (p === 'iot-ledger/meta' ? Promise.resolve(forged) : honest(p, o));
      await assert.rejects(Replicator.open(dir, { trustedKey: did, fetch: hostile }), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_ORIGIN') && /verifier key/.test(e.message));
      // Nothing was kept: the next open, from the honest origin, creates the copy and catches up.
      await catchesUpWhole(dir, did, honest);
    } finally {
      await honest.close();
    }
    const report = await auditLedger(dir, { trustedKey: did, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });
  it('creates the copy in an empty database (one whose creation was cut off before the meta was written) instead of failing to open it for ever', async () => {
    const dir = path.join(tmp.dir, 'empty');
    await (await openRawDb(dir, true)).close();
    const honest = httpTileFetch(server.url);
    try {
      await catchesUpWhole(dir, did, honest);
    } finally {
      await honest.close();
    }
  });
});
