import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_LOG_REQUESTS } from '../../lib/anchor';
import { main } from '../../lib/cli/main';
import type { CliIo } from '../../lib/cli/io';
import { Gateway } from '../../lib/gateway';
import { gatewayKey, tempDir } from '../support/ledger';

const CONTRACT = `0x${'ab'.repeat(20)}`;

interface Rpc {
  url: string;
  /** [fromBlock, toBlock] of each eth_getLogs request. */
  getLogs: [number, number][];
  close(): Promise<void>;
}

// An endpoint that reports `height` (a JSON-RPC result as is) and holds no anchors. Past 100
// eth_getLogs requests it answers with an error, so a client that would scan on fails quickly.
async function chainOfHeight(height: unknown): Promise<Rpc> {
  const getLogs: [number, number][] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { id, method, params } = JSON.parse(Buffer.concat(chunks).toString()) as { id: unknown; method: string; params: { fromBlock: string; toBlock: string }[] };
      const answer = (body: object): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id, ...body }));
      };
      if (method === 'eth_chainId') return answer({ result: '0x7a69' });
      if (method === 'eth_blockNumber') return answer({ result: height });
      if (method === 'eth_getLogs' && getLogs.length < 100) {
        getLogs.push([Number(params[0].fromBlock), Number(params[0].toBlock)]);
        return answer({ result: [] });
      }
      answer({ error: { code: -32000, message: `no ${method} here` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    getLogs,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function memoryIo(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', isTTY: false, stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s), stdin: async () => Buffer.alloc(0) };
  return io;
}

// How many eth_getLogs requests `audit --anchor` may make is bounded, whatever height the
// endpoint reports: an endpoint cannot keep an audit scanning for ever.
describe('CLI: audit --anchor --block-range against the chain height an endpoint reports', function () {
  this.timeout(20000);
  const t = tempDir('anchor-scan-');
  const cleanups: (() => Promise<void>)[] = [];
  before(async () => {
    const gw = await Gateway.open(t.dir, { name: 'scan.test/a', gatewayKey, blockRecords: 2, blockSeconds: 0 });
    for (let i = 0; i < 3; i++) await gw.record({ type: 'reading', body: { i } });
    await gw.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });
  after(() => t.cleanup());

  async function audit(height: unknown, ...flags: string[]): Promise<{ status: number; io: ReturnType<typeof memoryIo>; rpc: Rpc }> {
    const rpc = await chainOfHeight(height);
    cleanups.push(() => rpc.close());
    const io = memoryIo();
    const status = await main(['audit', t.dir, '--anchor', rpc.url, '--contract', CONTRACT, ...flags], io);
    return { status, io, rpc };
  }

  it('a height of 2^52 in ranges of 10 blocks is refused before any eth_getLogs (exit 2, ERR_ANCHOR_CONFIG naming --from-block)', async () => {
    const { status, io, rpc } = await audit(`0x${(2 ** 52).toString(16)}`, '--block-range', '10');
    assert.equal(status, 2, io.out + io.err);
    assert.match(io.err, /blocks 0\.\.4503599627370496 .* in ranges of 10 takes 450359962737050 eth_getLogs requests, more than the 10000 .*--from-block.*\(ERR_ANCHOR_CONFIG\)\n$/);
    assert.deepEqual(rpc.getLogs, []);
  });

  it(`one request past the maximum (${MAX_LOG_REQUESTS}) is refused; a later --from-block reads the same endpoint in a few ranges`, async () => {
    const refused = await audit(`0x${(MAX_LOG_REQUESTS * 1000).toString(16)}`, '--block-range', '1000');
    assert.equal(refused.status, 2, refused.io.out + refused.io.err);
    assert.match(refused.io.err, new RegExp(`takes ${MAX_LOG_REQUESTS + 1} eth_getLogs requests, .*\\(ERR_ANCHOR_CONFIG\\)`));
    assert.deepEqual(refused.rpc.getLogs, []);

    const head = 2 ** 52;
    const { status, io, rpc } = await audit(`0x${head.toString(16)}`, '--block-range', '10', '--from-block', String(head - 24));
    assert.equal(status, 0, io.out + io.err);
    assert.match(io.out, /anchors: none on chain 31337/);
    assert.deepEqual(rpc.getLogs, [
      [head - 24, head - 15],
      [head - 14, head - 5],
      [head - 4, head],
    ]);
  });

  it('a height that is no block number (above 2^53 - 1, or negative) is refused as a bad answer (exit 2, ERR_ANCHOR_RPC)', async () => {
    for (const height of [`0x${(2 ** 53).toString(16)}`, -1]) {
      const { status, io, rpc } = await audit(height, '--block-range', '10');
      assert.equal(status, 2, `${height}: ${io.out}${io.err}`);
      assert.match(io.err, /\(ERR_ANCHOR_RPC\)\n$/, String(height));
      assert.deepEqual(rpc.getLogs, []);
    }
  });
});
