import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { httpTileFetch, ReplicaFollower, Replicator } from '../../lib/replica';
import { answerTileRequest } from '../../lib/tiles/http';
import { tempDir } from '../support/ledger';
import { until } from '../support/until';

// A round at an origin that answers slowly can last for hours (every fetch just within its
// timeout); closing the follower (a redeploy) must not wait for it, holding the directory.
describe('replica follower: close() during a round at an origin that does not answer', function () {
  this.timeout(20_000);
  const NAME = 'replica.close.test';
  const tmp = tempDir('replica-close-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  let gateway: Ledger;
  let server: http.Server;
  let url = '';
  /** Entry bundle requests the server holds unanswered. */
  const held: http.ServerResponse[] = [];

  before(async () => {
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: NAME, gatewayKey: key, blockRecords: 10, blockSeconds: 0 });
    await gateway.appendMany(Array.from({ length: 25 }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    server = http.createServer((req, res) => {
      const p = new URL(req.url ?? '/', 'http://x').pathname.slice('/log/'.length);
      // Everything but the entries, which never come.
      if (p.startsWith('tile/entries/')) return void held.push(res);
      void answerTileRequest(gateway, p, req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await gateway.close();
    tmp.cleanup();
  });

  it('ends the round in progress (its fetches cancelled) and releases the directory, instead of waiting for the fetch timeout', async () => {
    const dir = path.join(tmp.dir, 'replica');
    // A fetch timeout far beyond the test's: only cancelling ends the round in time.
    const follower = new ReplicaFollower({ url, dir, trustedKey: did, intervalSeconds: 3600, timeoutMs: 600_000 });
    const failures: string[] = [];
    follower.on('failure', (e: Error & { code?: string }) => failures.push(e.code ?? ''));
    follower.start();
    await until('the round to ask for an entry bundle', () => held.length > 0);
    await follower.close();
    assert.equal(follower.view().state, 'closed');
    // The directory is free: a new replicator opens it.
    const fetch = httpTileFetch(url);
    try {
      await (await Replicator.open(dir, { trustedKey: did, fetch })).close();
    } finally {
      await fetch.close();
    }
    assert.deepEqual(failures, [], 'a round cut short by close() is no failure to report');
    await assert.rejects(follower.catchUp(), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_CLOSED'));
  });
});
