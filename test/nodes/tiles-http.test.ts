import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { helper, ledgerNode, packNodes, startTestRuntime, stopTestRuntime } from './support';

// The public tile server (RED.httpNode at /iot-ledger/tiles/<ledger>/) under hostile requests.

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection; the raw path is sent as given (no URL normalisation). */
function request(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Ledger config: the public tile server (HTTP)', function () {
  this.timeout(60000);
  let userDir: string;
  let server: http.Server;
  let port: number;
  before(async () => {
    userDir = await new Promise<string>((resolve) => {
      const dir = startTestRuntime(() => resolve(dir));
    });
    let nodeApp: http.RequestListener | undefined;
    const capture = (RED: { httpNode: http.RequestListener }): void => void (nodeApp = RED.httpNode);
    await helper.load([...packNodes(), capture], [ledgerNode('ledger', { ledgerName: 'room', publishTiles: true, blockRecords: 1000 })]);
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.ledger.appendMany(Array.from({ length: 300 }, (_, i) => ({ type: 'note', body: { i } })));
    await gw.ledger.seal();
    server = http.createServer(nodeApp);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await helper.unload();
    await new Promise<void>((resolve) => stopTestRuntime(userDir, resolve));
  });

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
});
