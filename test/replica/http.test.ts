import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { isLedgerError } from '../../lib/errors';
import { httpTileFetch } from '../../lib/replica';
import { until } from '../support/until';
import { maxResourceBytes, MAX_SMALL_RESOURCE_BYTES, MAX_TILE_BODY_BYTES, retryWaitMs } from '../../lib/replica/http';

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

  describe('a 503 (tile server overloaded)', () => {
    let busy: Server;
    /** Requests seen, by path. */
    const seen = new Map<string, number>();
    before(async () => {
      busy = await serve((p, res) => {
        const n = (seen.get(p) ?? 0) + 1;
        seen.set(p, n);
        const overloaded = (retryAfter: string): void =>
          void res.writeHead(503, { 'retry-after': retryAfter, 'content-type': 'text/plain' }).end('ERR_OVERLOADED: too many tile requests at once; retry later\n');
        // 503 twice, then the tile.
        if (p === '/log/twice') return n <= 2 ? overloaded('0') : void res.writeHead(200).end('tile after 503');
        // Always overloaded.
        if (p === '/log/always') return overloaded('0');
        // Asks for an hour: the wait is capped.
        if (p === '/log/hour') return n === 1 ? overloaded('3600') : void res.writeHead(200).end('tile after an hour');
        // Asks for an hour, every time.
        if (p === '/log/forever') return overloaded('3600');
        // Past the tile server's byte rate for this address once (429), then the tile.
        if (p === '/log/rate')
          return n === 1
            ? void res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' }).end('ERR_OVERLOADED: too many tile bytes from this address per second; retry later\n')
            : void res.writeHead(200).end('tile after 429');
        // Always past it.
        if (p === '/log/rate-always') return void res.writeHead(429, { 'retry-after': '0' }).end();
        res.writeHead(404).end();
      });
    });
    after(() => busy.close());

    it('asks again after a 503 and returns the tile the server then answers', async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`);
      try {
        assert.equal(Buffer.from(await fetch('twice')).toString(), 'tile after 503');
        assert.equal(seen.get('/log/twice'), 3);
      } finally {
        await fetch.close();
      }
    });

    it('fails with ERR_REPLICA_FETCH (status 503) after 3 retries, 4 requests in all', async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`);
      try {
        await assert.rejects(
          fetch('always'),
          (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 503 && e.details.retries === 3 && /after 3 retries/.test(e.message),
        );
        assert.equal(seen.get('/log/always'), 4);
      } finally {
        await fetch.close();
      }
      const once = httpTileFetch(`${busy.url}/log/`, { retries503: 0 });
      try {
        await assert.rejects(once('always'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 503);
        assert.equal(seen.get('/log/always'), 5);
      } finally {
        await once.close();
      }
    });

    it('asks again after a 429 (the byte rate of its address spent) as after a 503, a bounded number of times', async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`);
      try {
        assert.equal(Buffer.from(await fetch('rate')).toString(), 'tile after 429');
        assert.equal(seen.get('/log/rate'), 2);
        await assert.rejects(fetch('rate-always'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 429 && e.details.retries === 3);
        assert.equal(seen.get('/log/rate-always'), 4);
      } finally {
        await fetch.close();
      }
    });

    it("ties no fetch's cancel signal to a signal that outlives it (AbortSignal.any keeps a reference in each source signal until that one aborts)", async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`);
      const any = AbortSignal.any.bind(AbortSignal);
      /** The signals combined with each fetch's cancel signal, by fetch. */
      const sources: Set<AbortSignal>[] = [];
      AbortSignal.any = (signals: Iterable<AbortSignal>): AbortSignal => {
        const list = [...signals];
        for (const sig of list) sources[sources.length - 1]?.add(sig);
        return any(list);
      };
      try {
        for (let i = 0; i < 3; i++) {
          sources.push(new Set());
          const cancel = new AbortController();
          // Three 429s answered, each waited for with the fetch's cancel signal.
          await assert.rejects(fetch('rate-always', { signal: cancel.signal }), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.details?.status === 429);
          sources[i]?.delete(cancel.signal);
        }
      } finally {
        AbortSignal.any = any;
        await fetch.close();
      }
      const [a, b, c] = sources as [Set<AbortSignal>, Set<AbortSignal>, Set<AbortSignal>];
      const shared = [...a].filter((sig) => b.has(sig) || c.has(sig));
      assert.equal(shared.length, 0, 'a signal combined with the cancel signals of several fetches gains a reference per retry for as long as it lives');
    });

    it('caps the wait a Retry-After asks for', async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`, { maxRetryWaitMs: 10 });
      try {
        assert.equal(Buffer.from(await fetch('hour')).toString(), 'tile after an hour');
      } finally {
        await fetch.close();
      }
    });

    it('close() ends a fetch waiting to ask again', async () => {
      const fetch = httpTileFetch(`${busy.url}/log/`);
      const outcome = assert.rejects(fetch('forever'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /closed/.test(e.message));
      while ((seen.get('/log/forever') ?? 0) < 1) await new Promise((r) => setTimeout(r, 5));
      await fetch.close();
      await outcome;
      assert.equal(seen.get('/log/forever'), 1);
    });

    it('reads Retry-After as seconds or an HTTP-date, 1 s when absent or unreadable, within [0, max]', () => {
      const now = Date.parse('2026-01-01T00:00:00Z');
      assert.equal(retryWaitMs('2', 5000, now), 2000);
      assert.equal(retryWaitMs('3600', 5000, now), 5000);
      assert.equal(retryWaitMs(undefined, 5000, now), 1000);
      assert.equal(retryWaitMs('soon', 5000, now), 1000);
      assert.equal(retryWaitMs('Thu, 01 Jan 2026 00:00:03 GMT', 5000, now), 3000);
      assert.equal(retryWaitMs('Wed, 31 Dec 2025 00:00:00 GMT', 5000, now), 0);
    });
  });
  describe('a body longer than its resource can be', () => {
    /** Bytes the endless server had handed to its connection when it closed, by path. */
    const sent = new Map<string, number>();
    let endless: Server;
    before(async () => {
      endless = await serve((p, res) => {
        // A gzip body: 64 KiB of zeros, as a tile of one hash (32 bytes) or as the checkpoint.
        if (p === '/log/tile/0/000.p/1' || p === '/log/zeros') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(64 * 1024)));
        // Anything else: 200, then bytes for ever (as fast as the client takes them).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        let n = 0;
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk)) n += chunk.length;
        };
        res.on('drain', pump);
        res.on('close', () => sent.set(p, n));
        pump();
      });
    });
    after(() => endless.close());

    it('bounds each resource by what it can hold: hash tiles by their width, entry bundles by 65537 bytes an entry, the checkpoint, head and meta by 1 MiB', () => {
      assert.equal(maxResourceBytes('tile/0/000'), 256 * 32);
      assert.equal(maxResourceBytes('tile/2/x001/234.p/7'), 7 * 32);
      assert.equal(maxResourceBytes('tile/entries/000'), 256 * 65537);
      assert.equal(maxResourceBytes('tile/entries/003.p/1'), 65537);
      for (const p of ['checkpoint', 'iot-ledger/head', 'iot-ledger/meta']) assert.equal(maxResourceBytes(p), MAX_SMALL_RESOURCE_BYTES);
      assert.equal(maxResourceBytes('iot-ledger/blocks/000'), MAX_TILE_BODY_BYTES);
      assert.equal(maxResourceBytes('something/else'), MAX_TILE_BODY_BYTES);
    });

    it('cuts an endless entry bundle off past what its entries can hold, not at 64 MiB (8 are fetched at once)', async () => {
      const fetch = httpTileFetch(`${endless.url}/log/`);
      try {
        await assert.rejects(
          fetch('tile/entries/000.p/1'),
          (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.message.includes(`larger than ${65537} bytes`),
        );
        await assert.rejects(fetch('checkpoint'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && e.message.includes(`larger than ${MAX_SMALL_RESOURCE_BYTES} bytes`));
      } finally {
        await fetch.close();
      }
      await until(() => 'the server to see both connections closed', () => sent.has('/log/tile/entries/000.p/1') && sent.has('/log/checkpoint'));
      // What the server handed over before the connection closed: the bound and what the sockets buffer, far from 64 MiB.
      for (const p of ['/log/tile/entries/000.p/1', '/log/checkpoint']) assert.ok((sent.get(p) ?? 0) < 32 * 1024 * 1024, `${p}: ${sent.get(p)} bytes sent`);
    });

    it('inflates a gzip body only up to what the resource can hold', async () => {
      const fetch = httpTileFetch(`${endless.url}/log/`);
      try {
        await assert.rejects(fetch('tile/0/000.p/1'), (e: unknown) => isLedgerError(e, 'ERR_REPLICA_FETCH') && /does not inflate/.test(e.message));
        // The same body where 64 MiB may come (a path the fetch does not know) inflates whole.
        assert.equal((await fetch('zeros')).length, 64 * 1024);
      } finally {
        await fetch.close();
      }
    });
  });
});
