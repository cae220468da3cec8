import * as assert from 'node:assert/strict';
import { anchorInterface, makeProvider, MAX_ANCHOR_LOGS, MAX_LOG_REQUESTS, originHash, readChainAnchors, verifyLedgerAnchors } from '../../lib/anchor';
import { toHex } from '../../lib/encoding/bytes';
import { isLedgerError } from '../../lib/errors';
import { main } from '../../lib/cli/main';
import type { CliIo } from '../../lib/cli/io';
import { Gateway } from '../../lib/gateway';
import { startRpcServer } from '../support/anvil';
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
  const server = await startRpcServer((call) => {
    const { id, method } = call;
    const params = call.params as { fromBlock: string; toBlock: string }[];
    const answer = (body: object): object => ({ jsonrpc: '2.0', id, ...body });
    if (method === 'eth_chainId') return answer({ result: '0x7a69' });
    if (method === 'eth_blockNumber') return answer({ result: height });
    if (method === 'eth_getLogs' && getLogs.length < 100) {
      getLogs.push([Number(params[0].fromBlock), Number(params[0].toBlock)]);
      return answer({ result: [] });
    }
    return answer({ error: { code: -32000, message: `no ${method} here` } });
  });
  return {
    url: server.url,
    getLogs,
    close: () => server.close(),
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

const ANCHORED = anchorInterface().getEvent('Anchored')?.topicHash as string;
const word = (n: number): string => n.toString(16).padStart(64, '0');
/** The hash the endpoint below gives block n. */
const blockHash = (n: number): string => `0x${word(n + 0xb10c)}`;

/** One Anchored log as eth_getLogs answers it: `size` n at (block, index), of `origin`; `over` replaces fields. */
function anchoredLog(origin: string, block: number, index: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    address: CONTRACT,
    topics: [ANCHORED, origin],
    data: `0x${word(block * 100 + index)}${'11'.repeat(32)}${'22'.repeat(32)}`,
    blockNumber: `0x${block.toString(16)}`,
    blockHash: blockHash(block),
    transactionHash: `0x${word(block * 100 + index + 1)}`,
    transactionIndex: '0x0',
    logIndex: `0x${index.toString(16)}`,
    removed: false,
    ...over,
  };
}

interface LogRpc {
  url: string;
  getLogs: [number, number][];
  /** The block number of each eth_getBlockByNumber request. */
  getBlock: number[];
  close(): Promise<void>;
}

// An endpoint at chain height `head` that answers each eth_getLogs with `logs(from, to, origin)`
// (origin: the topic the request asks for), each eth_getBlockByNumber with a block of
// blockHash(n) at time n seconds, or, with `blocks` false, with an error, and each
// eth_getTransactionReceipt with `receipts[hash]` (null when there is none).
async function chainWithLogs(
  head: number,
  logs: (from: number, to: number, origin: string) => object[],
  blocks = true,
  receipts: Record<string, object> = {},
): Promise<LogRpc> {
  const getLogs: [number, number][] = [];
  const getBlock: number[] = [];
  const server = await startRpcServer((call) => {
    const { id, method, params } = call;
    const answer = (body: object): object => ({ jsonrpc: '2.0', id, ...body });
    if (method === 'eth_chainId') return answer({ result: '0x7a69' });
    if (method === 'eth_blockNumber') return answer({ result: `0x${head.toString(16)}` });
    if (method === 'eth_getLogs') {
      const f = params[0] as { fromBlock: string; toBlock: string; topics: string[] };
      getLogs.push([Number(f.fromBlock), Number(f.toBlock)]);
      return answer({ result: logs(Number(f.fromBlock), Number(f.toBlock), f.topics[1]) });
    }
    if (method === 'eth_getTransactionReceipt') return answer({ result: receipts[String(params[0])] ?? null });
    if (method === 'eth_getBlockByNumber') {
      const n = Number(params[0]);
      getBlock.push(n);
      if (!blocks) return answer({ error: { code: -32000, message: 'no blocks here' } });
      return answer({
        result: {
          hash: blockHash(n),
          parentHash: blockHash(n - 1),
          number: `0x${n.toString(16)}`,
          timestamp: `0x${n.toString(16)}`,
          nonce: '0x0000000000000000',
          difficulty: '0x0',
          gasLimit: '0x1c9c380',
          gasUsed: '0x0',
          miner: `0x${'00'.repeat(20)}`,
          extraData: '0x',
          baseFeePerGas: '0x1',
          transactions: [],
        },
      });
    }
    return answer({ error: { code: -32000, message: `no ${method} here` } });
  });
  return {
    url: server.url,
    getLogs,
    getBlock,
    close: () => server.close(),
  };
}

// Each Anchored log costs a block request (its hash and timestamp): the logs an endpoint can
// make a check read, and so the block requests, are bounded over the whole check.
describe('anchor check: the Anchored logs an endpoint answers with', function () {
  this.timeout(60000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it(`more than ${MAX_ANCHOR_LOGS} matching logs over the answers of one check are refused (exit 2, ERR_ANCHOR_RPC) before any block is asked for`, async () => {
    const t = tempDir('anchor-logs-');
    cleanups.push(async () => t.cleanup());
    const gw = await Gateway.open(t.dir, { name: 'logs.test/a', gatewayKey, blockRecords: 2, blockSeconds: 0 });
    await gw.record({ type: 'reading', body: { i: 0 } });
    await gw.close();
    // Ten answers of 10,001 logs (some 6 MB each, within the answer size limit), each log in a block of its own.
    const perAnswer = MAX_ANCHOR_LOGS / 10 + 1;
    const rpc = await chainWithLogs(10 * 20_000 - 1, (from, _to, origin) => Array.from({ length: perAnswer }, (_, i) => anchoredLog(origin, from + i, 0)), false);
    cleanups.push(() => rpc.close());
    const io = memoryIo();
    const status = await main(['audit', t.dir, '--anchor', rpc.url, '--contract', CONTRACT, '--block-range', '20000'], io);
    assert.equal(status, 2, io.out + io.err);
    assert.match(io.err, new RegExp(`more than ${MAX_ANCHOR_LOGS} Anchored events of this origin .*--from-block.*\\(ERR_ANCHOR_RPC\\)\n$`));
    assert.equal(rpc.getLogs.length, 10);
    assert.deepEqual(rpc.getBlock, []);
  });

  it(`a log the endpoint repeats counts once toward the ${MAX_ANCHOR_LOGS}: ten answers of 10,000 logs and a repeat each pass the bound, and the blocks are asked for`, async () => {
    const origin = `0x${toHex(originHash('logs.test/a'))}`;
    // Each answer: 10,000 logs in block `from`, its first given again at the end: 100,010 logs,
    // 100,000 distinct. The endpoint answers no block request, so the check stops at the first
    // (the logs are never parsed); a check that counted the repeats would stop before it.
    const perAnswer = MAX_ANCHOR_LOGS / 10;
    const rpc = await chainWithLogs(
      10 * 20_000 - 1,
      (from) => [...Array.from({ length: perAnswer }, (_, i) => anchoredLog(origin, from, i)), anchoredLog(origin, from, 0)],
      false,
    );
    cleanups.push(() => rpc.close());
    const provider = makeProvider(rpc.url, { chainId: 31337 });
    try {
      await assert.rejects(
        readChainAnchors(provider, CONTRACT, originHash('logs.test/a'), { blockRange: 20_000 }),
        (e: unknown) => isLedgerError(e, 'ERR_ANCHOR_RPC') && !/more than/.test(e.message),
      );
      assert.equal(rpc.getLogs.length, 10);
      assert.deepEqual(rpc.getBlock, [0]);
    } finally {
      provider.destroy();
    }
  });

  it('a repeated log appears once; the same index in another block (hash) is another log; another log at the same position is refused (ERR_ANCHOR_RPC)', async () => {
    const origin = `0x${toHex(originHash('logs.test/a'))}`;
    let answer = [
      anchoredLog(origin, 5, 0),
      anchoredLog(origin, 5, 0),
      anchoredLog(origin, 5, 1),
      anchoredLog(origin, 5, 0, { blockHash: `0x${'5e'.repeat(32)}` }),
      anchoredLog(origin, 5, 1),
      anchoredLog(origin, 7, 3),
      anchoredLog(origin, 7, 3),
    ];
    const rpc = await chainWithLogs(20, () => answer);
    cleanups.push(() => rpc.close());
    const provider = makeProvider(rpc.url, { chainId: 31337 });
    try {
      const { anchors } = await readChainAnchors(provider, CONTRACT, originHash('logs.test/a'));
      assert.deepEqual(
        anchors.map((a) => [a.blockNumber, a.logIndex, a.size]),
        [
          [5, 0, 500],
          [5, 1, 501],
          [7, 3, 703],
        ],
        'each log once; the log at block 5 under another hash is not the chain block 5 and is left out',
      );
      assert.deepEqual(rpc.getBlock, [5, 7]);
      answer = [anchoredLog(origin, 5, 0), anchoredLog(origin, 5, 0, { data: `0x${word(999)}${'11'.repeat(32)}${'22'.repeat(32)}` })];
      await assert.rejects(
        readChainAnchors(provider, CONTRACT, originHash('logs.test/a')),
        (e: unknown) => isLedgerError(e, 'ERR_ANCHOR_RPC') && /two different logs at index 0 of block 5/.test(e.message),
      );
    } finally {
      provider.destroy();
    }
  });

  it('only logs of the contract, the Anchored topic and the origin, in the range asked and not removed, count; each block is asked for once', async () => {
    const origin = `0x${toHex(originHash('logs.test/a'))}`;
    const other = `0x${'33'.repeat(32)}`;
    const rpc = await chainWithLogs(20, () => [
      anchoredLog(origin, 5, 0),
      anchoredLog(origin, 5, 1),
      anchoredLog(origin, 7, 3),
      anchoredLog(other, 8, 0, { topics: [ANCHORED, other] }),
      anchoredLog(origin, 9, 0, { address: `0x${'cd'.repeat(20)}` }),
      anchoredLog(origin, 10, 0, { topics: [ANCHORED, origin, other] }),
      anchoredLog(origin, 11, 0, { removed: true }),
      anchoredLog(origin, 25, 0),
    ]);
    cleanups.push(() => rpc.close());
    const provider = makeProvider(rpc.url, { chainId: 31337 });
    try {
      const { anchors, head } = await readChainAnchors(provider, CONTRACT, originHash('logs.test/a'), { blockRange: 100 });
      assert.equal(head, 20);
      assert.deepEqual(
        anchors.map((a) => [a.blockNumber, a.logIndex, a.size, a.time]),
        [
          [5, 0, 500, 5000],
          [5, 1, 501, 5000],
          [7, 3, 703, 7000],
        ],
      );
      assert.deepEqual(rpc.getLogs, [[0, 20]]);
      assert.deepEqual(rpc.getBlock, [5, 7]);
    } finally {
      provider.destroy();
    }
  });
});

// A recorded anchor outside the scanned range is looked up by its transaction's receipt, and a
// transaction may anchor several origins (or the endpoint may say it did): only the receipt's
// Anchored logs of this ledger's origin are this ledger's anchors.
describe('anchor check: a recorded anchor looked up by its transaction', function () {
  this.timeout(60000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  const TX = `0x${'77'.repeat(32)}`;
  const hex = (b: Uint8Array): string => `0x${toHex(b)}`;
  const checkpoint = new Uint8Array(32).fill(9);

  /** An Anchored log in the receipt of TX in block 3, at log index `index`; `over` replaces fields; `cp` its checkpoint hash. */
  function receiptLog(origin: string, size: number, root: string, index: number, over: Record<string, unknown> = {}, cp = checkpoint): Record<string, unknown> {
    const { data, topics } = anchorInterface().encodeEventLog('Anchored', [origin, size, root, hex(cp)]);
    return anchoredLog(origin, 3, index, { topics, data, transactionHash: TX, ...over });
  }

  function receipt(logs: object[]): object {
    return {
      transactionHash: TX,
      transactionIndex: '0x0',
      blockHash: blockHash(3),
      blockNumber: '0x3',
      from: `0x${'cd'.repeat(20)}`,
      to: CONTRACT,
      contractAddress: null,
      cumulativeGasUsed: '0x5208',
      gasUsed: '0x5208',
      effectiveGasPrice: '0x1',
      logsBloom: `0x${'00'.repeat(256)}`,
      status: '0x1',
      type: '0x2',
      logs,
    };
  }

  /** A ledger of 4 readings and an `anchor` record of its first 4 records by TX in block 3. */
  async function ledgerAnchoredByTx(name: string) {
    const t = tempDir('anchor-receipt-');
    const gw = await Gateway.open(t.dir, { name, gatewayKey, blockRecords: 2, blockSeconds: 0 });
    cleanups.push(async () => {
      await gw.close();
      t.cleanup();
    });
    for (let i = 0; i < 4; i++) await gw.record({ type: 'reading', body: { i } });
    await gw.ledger.seal();
    const size = gw.ledger.size;
    const root = await gw.ledger.rootAt(size);
    const body = { chain: 31337, contract: CONTRACT, account: `0x${'cd'.repeat(20)}`, tx: TX, block: 3, blockHash: blockHash(3), blockTime: 3000, height: 1, size, root, checkpoint };
    const { index } = await gw.record({ type: 'anchor', body });
    return { gw, size, root: hex(root), index, origin: hex(originHash(name)) };
  }

  it("the transaction's anchor of this origin is found after another origin's anchor in the same transaction, and each of its anchors of this origin counts", async () => {
    const { gw, size, root, origin } = await ledgerAnchoredByTx('receipt.test/a');
    const other = `0x${'33'.repeat(32)}`;
    const rootOf2 = hex(await gw.ledger.rootAt(2));
    const rpc = await chainWithLogs(20, () => [], true, {
      [TX]: receipt([receiptLog(other, 999, `0x${'44'.repeat(32)}`, 0), receiptLog(origin, 2, rootOf2, 1), receiptLog(origin, size, root, 2)]),
    });
    cleanups.push(() => rpc.close());
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: rpc.url, contract: CONTRACT, fromBlock: 10 });
    assert.deepEqual(check.findings, []);
    assert.equal(check.clean, true);
    assert.equal(check.onChain, 2);
    assert.deepEqual(
      check.consistent.map((a) => [a.txHash, a.logIndex, a.size]),
      [
        [TX, 1, 2],
        [TX, 2, size],
      ],
    );
  });

  it('a log the receipt repeats is one anchor', async () => {
    const { gw, size, root, origin } = await ledgerAnchoredByTx('receipt.test/c');
    const log = receiptLog(origin, size, root, 0);
    const rpc = await chainWithLogs(20, () => [], true, { [TX]: receipt([log, log, log]) });
    cleanups.push(() => rpc.close());
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: rpc.url, contract: CONTRACT, fromBlock: 10 });
    assert.equal(check.clean, true);
    assert.equal(check.onChain, 1);
    assert.deepEqual(
      check.consistent.map((a) => [a.txHash, a.logIndex, a.size]),
      [[TX, 0, size]],
    );
  });

  it("a transaction that anchored only other origins (or logs placed elsewhere) leaves the record missing, with no other origin's anchor held against this ledger", async () => {
    const { gw, size, root, index, origin } = await ledgerAnchoredByTx('receipt.test/b');
    const other = `0x${'33'.repeat(32)}`;
    const rpc = await chainWithLogs(20, () => [], true, {
      [TX]: receipt([
        receiptLog(other, 999, `0x${'44'.repeat(32)}`, 0),
        receiptLog(origin, size, root, 1, { address: `0x${'cd'.repeat(20)}` }),
        receiptLog(origin, size, root, 2, { transactionHash: `0x${'78'.repeat(32)}` }),
        receiptLog(origin, size, root, 3, { blockHash: blockHash(4), blockNumber: '0x4' }),
      ]),
    });
    cleanups.push(() => rpc.close());
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: rpc.url, contract: CONTRACT, fromBlock: 10 });
    assert.equal(check.clean, false);
    assert.equal(check.onChain, 0);
    assert.deepEqual(
      check.findings.map((f) => [f.kind, f.index, f.size, f.tx]),
      [['anchor-missing', index, size, TX]],
    );
  });

  // The Anchorer keeps its last anchor only when the transaction's event is that anchor's in
  // full, checkpoint hash included; the audit holds a record to the same: an event of this
  // origin with the recorded size and root but another checkpoint hash anchored another signed
  // checkpoint note, not the one the record names.
  for (const scanned of [false, true])
    it(`a record whose transaction's anchor of this origin has its size and root but another checkpoint hash is missing; the genuine one is clean (${scanned ? 'in the blocks scanned' : 'read from its receipt'})`, async () => {
      for (const genuine of [true, false]) {
        const { gw, size, root, index, origin } = await ledgerAnchoredByTx(`receipt.test/checkpoint-${scanned}-${genuine}`);
        const log = receiptLog(origin, size, root, 0, {}, genuine ? checkpoint : new Uint8Array(32).fill(10));
        const rpc = await chainWithLogs(20, (from, to, asked) => (scanned && from <= 3 && 3 <= to && asked === origin ? [log] : []), true, { [TX]: receipt([log]) });
        cleanups.push(() => rpc.close());
        const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: rpc.url, contract: CONTRACT, fromBlock: scanned ? 0 : 10 });
        assert.equal(check.onChain, 1);
        assert.deepEqual(
          check.consistent.map((a) => [a.txHash, a.size]),
          [[TX, size]],
          "the chain's anchor itself is consistent with the ledger",
        );
        if (genuine) {
          assert.deepEqual(check.findings, []);
          assert.equal(check.clean, true);
        } else {
          assert.equal(check.clean, false);
          assert.deepEqual(
            check.findings.map((f) => [f.kind, f.index, f.size, f.tx]),
            [['anchor-missing', index, size, TX]],
          );
          assert.match(check.findings[0].detail, /another checkpoint hash than the recorded 0909/);
        }
      }
    });
});
