import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { MAX_ACTIVE_TILE_REQUESTS, MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT, MAX_TILE_REQUESTS_PER_CLIENT, MAX_WAITING_TILE_REQUESTS } from '../../lib/tiles/http';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { tileRequests } from '../../nodes/lib/tile-routes';
import { endServedTest, helper, ledgerNode, loadCapturingHttpNode, packNodes, startedTestRuntime } from './support';
import { listenLocally, type LocalServer } from '../support/local-server';
import { until } from '../support/until';

// The public tile server (RED.httpNode at /iot-ledger/tiles/<ledger>/) under hostile requests.

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request on its own connection; the raw path is sent as given (no URL normalisation).
 * `from` is the client's address: any of 127.0.0.0/8 reaches the server on loopback.
 */
function request(port: number, path: string, method = 'GET', headers: Record<string, string> = {}, from = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false, localAddress: from }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A client that asks for `path` and stops reading at the first bytes of the answer: a body
 * larger than the socket buffers then stays unsent, its response open.
 */
function stall(port: number, path: string, from = '127.0.0.1'): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n`));
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve({ socket, head: chunk.subarray(0, 200).toString('latin1') });
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`the connection for ${path} closed before any byte of the answer`)));
  });
}

const POLL = { timeoutMs: 20_000, pollMs: 10 };

/** Entry bundle 000 holds 256 records of ~60 KB: a 15 MB body, far more than loopback socket buffers take. */
const BIG_BUNDLE = '/iot-ledger/tiles/room/tile/entries/000';

describe('Ledger config: the public tile server (HTTP)', function () {
  this.timeout(60000);
  let userDir: string;
  let server: LocalServer;
  let port: number;
  before(async () => {
    userDir = await startedTestRuntime();
    const nodeApp = await loadCapturingHttpNode(
      packNodes(), [ledgerNode('ledger', { ledgerName: 'room', publishTiles: true, blockRecords: 1000 })]);
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.ledger.appendMany(Array.from({ length: 256 }, (_, i) => ({ type: 'note', body: { i, pad: 'x'.repeat(60000) } })));
    await gw.ledger.appendMany(Array.from({ length: 44 }, (_, i) => ({ type: 'note', body: { i } })));
    await gw.ledger.seal();
    server = await listenLocally(nodeApp);
    port = server.port;
  });
  after(() => endServedTest(server, userDir));

  it('answers a path that is not percent-encoded UTF-8 with 400 and a short text, no stack trace', async () => {
    for (const path of ['/iot-ledger/tiles/room/tile/0/%E0%A4%A', '/iot-ledger/tiles/%E0%A4%A', '/iot-ledger/tiles/room/checkpoint%ff']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await request(port, path, method);
        assert.equal(res.status, 400, `${method} ${path}`);
        assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
        if (method === 'GET') {
          assert.equal(res.body, 'ERR_INVALID_ARGUMENT: the path is not percent-encoded UTF-8\n');
          assert.doesNotMatch(res.body, /URIError|\bat |tile-routes/);
        }
      }
    }
    const ok = await request(port, '/iot-ledger/tiles/room/checkpoint');
    assert.equal(ok.status, 200, 'the server goes on answering');
    assert.match(ok.body, /^room\n300\n/);
  });

  it('sends Vary: accept-encoding with every entry bundle, gzipped or not, and not with other tiles', async () => {
    const bundle = '/iot-ledger/tiles/room/tile/entries/001.p/44';
    const gz = await request(port, bundle, 'GET', { 'accept-encoding': 'gzip, deflate' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'accept-encoding');
    for (const headers of [{}, { 'accept-encoding': 'identity' }] as Record<string, string>[]) {
      const plain = await request(port, bundle, 'GET', headers);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.headers.vary, 'accept-encoding', `plain bundle, request headers ${JSON.stringify(headers)}`);
      assert.notEqual(plain.body, gz.body);
    }
    for (const other of ['/iot-ledger/tiles/room/checkpoint', '/iot-ledger/tiles/room/tile/0/001.p/44']) {
      const res = await request(port, other, 'GET', { 'accept-encoding': 'gzip' });
      assert.equal(res.status, 200, other);
      assert.equal(res.headers['content-encoding'], undefined, other);
      assert.equal(res.headers.vary, undefined, other);
    }
  });

  it('marks its answers public (immutable tiles for a year, the checkpoint and meta for seconds), and private for a request with credentials', async () => {
    const immutable = ['/iot-ledger/tiles/room/tile/0/000', '/iot-ledger/tiles/room/tile/entries/001.p/44', '/iot-ledger/tiles/room/iot-ledger/blocks/000.p/1'];
    for (const p of immutable) {
      assert.equal((await request(port, p)).headers['cache-control'], 'public, max-age=31536000, immutable', p);
      const withCredentials = await request(port, p, 'GET', { authorization: 'Basic cmVwbGljYTpzM2NyZXQ=' });
      assert.equal(withCredentials.status, 200, p);
      assert.equal(withCredentials.headers['cache-control'], 'private, max-age=31536000, immutable', p);
      const withSession = await request(port, p, 'GET', { cookie: 'session=0f1e2d' });
      assert.equal(withSession.headers['cache-control'], 'private, max-age=31536000, immutable', p);
    }
    assert.equal((await request(port, '/iot-ledger/tiles/room/checkpoint')).headers['cache-control'], 'no-cache, max-age=2');
    // The meta changes when the ledger is migrated to a newer storage format: not cached for a year.
    assert.equal((await request(port, '/iot-ledger/tiles/room/iot-ledger/meta')).headers['cache-control'], 'no-cache, max-age=2');
    const checkpoint = await request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', { authorization: 'Bearer t' });
    assert.equal(checkpoint.headers['cache-control'], 'private, no-cache, max-age=2');
    assert.equal((await request(port, '/iot-ledger/tiles/room/tile/0/009', 'GET', { authorization: 'Bearer t' })).headers['cache-control'], 'no-store');
  });

  it(`answers at most ${MAX_ACTIVE_TILE_REQUESTS} requests at once, lets ${MAX_WAITING_TILE_REQUESTS} more wait their turn and refuses the rest with 503 and Retry-After`, async () => {
    const before = { ...tileRequests.stats };
    // Each from its own address (one address holds at most 2 turns: the next test).
    const stalled = await Promise.all(Array.from({ length: MAX_ACTIVE_TILE_REQUESTS }, (_, i) => stall(port, BIG_BUNDLE, `127.0.1.${i + 1}`)));
    const answers: Answer[] = [];
    const flood = Array.from({ length: MAX_WAITING_TILE_REQUESTS + 36 }, (_, i) =>
      request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', {}, `127.0.2.${i + 1}`).then((a) => {
        answers.push(a);
        return a;
      }),
    );
    try {
      for (const s of stalled) assert.match(s.head, /^HTTP\/1\.1 200 /, 'the big bundles are being sent');
      // Clients that do not read hold their turns: the next 64 wait, the 36 after them are refused now.
      await until('36 answers', () => answers.length >= 36, POLL);
      for (const a of answers) {
        assert.equal(a.status, 503);
        assert.equal(a.headers['retry-after'], '1');
        assert.equal(a.headers['cache-control'], 'no-store');
        assert.equal(a.body, 'ERR_OVERLOADED: too many tile requests at once; retry later\n');
      }
      await until('64 waiting', () => tileRequests.stats.waiting === MAX_WAITING_TILE_REQUESTS, POLL);
      assert.equal(answers.length, 36, 'nobody waiting was answered while the turns are held');
      assert.equal(tileRequests.stats.active, MAX_ACTIVE_TILE_REQUESTS);
      assert.equal(tileRequests.stats.refused - before.refused, 36);
    } finally {
      for (const s of stalled) s.socket.destroy();
    }
    // Turns given back: every request that waited is answered.
    const all = await Promise.all(flood);
    assert.equal(all.filter((a) => a.status === 200).length, MAX_WAITING_TILE_REQUESTS);
    assert.ok(all.filter((a) => a.status === 200).every((a) => a.body.startsWith('room\n300\n')));
    await until('every turn given back', () => tileRequests.stats.active === 0 && tileRequests.stats.waiting === 0, POLL);
    assert.ok(tileRequests.stats.peakActive <= MAX_ACTIVE_TILE_REQUESTS, `peak ${tileRequests.stats.peakActive}`);
  });

  it(`gives one client address at most ${MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT} turns and ${MAX_TILE_REQUESTS_PER_CLIENT} requests: its stalled connections leave the other turns to others`, async () => {
    const before = { ...tileRequests.stats };
    const A = '127.0.4.1';
    const B = '127.0.4.2';
    // A holds two turns with clients that read nothing, and sends 14 more requests: they wait.
    const stalled = await Promise.all(Array.from({ length: MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT }, () => stall(port, BIG_BUNDLE, A)));
    const fromA: Answer[] = [];
    const queued = Array.from({ length: MAX_TILE_REQUESTS_PER_CLIENT - MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT }, () =>
      request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', {}, A).then((a) => {
        fromA.push(a);
        return a;
      }),
    );
    try {
      for (const s of stalled) assert.match(s.head, /^HTTP\/1\.1 200 /, 'the big bundles are being sent');
      await until('A waiting', () => tileRequests.stats.waiting === MAX_TILE_REQUESTS_PER_CLIENT - MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT, POLL);
      assert.equal(tileRequests.stats.active, MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT, 'the turns left free are not given to A');
      // A's next request is refused at once; another address is answered at once, ahead of A's waiting ones.
      const refused = await request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', {}, A);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.headers['cache-control'], 'no-store');
      assert.equal(refused.body, 'ERR_OVERLOADED: too many tile requests from this address at once; retry later\n');
      assert.equal(tileRequests.stats.refusedClient - before.refusedClient, 1);
      for (let i = 0; i < 3; i++) {
        const other = await request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', {}, B);
        assert.equal(other.status, 200);
        assert.match(other.body, /^room\n300\n/);
      }
      assert.equal(fromA.length, 0, "none of A's waiting requests was answered while A holds its turns");
      assert.equal(tileRequests.stats.clients, 1, 'only A is counted: B was dropped once answered');
    } finally {
      for (const s of stalled) s.socket.destroy();
    }
    // A's turns given back: its waiting requests are answered, and no address is left counted.
    const all = await Promise.all(queued);
    assert.deepEqual([...new Set(all.map((a) => a.status))], [200]);
    await until('every turn given back', () => tileRequests.stats.active === 0 && tileRequests.stats.waiting === 0, POLL);
    assert.equal(tileRequests.stats.clients, 0);
  });

  it(`reads at most ${MAX_ACTIVE_TILE_REQUESTS} big bundles at once for clients that read them all, and serves every one`, async () => {
    tileRequests.stats.peakActive = 0;
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => request(port, BIG_BUNDLE, 'GET', { 'accept-encoding': 'gzip' }, `127.0.3.${i + 1}`)));
    for (const a of all) {
      assert.equal(a.status, 200);
      assert.equal(a.headers['content-encoding'], 'gzip');
    }
    assert.ok(tileRequests.stats.peakActive <= MAX_ACTIVE_TILE_REQUESTS, `peak ${tileRequests.stats.peakActive}`);
    assert.equal(tileRequests.stats.active, 0);
  });

  it('refuses an address past its bytes per second with 429 and Retry-After before it takes a turn, and goes on serving the others', async () => {
    // 1000 bytes a second: the gzipped 15 MB bundle (about 100 KB) puts the address minutes behind.
    const limits = tileRequests.setLimits({ maxBytesPerSecondPerClient: 1000 });
    try {
      const sentBefore = tileRequests.stats.sentBytes;
      const first = await request(port, BIG_BUNDLE, 'GET', { 'accept-encoding': 'gzip' }, '127.0.7.1');
      assert.equal(first.status, 200);
      await until('the bundle counted and its turn given back', () => tileRequests.stats.sentBytes - sentBefore === first.body.length && tileRequests.stats.active === 0, POLL);
      const answered = tileRequests.stats.answered;
      const refused = await request(port, BIG_BUNDLE, 'GET', {}, '127.0.7.1');
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers['retry-after']) > 1, `Retry-After: ${String(refused.headers['retry-after'])}`);
      assert.equal(refused.headers['cache-control'], 'no-store');
      assert.equal(refused.body, 'ERR_OVERLOADED: too many tile bytes for this address per second; retry later\n');
      assert.equal(tileRequests.stats.answered, answered, 'the refused request took no turn');
      const other = await request(port, '/iot-ledger/tiles/room/checkpoint', 'GET', {}, '127.0.7.2');
      assert.equal(other.status, 200);
      assert.match(other.body, /^room\n300\n/);
    } finally {
      tileRequests.setLimits(limits);
    }
  });

  it('cuts a client that stops reading once the send time is up, so it cannot keep a turn', async () => {
    // The send time runs from the turn, the read of the 15 MB bundle included: long enough for
    // that read on a loaded machine, or the bundle is cut before its first byte.
    const limits = tileRequests.setLimits({ maxActive: 1, timeoutMs: 3000 });
    const cut = tileRequests.stats.cut;
    try {
      const stalled = await stall(port, BIG_BUNDLE);
      try {
        assert.match(stalled.head, /^HTTP\/1\.1 200 /);
        // The only turn is held by a client that reads nothing: answered once the gateway has cut it.
        const next = await request(port, '/iot-ledger/tiles/room/checkpoint');
        assert.equal(next.status, 200);
        assert.equal(tileRequests.stats.cut - cut, 1);
      } finally {
        stalled.socket.destroy();
      }
    } finally {
      tileRequests.setLimits(limits);
    }
  });
});
