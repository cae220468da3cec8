import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { clientAddress } from '../../lib/guards/request-gate';
import { Ledger } from '../../lib/ledger';
import { answerTileRequest, TileRequestGate, type TileGateLimits } from '../../lib/tiles/http';
import { tempDir } from '../support/ledger';
import { until } from '../support/until';

// The tile server's byte rates over a real node:http server: a client address past its bytes per
// second (or every client, past the total) is answered 429 with Retry-After before anything is
// read for it, and served again once its bucket has refilled. The gate's clock is the test's.

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One GET on its own connection from `from` (any of 127.0.0.0/8 reaches the server on loopback), read whole. */
function get(port: number, p: string, from: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, localAddress: from }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const POLL = { timeoutMs: 20_000, pollMs: 5 };

const A = '127.0.6.1';
const B = '127.0.6.2';

describe('tiles: the HTTP tile server bounds the bytes per second it sends', function () {
  this.timeout(60000);
  const tmp = tempDir('tile-byte-rate-');
  let ledger: Ledger;
  let server: http.Server;
  let port: number;
  let gate: TileRequestGate;
  let clock = 1_000_000;
  /** Requests let through to answerTileRequest (which reads the ledger). */
  let reads = 0;
  /** Awaited before answerTileRequest, and the answer it started (a test holds a request there). */
  let beforeAnswer: ((res: http.ServerResponse) => Promise<void>) | undefined;
  let answered: Promise<void> = Promise.resolve();
  /** The size of entry bundle 000 (256 records of ~60 KB: 15 MB, not gzipped). */
  let bundle = 0;
  const BUNDLE = '/tile/entries/000';

  const withGate = (limits: Partial<TileGateLimits>): TileRequestGate => (gate = new TileRequestGate(limits, { now: () => clock }));

  before(async () => {
    ledger = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'byte-rate.test', gatewayKey: generateKey('Ed25519'), blockRecords: 1000, blockSeconds: 0 });
    await ledger.appendMany(Array.from({ length: 256 }, (_, i) => ({ type: 'note', body: { i, pad: 'x'.repeat(60000) } })));
    await ledger.seal();
    server = http.createServer((req, res) => {
      const p = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      gate.admit(
        res,
        (sent) => {
          reads++;
          const hold = beforeAnswer;
          answered = (hold ? hold(res) : Promise.resolve()).then(() => answerTileRequest(ledger, p, req, res, sent));
          return answered;
        },
        clientAddress(req),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    withGate({});
    bundle = (await get(port, BUNDLE, '127.0.6.9').then((a) => a.body)).length;
    assert.ok(bundle > 15_000_000, `bundle 000 is ${bundle} bytes`);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ledger.close();
    tmp.cleanup();
  });

  it("refuses a client address past its rate with 429 and Retry-After, reading nothing for it, while another address is served; once its budget has refilled it is served again", async () => {
    // A quarter of the bundle a second: one bundle puts A three seconds and a byte behind.
    const rate = Math.floor(bundle / 4);
    withGate({ maxBytesPerSecondPerClient: rate, maxBytesPerSecond: 100 * bundle });
    const first = await get(port, BUNDLE, A);
    assert.equal(first.status, 200);
    assert.equal(first.body.length, bundle);
    // Counted as the connection took the bytes: all of them once the client has read them.
    await until('the bundle counted', () => gate.stats.sentBytes === bundle, POLL);

    const readsBefore = reads;
    const refused = await get(port, BUNDLE, A);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['cache-control'], 'no-store');
    assert.equal(refused.body.toString(), 'ERR_OVERLOADED: too many tile bytes for this address per second; retry later\n');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isSafeInteger(retryAfter) && retryAfter >= 3, `Retry-After: ${String(refused.headers['retry-after'])}`);
    assert.equal(reads, readsBefore, 'nothing was read for the refused request');
    assert.equal(gate.stats.refusedRate, 1);

    // Another address has its own budget.
    const other = await get(port, BUNDLE, B);
    assert.equal(other.status, 200);
    assert.equal(other.body.length, bundle);

    // A second before its Retry-After, A is still behind; at it, A is served again.
    clock += (retryAfter - 1) * 1000;
    assert.equal((await get(port, '/checkpoint', A)).status, 429);
    clock += 1000;
    const again = await get(port, '/checkpoint', A);
    assert.equal(again.status, 200);
    assert.match(again.body.toString(), /^byte-rate\.test\n256\n/);
  });

  it('refuses every address once all of them together are past the total rate, until it has refilled', async () => {
    withGate({ maxBytesPerSecondPerClient: 100 * bundle, maxBytesPerSecond: Math.floor(bundle / 2) });
    assert.equal((await get(port, BUNDLE, A)).status, 200);
    await until('the bundle counted', () => gate.stats.sentBytes === bundle, POLL);
    const readsBefore = reads;
    const refused = await get(port, '/checkpoint', B);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.toString(), 'ERR_OVERLOADED: too many tile bytes per second; retry later\n');
    assert.equal(reads, readsBefore);
    clock += Number(refused.headers['retry-after']) * 1000;
    assert.equal((await get(port, '/checkpoint', B)).status, 200);
  });

  it('counts what a client that stops reading was sent, not the whole body: once it is gone, its address is not refused for the rest', async () => {
    withGate({ maxBytesPerSecondPerClient: bundle - 1, maxBytesPerSecond: 100 * bundle });
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: A }, () => s.write(`GET ${BUNDLE} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n`));
      s.once('data', () => {
        s.pause();
        resolve(s);
      });
      s.once('error', reject);
    });
    try {
      // The socket buffers take a few MB of the 15 MB; the rest is never sent.
      await until('some bytes counted', () => gate.stats.sentBytes > 0, POLL);
      assert.ok(gate.stats.sentBytes < bundle, `${gate.stats.sentBytes} of ${bundle} counted`);
    } finally {
      socket.destroy();
    }
    await until('the turn given back', () => gate.stats.active === 0, POLL);
    assert.ok(gate.stats.sentBytes < bundle - 1, `${gate.stats.sentBytes} counted`);
    assert.equal((await get(port, '/checkpoint', A)).status, 200, 'A was sent less than its rate');
  });

  it('counts the body read for a client gone before it was sent: closing each request at once does not read the ledger in a loop for free', async () => {
    withGate({ maxBytesPerSecondPerClient: bundle - 1, maxBytesPerSecond: 100 * bundle });
    // The client is gone by the time the bundle has been read (it closed right after asking).
    beforeAnswer = (res) => (res.destroyed ? Promise.resolve() : new Promise<void>((resolve) => res.once('close', () => resolve())));
    const readsBefore = reads;
    try {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: A }, () => {
        socket.write(`GET ${BUNDLE} HTTP/1.1\r\nHost: gateway\r\n\r\n`);
      });
      socket.on('error', () => undefined);
      await until('the request let in', () => reads === readsBefore + 1, POLL);
      socket.destroy();
      await answered;
    } finally {
      beforeAnswer = undefined;
    }
    assert.equal(gate.stats.sentBytes, bundle, 'the bundle read is counted');
    const refused = await get(port, '/checkpoint', A);
    assert.equal(refused.status, 429, 'A asked for more than its rate');
  });
});
