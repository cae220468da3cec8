import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { openGatewayCount } from '../../lib/gateway';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { tileRequests } from '../../nodes/lib/tile-routes';
import { endServedTest, helper, ledgerNode, loadCapturingHttpNode, packNodes, startedTestRuntime } from './support';
import { listenLocally, type LocalServer } from '../support/local-server';
import { until } from '../support/until';

// A tile request that waits for its turn while its Ledger node is removed by a deploy: when
// its turn comes the node is closed and its ledger released; the request is refused, and
// nothing opens the removed node's ledger again.

/** The helper's deploy, as the editor's deploy does it (the runtime's setFlows). */
const deploy = (flows: object[], type = 'full'): Promise<void> =>
  (helper as unknown as { setFlows(f: object[], type: string): Promise<void> }).setFlows(flows, type);

interface Answer {
  status: number;
  body: string;
}

function request(port: number, path: string, from: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, localAddress: from }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks for `path` and stops reading at the first bytes: a body larger than the socket buffers keeps its turn. */
function stall(port: number, path: string, from: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n`));
    socket.once('data', () => {
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const POLL = { timeoutMs: 20_000, pollMs: 10 };
const FLOW = [ledgerNode('ledger', { ledgerName: 'gone', publishTiles: true, blockRecords: 1000 })];

describe('Ledger config: a tile request waiting while its ledger is removed', function () {
  this.timeout(60000);
  let userDir: string;
  let server: LocalServer;
  let port: number;
  before(async () => {
    userDir = await startedTestRuntime();
    const nodeApp = await loadCapturingHttpNode(
      packNodes(), FLOW);
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.ledger.appendMany(Array.from({ length: 256 }, (_, i) => ({ type: 'note', body: { i, pad: 'x'.repeat(60000) } })));
    await gw.ledger.seal();
    server = await listenLocally(nodeApp);
    port = server.port;
  });
  after(() => endServedTest(server, userDir));

  it('is refused with 503 when its turn comes, and the removed ledger stays closed', async () => {
    const A = '127.0.6.1';
    assert.equal(openGatewayCount(), 1);
    // A holds both its turns with clients that read nothing; its checkpoint request waits.
    const stalled = await Promise.all([stall(port, '/iot-ledger/tiles/gone/tile/entries/000', A), stall(port, '/iot-ledger/tiles/gone/tile/entries/000', A)]);
    let waiting: Promise<Answer>;
    try {
      waiting = request(port, '/iot-ledger/tiles/gone/checkpoint', A);
      await until('the request waiting', () => tileRequests.stats.waiting === 1, POLL);
      // The Ledger node is deployed away: it closes and its ledger is released.
      await deploy([]);
      assert.equal(openGatewayCount(), 0, 'the ledger is closed by the deploy');
    } finally {
      for (const s of stalled) s.destroy();
    }
    const answer = await waiting;
    assert.equal(answer.status, 503, answer.body);
    assert.equal(answer.body, 'ledger not open\n');
    await until('every turn given back', () => tileRequests.stats.active === 0 && tileRequests.stats.waiting === 0, POLL);
    assert.equal(openGatewayCount(), 0, 'no ledger was opened again for the removed node');
    // A path under a name no node publishes now is not the tile server's.
    assert.equal((await request(port, '/iot-ledger/tiles/gone/checkpoint', A)).status, 404);
  });

  it('is answered by the Ledger node deployed in its place when its turn comes', async () => {
    const A = '127.0.6.2';
    await deploy(FLOW);
    await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    const stalled = await Promise.all([stall(port, '/iot-ledger/tiles/gone/tile/entries/000', A), stall(port, '/iot-ledger/tiles/gone/tile/entries/000', A)]);
    let waiting: Promise<Answer>;
    try {
      waiting = request(port, '/iot-ledger/tiles/gone/checkpoint', A);
      await until('the request waiting', () => tileRequests.stats.waiting === 1, POLL);
      // The Ledger node is changed and deployed: the old one closes, a new one publishes the name.
      await deploy([{ ...FLOW[0], blockSeconds: 7200 }], 'nodes');
      await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    } finally {
      for (const s of stalled) s.destroy();
    }
    const answer = await waiting;
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.body, /^gone\n256\n/);
    await until('every turn given back', () => tileRequests.stats.active === 0 && tileRequests.stats.waiting === 0, POLL);
    assert.equal(openGatewayCount(), 1);
  });
});
