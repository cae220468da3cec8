import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { claimPostBodies, claimsOn, isClaimed, targetPath, type RequestEvents } from '../../nodes/lib/claimed-body';
import { mountWitnessRoutes } from '../../nodes/lib/witness-http';

// A POST claimed on the HTTP server is left unread by body parsers that run before its route
// (as Node-RED's admin app's do for httpNode routes), and only that POST.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express = require(require.resolve('express', { paths: [require.resolve('node-red')] })) as {
  (): http.RequestListener & { use(...h: unknown[]): void; post(path: string, h: unknown): void };
  json(o?: object): unknown;
};

describe('claimed request bodies', () => {
  it('takes the path of a request target as Express routes it', () => {
    assert.equal(targetPath('/w/add-checkpoint?x=1'), '/w/add-checkpoint');
    assert.equal(targetPath('/w/add-checkpoint#f'), '/w/add-checkpoint');
    assert.equal(targetPath('http://host:1880/w/add-checkpoint?x'), '/w/add-checkpoint');
    assert.equal(targetPath('http://host'), '/');
    assert.equal(targetPath('*'), '*');
  });

  it('leaves the stream of a claimed POST to its route, past a JSON parser before it; others are parsed', async () => {
    const app = express();
    app.use(express.json({ limit: '5mb' }));
    const seen: { path: string; claimed: boolean; body: unknown; raw: string }[] = [];
    app.use((req: http.IncomingMessage & { body?: unknown; path?: string }, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      const done = (): void => {
        seen.push({ path: String(req.path), claimed: isClaimed(req), body: req.body, raw: Buffer.concat(chunks).toString() });
        res.end('ok');
      };
      // A stream a parser read has ended already.
      if (req.readableEnded) return done();
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', done);
    });
    const server = http.createServer(app);
    claimPostBodies(server, 'mine', (p) => p === '/mine');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const post = (target: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: target, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end('{"a":1}');
      });
    try {
      await post('/mine?q=1');
      await post('http://127.0.0.1/mine');
      await post('/other');
    } finally {
      server.closeAllConnections();
      server.close();
    }
    assert.deepEqual(seen, [
      { path: '/mine', claimed: true, body: undefined, raw: '{"a":1}' },
      { path: '/mine', claimed: true, body: undefined, raw: '{"a":1}' },
      { path: '/other', claimed: false, body: { a: 1 }, raw: '' },
    ]);
  });

  it('holds one claim for a witness route mounted again at every deploy, not one more per deploy', () => {
    let listener: ((req: http.IncomingMessage) => void) | undefined;
    const server: RequestEvents = { prependListener: (_event, l) => (listener = l) };
    const RED = { httpNode: { post: () => undefined, get: () => undefined }, server, settings: { httpNodeRoot: '/' } };
    const target = { handle: () => Promise.resolve({ status: 200, contentType: 'text/plain', body: '' }) };
    const claimed = (url: string): boolean => {
      const req = { method: 'POST', url } as http.IncomingMessage;
      listener?.(req);
      return isClaimed(req);
    };
    for (let deploy = 0; deploy < 5; deploy++) {
      const unmount = mountWitnessRoutes(RED, '/claims-test', target);
      assert.ok(claimed('/claims-test/add-checkpoint'));
      unmount();
    }
    assert.equal(claimsOn(server), 1);
    assert.ok(!claimed('/claims-test/add-checkpoint'), 'no witness is deployed there now');
  });
});
