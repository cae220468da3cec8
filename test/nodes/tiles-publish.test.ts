import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { httpTileFetch, Replicator } from '../../lib/replica';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { tempDir } from '../support/ledger';
import { helper, ledgerNode, loadCapturingHttpNode, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('Ledger config: publishing tiles (RED.httpNode and a static directory)', function () {
  this.timeout(30000);
  let userDir: string;
  const tmp = tempDir('tiles-publish-');
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => {
    tmp.cleanup();
    stopTestRuntime(userDir, done);
  });
  afterEach(() => helper.unload());

  it('serves checkpoint, tiles and bundles under /iot-ledger/tiles/<name>/, writes static files, and replicas of both audit CLEAN', async () => {
    const staticDir = path.join(tmp.dir, 'static');
    // The helper gives nodes their own node HTTP app: catch it as a node module would see it.
    const nodeApp = await loadCapturingHttpNode(
      packNodes(), [ledgerNode('ledger', { ledgerName: 'room/one', publishTiles: true, tilesDir: staticDir, blockRecords: 100 })]);
    const config = helper.getNode('ledger') as unknown as LedgerConfigNode;
    const gw = await config.gateway();
    await gw.ledger.appendMany(Array.from({ length: 300 }, (_, i) => ({ type: 'note', body: { i } })));
    await gw.ledger.seal();
    const checkpointFile = path.join(staticDir, 'checkpoint');
    await until('the static checkpoint of 300 records', () => fs.existsSync(checkpointFile) && openCheckpoint(fs.readFileSync(checkpointFile, 'utf8')).size === 300);

    const server = await listen(nodeApp);
    try {
      const base = `${server.url}/iot-ledger/tiles/room/one/`;
      const res = await fetch(`${base}checkpoint`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await res.text(), (await gw.ledger.latestBlock())?.checkpoint, 'the stored note, as stored');
      const tile = await fetch(`${base}tile/0/000`);
      assert.equal(tile.headers.get('content-type'), 'application/octet-stream');
      assert.match(String(tile.headers.get('cache-control')), /immutable/);
      assert.equal((await tile.arrayBuffer()).byteLength, 8192);
      assert.equal((await fetch(`${base}tile/0/002`)).status, 404, 'a full tile the tree does not have yet');
      assert.equal((await fetch(`${server.url}/iot-ledger/tiles/other/checkpoint`)).status, 404, 'an unpublished ledger');

      const did = gw.ledger.gatewayDid;
      const viaHttp = await Replicator.open(path.join(tmp.dir, 'copy-http'), { trustedKey: did, fetch: httpTileFetch(base) });
      assert.equal((await viaHttp.catchUp()).size, 300);
      await viaHttp.close();
      assert.equal((await auditLedger(path.join(tmp.dir, 'copy-http'), { trustedKey: did, workers: 0 })).clean, true);
    } finally {
      await server.close();
    }
    const files = await listen((req, res) => {
      const p = path.join(staticDir, new URL(req.url ?? '/', 'http://x').pathname);
      if (!fs.existsSync(p) || !fs.statSync(p).isFile()) return void res.writeHead(404).end();
      res.writeHead(200).end(fs.readFileSync(p));
    });
    try {
      const did = gw.ledger.gatewayDid;
      const viaFiles = await Replicator.open(path.join(tmp.dir, 'copy-static'), { trustedKey: did, fetch: httpTileFetch(`${files.url}/`) });
      assert.equal((await viaFiles.catchUp()).size, 300);
      await viaFiles.close();
      assert.equal((await auditLedger(path.join(tmp.dir, 'copy-static'), { trustedKey: did, workers: 0 })).clean, true);
    } finally {
      await files.close();
    }
  });
});
