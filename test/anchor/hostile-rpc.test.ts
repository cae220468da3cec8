import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Anchorer, MAX_ANCHORER_RESPONSE_BYTES } from '../../lib/anchor';
import type { LedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import { gatewayKey, tempDir } from '../support/ledger';
import { until } from '../support/until';

/** eth_chainId's answer for the configured chain: everything before it is what makes it hostile. */
const reply = (id: unknown): string => JSON.stringify({ jsonrpc: '2.0', id, result: '0x7a69' });

type Answer = (res: http.ServerResponse, id: unknown) => void;

// A JSON-RPC endpoint the user configured that turned hostile: it answers eth_chainId (the
// anchorer's first request) as `answer` says.
async function hostileRpc(answer: Answer): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(res, (JSON.parse(Buffer.concat(chunks).toString()) as { id: unknown }).id));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('anchor: a hostile JSON-RPC endpoint', function () {
  this.timeout(20000);
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** An anchorer of `gw` against the endpoint at `rpcUrl` (no real chain: its first look fails or is held). */
  const anchorerOn = (gw: Gateway, rpcUrl: string, rpcTimeoutMs: number): Anchorer =>
    new Anchorer(gw, { rpcUrl, chainId: 31337, contract: `0x${'ab'.repeat(20)}`, privateKey: `0x${'4c'.repeat(32)}`, pollSeconds: 60, rpcTimeoutMs });

  /** The anchorer's first error against this endpoint (a wait without end fails on the test's timeout). */
  async function firstError(answer: Answer): Promise<{ error: LedgerError }> {
    const rpc = await hostileRpc(answer);
    const t = tempDir('anchor-hostile-');
    const gw = await Gateway.open(t.dir, { name: 'hostile.test/a', gatewayKey, blockRecords: 5, blockSeconds: 0 });
    const anchorer = anchorerOn(gw, rpc.url, 1000);
    cleanups.push(
      () => t.cleanup(),
      () => gw.close(),
      () => anchorer.close(),
      () => rpc.close(),
    );
    const error = new Promise<LedgerError>((r) => anchorer.once('error', r));
    anchorer.start();
    return { error: await error };
  }

  it('an answer dripped a byte at a time is given up after the request timeout (ERR_ANCHOR_RPC), not waited on forever', async () => {
    const { error } = await firstError((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(drip));
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
  });

  it('close() cuts off the request in flight to an endpoint that holds it, and reports no error for it', async () => {
    // A redeploy must not wait on the endpoint (Node-RED gives a node 15 s to close), nor the
    // closed anchorer go on with its look (and record an anchor) after it.
    let asked!: () => void;
    const held = new Promise<void>((r) => (asked = r));
    let cut = false;
    const rpc = await hostileRpc((res) => {
      res.on('close', () => (cut = true));
      asked();
    });
    const t = tempDir('anchor-hostile-');
    const gw = await Gateway.open(t.dir, { name: 'hostile.test/close', gatewayKey, blockRecords: 5, blockSeconds: 0 });
    cleanups.push(
      () => t.cleanup(),
      () => gw.close(),
      () => rpc.close(),
    );
    const anchorer = anchorerOn(gw, rpc.url, 10 * 60_000);
    const errors: LedgerError[] = [];
    anchorer.on('error', (e: LedgerError) => errors.push(e));
    anchorer.start();
    await held;
    // Without the cut, close() waits for the request's 10-minute timeout (past the test's).
    await anchorer.close();
    await until(() => 'the held request cut off', () => cut);
    assert.deepEqual(
      errors.map((e) => e.code),
      [],
    );
    assert.equal(anchorer.status().lastError, null);
  });

  it('"429, retry after a day" is not waited on (ERR_ANCHOR_RPC at once)', async () => {
    const { error } = await firstError((res) => {
      res.writeHead(429, { 'retry-after': String(24 * 3600 * 1000) });
      res.end();
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
  });

  it('an answer larger than any JSON-RPC reply the anchorer needs is refused (ERR_ANCHOR_RPC), not held in memory', async () => {
    const { error } = await firstError((res, id) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let sent = 0;
      const more = (): void => {
        while (sent < 32 && res.write(chunk)) sent++;
        if (sent < 32) res.once('drain', more);
        else res.end(reply(id));
      };
      more();
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
  });

  it(`an answer past what the anchorer's own requests need (${MAX_ANCHORER_RESPONSE_BYTES} bytes) is refused (ERR_ANCHOR_RPC): ethers decodes each in JavaScript, about a second per 16 MiB`, async () => {
    // The 16 MiB a check allows would cost the runtime about a second and 300 MB at each answer.
    const { error } = await firstError((res, id) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.concat([Buffer.alloc(2 * MAX_ANCHORER_RESPONSE_BYTES, 0x20), Buffer.from(reply(id))]));
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
    assert.match(error.message, /larger than/);
  });

  it('a redirect is not followed (ERR_ANCHOR_RPC): its target would be read without the bounds on size and time', async () => {
    // ethers follows 301/302/307/308 with a request of its own, through its default reader: no
    // bound on the body or on gzip, only an idle timeout. The target here is never asked.
    let asked = 0;
    const target = await hostileRpc((res, id) => {
      asked++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(reply(id));
    });
    cleanups.push(() => target.close());
    const { error } = await firstError((res) => {
      res.writeHead(307, { location: target.url });
      res.end();
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
    assert.match(error.message, /redirect/);
    assert.equal(asked, 0);
  });

  it('a gzip bomb is refused (ERR_ANCHOR_RPC) without inflating it', async () => {
    // gzip members back to back inflate as one: 32 MiB of blanks, then a valid reply (a bomb
    // sized to inflate to gigabytes crashes the process outright).
    const blanks = gzipSync(Buffer.alloc(16 << 20, 0x20), { level: 9 });
    const { error } = await firstError((res, id) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(Buffer.concat([blanks, blanks, gzipSync(reply(id))]));
    });
    assert.equal(error.code, 'ERR_ANCHOR_RPC');
  });
});
