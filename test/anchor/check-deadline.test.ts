import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { checkAnchoredCheckpoint, verifyLedgerAnchors } from '../../lib/anchor';
import type { CliIo } from '../../lib/cli/io';
import { main } from '../../lib/cli/main';
import { isLedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import { Ledger } from '../../lib/ledger';
import { keyToDid } from '../../lib/crypto';
import { gatewayKey, tempDir } from '../support/ledger';

// A hostile (or overloaded) JSON-RPC endpoint can keep an anchor check going for a very long
// time: up to 10,000 eth_getLogs requests, each just inside the request timeout. The whole
// check has a deadline (the library's timeoutMs or a caller's AbortSignal, the CLI's
// --anchor-timeout): past it the check stops, the request in flight cut off, with
// ERR_ANCHOR_TIMEOUT, and the CLI exits 2 (could not check).

const CONTRACT = `0x${'ab'.repeat(20)}`;

interface SlowRpc {
  url: string;
  /** eth_getLogs requests received. */
  getLogs: number;
  /** eth_getLogs requests not answered yet whose connection is still open. */
  open: number;
  /** eth_getLogs requests the client cut off before their answer. */
  cutOff: number;
  /** Resolves at the first eth_getLogs request. */
  firstGetLogs: Promise<void>;
  close(): Promise<void>;
}

// An endpoint at chain height 9999 that answers eth_getLogs after `delayMs` (with no logs), or
// never with `delayMs` null. Past `answered` eth_getLogs it answers with an error at once, so a
// check that ignores its deadline ends (ERR_ANCHOR_RPC) instead of running for minutes.
async function slowRpc(delayMs: number | null, answered = 300): Promise<SlowRpc> {
  let first = (): void => undefined;
  const state = {
    getLogs: 0,
    open: 0,
    cutOff: 0,
    firstGetLogs: new Promise<void>((r) => (first = r)),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call = JSON.parse(Buffer.concat(chunks).toString()) as { id: unknown; method: string };
      const send = (body: object): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: call.id, ...body }));
      };
      if (call.method === 'eth_chainId') return send({ result: '0x7a69' });
      if (call.method === 'eth_blockNumber') return send({ result: '0x270f' });
      if (call.method !== 'eth_getLogs') return send({ error: { code: -32000, message: `no ${call.method} here` } });
      state.getLogs++;
      first();
      if (state.getLogs > answered) return send({ error: { code: -32000, message: 'enough' } });
      state.open++;
      let answeredIt = false;
      res.on('close', () => {
        state.open--;
        if (!answeredIt) state.cutOff++;
      });
      if (delayMs !== null)
        setTimeout(() => {
          if (res.destroyed) return;
          answeredIt = true;
          send({ result: [] });
        }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

function memoryIo(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', isTTY: false, stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s), stdin: async () => Buffer.alloc(0) };
  return io;
}

/** The error a promise rejects with (the test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`resolved with ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
}

/** Lets the event loop run a while: a check that did not stop would send more requests meanwhile. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

describe('anchor check: a deadline for the whole check', function () {
  // A check that ignored its deadline ends on the endpoint's error after 300 requests, or on
  // the 15 s request timeout: within this, so that the assertions say what went wrong.
  this.timeout(40000);
  const t = tempDir('anchor-deadline-');
  const cleanups: (() => Promise<void>)[] = [];
  let bundleFile = '';
  let checkpoint = '';
  before(async () => {
    const gw = await Gateway.open(path.join(t.dir, 'ledger'), { name: 'deadline.test/a', gatewayKey, blockRecords: 2, blockSeconds: 0 });
    for (let i = 0; i < 3; i++) await gw.record({ type: 'reading', body: { i } });
    await gw.close();
    const io = memoryIo();
    assert.equal(await main(['prove', path.join(t.dir, 'ledger'), '0'], io), 0, io.err);
    bundleFile = path.join(t.dir, 'proof.json');
    fs.writeFileSync(bundleFile, io.out);
    checkpoint = (JSON.parse(io.out) as { checkpoint: string }).checkpoint;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  after(() => t.cleanup());

  async function rpc(delayMs: number | null): Promise<SlowRpc> {
    const r = await slowRpc(delayMs);
    cleanups.push(() => r.close());
    return r;
  }

  it('verifyLedgerAnchors: an endpoint that answers each eth_getLogs slowly is given up at timeoutMs (ERR_ANCHOR_TIMEOUT), and no request follows', async () => {
    const endpoint = await rpc(40);
    const ledger = await Ledger.open(path.join(t.dir, 'ledger'), { readOnly: true });
    let err: unknown;
    try {
      err = await failure(verifyLedgerAnchors(ledger, { rpcUrl: endpoint.url, contract: CONTRACT, blockRange: 1, timeoutMs: 400 }));
    } finally {
      await ledger.close();
    }
    assert.ok(isLedgerError(err, 'ERR_ANCHOR_TIMEOUT'), String(err));
    assert.match(err.message, /did not finish within 0\.4 s/);
    assert.deepEqual(err.details, { timeoutMs: 400 });
    assert.ok(endpoint.getLogs > 0 && endpoint.getLogs < 300, `${endpoint.getLogs} eth_getLogs requests`);
    // Stopped: nothing more is asked, nothing left open.
    const sent = endpoint.getLogs;
    await settle();
    assert.equal(endpoint.getLogs, sent);
    assert.equal(endpoint.open, 0);
  });

  it("checkAnchoredCheckpoint: the caller's AbortSignal stops the check, the eth_getLogs in flight cut off (ERR_ANCHOR_TIMEOUT)", async () => {
    const endpoint = await rpc(null);
    const ctl = new AbortController();
    void endpoint.firstGetLogs.then(() => ctl.abort());
    const err = await failure(checkAnchoredCheckpoint(checkpoint, { rpcUrl: endpoint.url, contract: CONTRACT, blockRange: 1, signal: ctl.signal }));
    assert.ok(isLedgerError(err, 'ERR_ANCHOR_TIMEOUT'), String(err));
    assert.match(err.message, /stopped by its caller/);
    await settle();
    assert.deepEqual([endpoint.getLogs, endpoint.cutOff, endpoint.open], [1, 1, 0]);
  });

  it('a timeoutMs that is no whole number of milliseconds from 1 to 2^31 - 1 is refused before any request (ERR_ANCHOR_CONFIG)', async () => {
    const endpoint = await rpc(null);
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      const err = await failure(checkAnchoredCheckpoint(checkpoint, { rpcUrl: endpoint.url, contract: CONTRACT, timeoutMs }));
      assert.ok(isLedgerError(err, 'ERR_ANCHOR_CONFIG'), `${timeoutMs}: ${String(err)}`);
      assert.match(err.message, /timeout must be a whole number of milliseconds/);
    }
    assert.equal(endpoint.getLogs, 0);
  });

  it('CLI audit --anchor-timeout 1: the audit is printed, then the anchor check stops at the deadline (exit 2, ERR_ANCHOR_TIMEOUT)', async () => {
    const endpoint = await rpc(null);
    const io = memoryIo();
    const status = await main(['audit', path.join(t.dir, 'ledger'), '--key', keyToDid(gatewayKey), '--anchor', endpoint.url, '--contract', CONTRACT, '--anchor-timeout', '1'], io);
    assert.equal(status, 2, io.out + io.err);
    assert.match(io.out, /CLEAN/);
    assert.match(io.err, /^iot-ledger audit: the anchor check did not finish within 1 s .*--anchor-timeout.* \(ERR_ANCHOR_TIMEOUT\)\n$/);
    await settle();
    assert.deepEqual([endpoint.getLogs, endpoint.cutOff, endpoint.open], [1, 1, 0]);
  });

  it('CLI verify-proof --anchor-timeout 1: stops at the deadline (exit 2, ERR_ANCHOR_TIMEOUT), not "valid" nor "invalid"', async () => {
    const endpoint = await rpc(null);
    const io = memoryIo();
    const status = await main(['verify-proof', bundleFile, '--key', keyToDid(gatewayKey), '--anchor', endpoint.url, '--contract', CONTRACT, '--anchor-timeout', '1'], io);
    assert.equal(status, 2, io.out + io.err);
    assert.equal(io.out, '');
    assert.match(io.err, /^iot-ledger verify-proof: the anchor check did not finish within 1 s .* \(ERR_ANCHOR_TIMEOUT\)\n$/);
    await settle();
    assert.deepEqual([endpoint.getLogs, endpoint.cutOff, endpoint.open], [1, 1, 0]);
  });

  it('CLI: --anchor-timeout must be whole seconds from 1 to 2147483, and goes with --anchor (exit 2, usage)', async () => {
    for (const [flags, message] of [
      [['--anchor', 'http://127.0.0.1:9', '--contract', CONTRACT, '--anchor-timeout', '0'], /--anchor-timeout must be a whole number of seconds from 1 to 2147483/],
      [['--anchor', 'http://127.0.0.1:9', '--contract', CONTRACT, '--anchor-timeout', '2147484'], /--anchor-timeout must be a whole number of seconds from 1 to 2147483/],
      [['--anchor-timeout', '60'], /--anchor-timeout go with --anchor RPC_URL/],
    ] as const) {
      const io = memoryIo();
      assert.equal(await main(['audit', path.join(t.dir, 'ledger'), ...flags], io), 2, io.out + io.err);
      assert.match(io.err, message);
      assert.match(io.err, /\[--anchor-timeout SECONDS\]/);
    }
  });
});
