import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isLedgerError } from '../../lib/errors';
import { httpTileFetch } from '../../lib/replica';

interface Server {
  url: string;
  /** Authorization header of each request, by path. */
  auth: Map<string, string | undefined>;
  close(): Promise<void>;
}

async function serve(answer: (path: string, res: http.ServerResponse) => void): Promise<Server> {
  const auth = new Map<string, string | undefined>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    auth.set(p, req.headers.authorization);
    answer(p, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    auth,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('replica: tiles over HTTP (node:http client)', () => {
  let other: Server;
  let origin: Server;
  before(async () => {
    other = await serve((_p, res) => void res.writeHead(200).end('elsewhere'));
    origin = await serve((p, res) => {
      if (p === '/log/moved') return void res.writeHead(302, { location: 'here' }).end();
      if (p === '/log/here') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.from('tile bytes')));
      if (p === '/log/away') return void res.writeHead(307, { location: `${other.url}/x` }).end();
      if (p === '/log/loop') return void res.writeHead(302, { location: 'loop' }).end();
      if (p === '/log/nowhere') return void res.writeHead(302, { location: 'http://[' }).end();
      if (p === '/log/brotli') return void res.writeHead(200, { 'content-encoding': 'br' }).end('?');
      if (p === '/log/notgzip') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end('not gzip');
      res.writeHead(404).end();
    });
  });
  after(async () => {
    await origin.close();
    await other.close();
  });

  it('follows a redirect on the same origin with the credentials, and inflates gzip', async () => {
    const fetch = httpTileFetch(`${origin.url}/log`, { headers: { authorization: 'Basic dTpw' } });
    try {
      assert.equal(Buffer.from(await fetch('moved')).toString(), 'tile bytes');
      assert.equal(origin.auth.get('/log/here'), 'Basic dTpw');
      // Twice on the kept-alive connection.
      assert.equal(Buffer.from(await fetch('here')).toString(), 'tile bytes');
    } finally {
      await fetch.close();
    }
  });

  it('does not send the credentials to another origin it is redirected to', async () => {
    const fetch = httpTileFetch(`${origin.url}/log/`, { headers: { authorization: 'Basic dTpw' } });
    try {
      assert.equal(Buffer.from(await fetch('away')).toString(), 'elsewhere');
      assert.ok(other.auth.has('/x'));
      assert.equal(other.auth.get('/x'), undefined);
    } finally {
      await fetch.close();
    }
  });

  it('reports HTTP errors, redirect loops, a redirect to no URL, unknown encodings and bad gzip as ERR_REPLICA_FETCH', async () => {
    const fetch = httpTileFetch(`${origin.url}/log/`);
    try {
      await assert.rejects(fetch('missing'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 404);
      await assert.rejects(fetch('loop'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 302);
      await assert.rejects(fetch('nowhere'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH'));
      await assert.rejects(fetch('brotli'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /content-encoding br/.test(e.message));
      await assert.rejects(fetch('notgzip'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /does not inflate/.test(e.message));
    } finally {
      await fetch.close();
    }
    const closed = await serve(() => undefined);
    const url = closed.url;
    await closed.close();
    await assert.rejects(httpTileFetch(url)('checkpoint'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /cannot fetch/.test(e.message));
  });
});
