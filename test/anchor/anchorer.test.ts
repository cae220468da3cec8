import * as assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import {
  Anchorer,
  anchorInterface,
  anchorSubject,
  MAX_LOST_ANCHORS,
  MAX_UNCONFIRMED_ANCHORS,
  originHash,
  parseAnchorBody,
  verifyLedgerAnchors,
  type AnchorBody,
  type AnchorSettings,
  type AnchorStatus,
  type AnchorSubject,
} from '../../lib/anchor';
import { bytesEqual, toHex } from '../../lib/encoding/bytes';
import { EMPTY_ROOT } from '../../lib/merkle';
import type { LedgerError } from '../../lib/errors';
import { Gateway } from '../../lib/gateway';
import type { RecordInput } from '../../lib/ledger';
import { collect, gatewayKey, tempDir } from '../support/ledger';
import { ANVIL_CHAIN_ID, ANVIL_KEYS, CHAIN_WAIT, deployAnchor, rpcResult, startAnvil, startRelay, startRpcProxy, type Anvil } from '../support/anvil';
import { until } from '../support/until';

// A real chain (anvil), a real ledger: the Anchorer as the Anchor node runs it.
/** 'recorded' when the anchorer records an anchor first, 'refused' when it reports `code` first. */
function recordedOrRefused(anchorer: Anchorer, errors: LedgerError[], code: string): Promise<string> {
  return Promise.race([
    new Promise<string>((r) => anchorer.once('anchored', () => r('recorded'))),
    until(code, () => errors.find((e) => e.code === code), CHAIN_WAIT).then(() => 'refused'),
  ]);
}

describe('Anchorer on a real chain (anvil)', function () {
  this.timeout(90000);
  let anvil: Anvil;
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    anvil = await startAnvil();
  });
  after(async () => {
    await anvil?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(over: Partial<AnchorSettings> = {}, key = ANVIL_KEYS[0]) {
    const contract = await deployAnchor(anvil, key);
    const t = tempDir('anchorer-');
    const gw = await Gateway.open(t.dir, { name: `anchor.test/${Math.random().toString(36).slice(2)}`, gatewayKey, blockRecords: 5, blockSeconds: 0 });
    const anchorer = new Anchorer(gw, {
      rpcUrl: anvil.url,
      chainId: ANVIL_CHAIN_ID,
      contract,
      privateKey: key,
      confirmations: 3,
      pollSeconds: 0.1,
      ...over,
    });
    const errors: LedgerError[] = [];
    anchorer.on('error', (e: LedgerError) => errors.push(e));
    cleanups.push(() => t.cleanup(), () => gw.close(), () => anchorer.close());
    const readings = async (n: number) => {
      for (let i = 0; i < n; i++) await gw.record({ type: 'reading', body: { temperature: -20 - i, n: i } });
    };
    const anchorRecords = async () => collect(gw.ledger.byType('anchor'));
    return { contract, gw, anchorer, errors, readings, anchorRecords };
  }

  it('anchors the latest checkpoint and records it only once it has its confirmations', async () => {
    const { gw, anchorer, readings, anchorRecords, contract } = await setup();
    anchorer.start();
    await readings(5);
    const mined = await until('the anchor transaction in a block', () => anchorer.status().pending?.block, CHAIN_WAIT);
    assert.equal(anchorer.status().pending?.confirmations, 1);
    await anchorer.settle();
    assert.equal((await anchorRecords()).length, 0, 'nothing is recorded before the confirmations');
    const anchored = new Promise<{ body: { block: number; blockHash: string; size: number; root: Uint8Array; tx: string } }>((r) => anchorer.once('anchored', r));
    await anvil.mine(2);
    const { body } = await anchored;
    assert.equal(body.block, mined);
    assert.equal(body.size, 5);
    const block0 = await gw.ledger.block(0);
    assert.ok(bytesEqual(body.root, block0.header.root));
    const onChain = await anvil.provider.getBlock(mined);
    assert.equal(body.blockHash, onChain?.hash);
    const [rec] = await anchorRecords();
    assert.equal(rec.index, 5);
    const st: AnchorStatus = anchorer.status();
    assert.equal(st.lastConfirmed?.size, 5);
    assert.equal(st.pending, null);
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.equal(check.clean, true, JSON.stringify(check.findings));
    assert.equal(check.consistent.length, 1);
    assert.equal(check.consistent[0].blockNumber, mined);
  });

  it('an anchor asked for (anchorNow) goes out no sooner than minRequestedSeconds after the last recorded one', async () => {
    let offset = 0;
    const { gw, anchorer, readings, anchorRecords } = await setup({ confirmations: 1, now: () => Date.now() + offset });
    anchorer.start();
    await readings(5);
    await until('the first anchor recorded', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
    const account = anchorer.account;
    const nonce = await anvil.provider.getTransactionCount(account);
    // New records, then requests: whoever can send the node messages asks again and again.
    await readings(5);
    await gw.ledger.seal();
    for (let i = 0; i < 5; i++) {
      anchorer.anchorNow();
      await anchorer.settle();
    }
    assert.equal(await anvil.provider.getTransactionCount(account), nonce, 'no anchor within the minute after the last');
    assert.equal(anchorer.status().pending, null);
    // A minute later the request waiting goes out at the next look, without being asked again.
    offset = 61_000;
    const sent = await until('the requested anchor sent', () => anchorer.status().pending, CHAIN_WAIT);
    assert.equal(sent.size, gw.ledger.size, 'the latest checkpoint');
    assert.equal(await anvil.provider.getTransactionCount(account), nonce + 1);
  });

  it('a reorg that drops the anchor before its confirmations: detected, sent again, recorded from the new block only', async () => {
    const { anchorer, readings, anchorRecords, errors, gw, contract } = await setup();
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    anchorer.start();
    await readings(5);
    const first = await until('the anchor in a block', () => anchorer.status().pending?.block, CHAIN_WAIT);
    const lostHash = (await anvil.provider.getBlock(first))?.hash;
    await anvil.rpc('evm_revert', [snapshot]);
    await until('ERR_ANCHOR_REORG', () => errors.find((e) => e.code === 'ERR_ANCHOR_REORG'), CHAIN_WAIT);
    // The same signed transaction goes back to the chain and gets its confirmations there.
    await until('the re-sent anchor in a block', () => anchorer.status().pending?.block, CHAIN_WAIT);
    const anchored = new Promise<{ body: { blockHash: string } }>((r) => anchorer.once('anchored', r));
    await anvil.mine(3);
    const { body } = await anchored;
    assert.notEqual(body.blockHash, lostHash);
    assert.equal((await anchorRecords()).length, 1);
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.equal(check.clean, true, JSON.stringify(check.findings));
    assert.ok(check.consistent.every((a) => a.blockHash !== lostHash));
  });

  it('a reorg that takes a recorded anchor away: the check reports it missing, the anchorer anchors again', async () => {
    const { anchorer, readings, anchorRecords, errors, gw, contract } = await setup({ confirmations: 1 });
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    anchorer.start();
    await readings(5);
    await until('the first anchor record', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
    const [lost] = await anchorRecords();
    await anvil.rpc('evm_revert', [snapshot]);
    await anvil.mine(2);
    await until('ERR_ANCHOR_REORG', () => errors.find((e) => e.code === 'ERR_ANCHOR_REORG'), CHAIN_WAIT);
    await until('the anchor made again', async () => (await anchorRecords()).length === 2, CHAIN_WAIT);
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.equal(check.clean, false);
    assert.deepEqual(
      check.findings.map((f) => [f.kind, f.index]),
      [['anchor-missing', lost.index]],
    );
    assert.equal(check.consistent.length, 1, 'the new anchor is on the chain');
    const lostBody = lost.record.body as { size: number; tx: string };
    assert.equal(check.consistent[0].size, lostBody.size, 'the latest checkpoint, the one the chain lost, is anchored again');
    assert.notEqual(check.consistent[0].txHash, lostBody.tx);
  });

  /** An anchor transaction of `sent`, as the contract's owner (`key`) may send it by hand; mined with its one event. */
  async function sendAnchor(contract: string, key: string, sent: AnchorSubject) {
    const hex = (b: Uint8Array): string => `0x${toHex(b)}`;
    const wallet = new Wallet(key, anvil.provider);
    const data = anchorInterface().encodeFunctionData('anchor', [hex(sent.originHash), sent.size, hex(sent.root), hex(sent.checkpointHash)]);
    const mined = await (await wallet.sendTransaction({ to: contract, data })).wait();
    assert.ok(mined && mined.status === 1 && mined.logs.length === 1, 'the anchor transaction mined with its one event');
    return mined;
  }

  /**
   * An `anchor` record of the ledger's latest checkpoint naming a real transaction, which the
   * contract's owner sent itself: its Anchored event is that checkpoint's subject as `change`
   * makes it (the recorded body always states the checkpoint's own size, root and hash).
   */
  async function recordAnchorSentAs(gw: Gateway, contract: string, key: string, change: (s: AnchorSubject) => AnchorSubject) {
    const block = await gw.ledger.latestBlock();
    assert.ok(block, 'a sealed block');
    const ours = anchorSubject(block.checkpoint);
    const wallet = new Wallet(key, anvil.provider);
    const mined = await sendAnchor(contract, key, change(ours));
    const onChain = await anvil.provider.getBlock(mined.blockNumber);
    const body: AnchorBody = {
      chain: ANVIL_CHAIN_ID,
      contract: contract.toLowerCase(),
      account: wallet.address.toLowerCase(),
      tx: mined.hash.toLowerCase(),
      block: mined.blockNumber,
      blockHash: mined.blockHash.toLowerCase(),
      blockTime: (onChain?.timestamp ?? 0) * 1000,
      height: block.height,
      size: ours.size,
      root: ours.root,
      checkpoint: ours.checkpointHash,
    };
    const { index } = await gw.record({ type: 'anchor', body: body as unknown as RecordInput['body'] });
    return { body, index };
  }

  // The Anchorer's last recorded anchor counts as still on the chain only when its transaction
  // holds, in the recorded block, the Anchored event of this ledger's origin with the recorded
  // size, root and checkpoint hash; any other event of the contract there is not that anchor.
  it('a recorded anchor whose transaction holds exactly its Anchored event is kept: not reported gone, not anchored again', async () => {
    const key = ANVIL_KEYS[0];
    const { gw, anchorer, readings, anchorRecords, errors, contract } = await setup({ confirmations: 1 }, key);
    await readings(5);
    const { index } = await recordAnchorSentAs(gw, contract, key, (s) => s);
    anchorer.start();
    for (let look = 0; look < 3; look++) {
      await anchorer.settle();
      anchorer.poke();
    }
    await anchorer.settle();
    assert.deepEqual(
      errors.map((e) => e.code),
      [],
      'nothing reported',
    );
    assert.equal(anchorer.status().pending, null, 'nothing sent');
    assert.equal(anchorer.status().lastConfirmed?.index, index);
    assert.equal((await anchorRecords()).length, 1);
    const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.equal(check.clean, true, JSON.stringify(check.findings));
  });

  // The Anchorer anchors sealed blocks only (size >= 1), but the owner's key can anchor the empty
  // tree: a prefix of every ledger, so consistent, and no reason to stop checking the others.
  it("an anchor of the empty tree (size 0) sent by the contract's owner is consistent; one with another root is a finding; the ledger's own anchor is still checked", async () => {
    const key = ANVIL_KEYS[0];
    const { gw, readings, contract } = await setup({ confirmations: 1 }, key);
    await readings(5);
    const block = await gw.ledger.latestBlock();
    assert.ok(block, 'a sealed block');
    const ours = anchorSubject(block.checkpoint);
    const empty = await sendAnchor(contract, key, { ...ours, size: 0, root: EMPTY_ROOT });
    const { body } = await recordAnchorSentAs(gw, contract, key, (s) => s);
    let check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.equal(check.clean, true, JSON.stringify(check.findings));
    assert.deepEqual(
      check.consistent.map((a) => [a.size, a.txHash]),
      [
        [0, empty.hash.toLowerCase()],
        [5, body.tx],
      ],
    );
    const other = await sendAnchor(contract, key, { ...ours, size: 0 });
    check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
    assert.deepEqual(
      check.findings.map((f) => [f.kind, f.size, f.tx]),
      [['anchor-contradicted', 0, other.hash.toLowerCase()]],
    );
    assert.match(check.findings[0]?.detail ?? '', /is not the empty tree's/);
    assert.deepEqual(
      check.consistent.map((a) => a.size),
      [0, 5],
    );
  });

  // The audit holds the old record to the same as the Anchorer: missing in each case.
  const elsewhere: { what: string; change: (s: AnchorSubject) => AnchorSubject }[] = [
    { what: "another origin's anchor of the same size, root and checkpoint hash", change: (s) => ({ ...s, originHash: originHash('anchor.test/another-ledger') }) },
    { what: 'an anchor of this origin with another root', change: (s) => ({ ...s, root: s.root.map((b) => b ^ 0xff) }) },
    { what: 'an anchor of this origin with another tree size', change: (s) => ({ ...s, size: s.size - 1 }) },
    { what: 'an anchor of this origin with another checkpoint hash', change: (s) => ({ ...s, checkpointHash: s.checkpointHash.map((b) => b ^ 0xff) }) },
  ];
  for (const { what, change } of elsewhere)
    it(`a recorded anchor whose transaction holds only ${what}: reported gone (ERR_ANCHOR_REORG) at the first look, and the checkpoint anchored again`, async () => {
      const key = ANVIL_KEYS[0];
      const { gw, anchorer, readings, anchorRecords, errors, contract } = await setup({ confirmations: 1 }, key);
      await readings(5);
      const { body, index } = await recordAnchorSentAs(gw, contract, key, change);
      anchorer.start();
      await anchorer.settle();
      const gone = errors.find((e) => e.code === 'ERR_ANCHOR_REORG');
      assert.ok(gone, `ERR_ANCHOR_REORG after the first look (reported: ${JSON.stringify(errors.map((e) => e.code))})`);
      assert.ok(gone.message.includes(`#${index} `) && gone.message.includes(body.tx), gone.message);
      await until('the checkpoint anchored again', async () => (await anchorRecords()).length === 2, CHAIN_WAIT);
      const again = parseAnchorBody((await anchorRecords())[1].record.body);
      assert.notEqual(again.tx, body.tx);
      assert.equal(again.size, body.size);
      assert.ok(bytesEqual(again.root, body.root) && bytesEqual(again.checkpoint, body.checkpoint), 'the same checkpoint');
      // The new anchor is genuine: kept at the looks that follow.
      for (let look = 0; look < 3; look++) {
        anchorer.poke();
        await anchorer.settle();
      }
      assert.equal(errors.filter((e) => e.code === 'ERR_ANCHOR_REORG').length, 1);
      assert.equal(anchorer.status().lastConfirmed?.tx, again.tx);
      assert.equal((await anchorRecords()).length, 2);
      const check = await verifyLedgerAnchors(gw.ledger, { rpcUrl: anvil.url, contract });
      assert.ok(check.consistent.some((a) => a.txHash === again.tx && a.size === body.size));
      assert.ok(check.findings.some((f) => f.kind === 'anchor-missing' && f.index === index && f.tx === body.tx), JSON.stringify(check.findings));
    });

  it('a transaction that succeeds without the Anchored event of its checkpoint is not recorded (ERR_ANCHOR_MISMATCH), nor sent again and again', async () => {
    const key = ANVIL_KEYS[3];
    const wallet = new Wallet(key, anvil.provider);
    // Not the anchor contract: any call succeeds, owner() included (it answers this account), and no event is emitted.
    const runtime = `73${wallet.address.slice(2).toLowerCase()}60005260206000f3`;
    const deployed = await (await wallet.sendTransaction({ data: `0x601d600c600039601d6000f3${runtime}` })).wait();
    const { anchorer, readings, anchorRecords, errors } = await setup({ contract: deployed?.contractAddress as string, confirmations: 1 }, key);
    const outcome = recordedOrRefused(anchorer, errors, 'ERR_ANCHOR_MISMATCH');
    anchorer.start();
    await readings(5);
    assert.equal(await outcome, 'refused');
    assert.equal((await anchorRecords()).length, 0);
    const nonce = await anvil.provider.getTransactionCount(wallet.address);
    anchorer.anchorNow();
    await anchorer.settle();
    anchorer.anchorNow();
    await anchorer.settle();
    assert.equal(await anvil.provider.getTransactionCount(wallet.address), nonce, 'no more transactions to that contract');
    assert.equal(anchorer.status().lastError?.code, 'ERR_ANCHOR_MISMATCH');
  });

  it('a receipt whose Anchored event names another transaction is not recorded (ERR_ANCHOR_MISMATCH): the audit would not count that event', async () => {
    // A JSON-RPC proxy in front of anvil that moves every log of a receipt to another transaction.
    const proxy = await startRpcProxy(anvil.url, async (call, forward) => {
      const answer = (await forward()) as { result?: { logs?: { transactionHash: string }[] } };
      if (call.method === 'eth_getTransactionReceipt') for (const log of answer.result?.logs ?? []) log.transactionHash = `0x${'ee'.repeat(32)}`;
      return answer;
    });
    cleanups.push(() => proxy.close());
    const { anchorer, readings, anchorRecords, errors } = await setup({ rpcUrl: proxy.url, confirmations: 1 }, ANVIL_KEYS[2]);
    const outcome = recordedOrRefused(anchorer, errors, 'ERR_ANCHOR_MISMATCH');
    anchorer.start();
    await readings(5);
    assert.equal(await outcome, 'refused');
    assert.equal((await anchorRecords()).length, 0);
  });

  it('a block time no anchor record can hold (an endpoint answering falsely) is refused, not written as a malformed record', async () => {
    // A JSON-RPC proxy in front of anvil that reports every block at the largest timestamp ethers accepts.
    const proxy = await startRpcProxy(anvil.url, async (call, forward) => {
      const answer = (await forward()) as { result?: { timestamp?: string } };
      if (call.method === 'eth_getBlockByNumber' && answer.result) answer.result.timestamp = '0x1fffffffffffff';
      return answer;
    });
    cleanups.push(() => proxy.close());
    const { anchorer, readings, anchorRecords, errors } = await setup({ rpcUrl: proxy.url, confirmations: 1 });
    const outcome = recordedOrRefused(anchorer, errors, 'ERR_ANCHOR_RPC');
    anchorer.start();
    await readings(5);
    assert.equal(await outcome, 'refused');
    for (const r of await anchorRecords()) assert.doesNotThrow(() => parseAnchorBody(r.record.body));
    assert.equal((await anchorRecords()).length, 0);
  });

  it('an anchor mined between the look at its receipt and the look at the nonce is followed, not sent again', async () => {
    const key = ANVIL_KEYS[3];
    // A proxy in front of anvil that answers the first receipt lookup of each transaction with
    // null, as a node does when the block lands between two calls.
    const asked = new Set<string>();
    const proxy = await startRpcProxy(anvil.url, (call, forward) => {
      const hash = String(call.params[0]);
      if (call.method === 'eth_getTransactionReceipt' && !asked.has(hash)) {
        asked.add(hash);
        return rpcResult(call, null);
      }
      return forward();
    });
    cleanups.push(() => proxy.close());
    const { anchorer, readings, anchorRecords, errors } = await setup({ rpcUrl: proxy.url, confirmations: 1 }, key);
    const account = new Wallet(key).address;
    const before = await anvil.provider.getTransactionCount(account);
    anchorer.start();
    await readings(5);
    await until('the anchor record', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
    await anchorer.settle();
    assert.equal((await anvil.provider.getTransactionCount(account)) - before, 1, 'one anchor transaction');
    assert.deepEqual(errors.map((e) => e.code), []);
  });

  it('an endpoint that hides every receipt and says each nonce was used elsewhere gets a few anchor transactions, not one per look', async () => {
    const key = ANVIL_KEYS[2];
    // A proxy in front of anvil: transactions go through (and are paid for), receipts never come back.
    const proxy = await startRpcProxy(anvil.url, (call, forward) => {
      if (call.method === 'eth_getTransactionReceipt') return rpcResult(call, null);
      if (call.method === 'eth_getTransactionCount' && call.params[1] === 'latest') return rpcResult(call, '0xffff');
      return forward();
    });
    cleanups.push(() => proxy.close());
    const { anchorer, readings, errors } = await setup({ rpcUrl: proxy.url, confirmations: 1 }, key);
    const account = new Wallet(key).address;
    const before = await anvil.provider.getTransactionCount(account);
    anchorer.start();
    await readings(5);
    await until('ERR_ANCHOR_NONCE', () => errors.find((e) => e.code === 'ERR_ANCHOR_NONCE'), CHAIN_WAIT);
    await new Promise((r) => setTimeout(r, 3000));
    await anchorer.settle();
    const sent = (await anvil.provider.getTransactionCount(account)) - before;
    assert.ok(sent <= 3, `${sent} anchor transactions paid for in 3 s of looks every 0.1 s`);
  });

  it('an endpoint that reports each recorded anchor gone from the chain gets a few anchors again, not one per look', async () => {
    const key = ANVIL_KEYS[1];
    // A proxy in front of anvil: a transaction's receipt is answered once (the anchorer records
    // the anchor), then never again (the recorded anchor "was dropped by a reorg").
    const answered = new Set<string>();
    const proxy = await startRpcProxy(anvil.url, async (call, forward) => {
      const receipt = call.method === 'eth_getTransactionReceipt';
      if (receipt && answered.has(String(call.params[0]))) return rpcResult(call, null);
      const answer = await forward();
      if (receipt && answer.result) answered.add(String(call.params[0]));
      return answer;
    });
    cleanups.push(() => proxy.close());
    const { anchorer, readings, anchorRecords } = await setup({ rpcUrl: proxy.url, confirmations: 1 }, key);
    const account = new Wallet(key).address;
    const before = await anvil.provider.getTransactionCount(account);
    anchorer.start();
    await readings(5);
    await until('the anchorer to stop', () => /anchoring stopped/.test(anchorer.status().lastError?.message ?? ''), CHAIN_WAIT);
    assert.equal(anchorer.status().lastError?.code, 'ERR_ANCHOR_REORG');
    const sent = (await anvil.provider.getTransactionCount(account)) - before;
    assert.ok(sent <= 1 + MAX_LOST_ANCHORS + MAX_UNCONFIRMED_ANCHORS, `${sent} anchor transactions paid for`);
    assert.ok((await anchorRecords()).length <= 1 + MAX_LOST_ANCHORS);
    await new Promise((r) => setTimeout(r, 1500));
    await anchorer.settle();
    assert.equal((await anvil.provider.getTransactionCount(account)) - before, sent, 'none after it stopped');
  });

  it('RPC unreachable: readings are still recorded, ERR_ANCHOR_RPC, and the anchor catches up when the chain returns', async () => {
    const relay = await startRelay(anvil.port);
    cleanups.push(() => relay.close());
    const { anchorer, readings, anchorRecords, errors, gw } = await setup({ rpcUrl: relay.url, confirmations: 1, rpcTimeoutMs: 2000 });
    await relay.down();
    anchorer.start();
    await readings(12);
    assert.equal(gw.ledger.size, 12);
    await until('ERR_ANCHOR_RPC', () => errors.find((e) => e.code === 'ERR_ANCHOR_RPC'), CHAIN_WAIT);
    assert.equal(anchorer.status().lastError?.code, 'ERR_ANCHOR_RPC');
    await relay.up();
    await until('the anchor after the outage', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
    const [rec] = await anchorRecords();
    assert.equal((rec.record.body as { size: number }).size, 10, 'the latest checkpoint (two blocks of 5) is anchored');
    assert.equal(anchorer.status().lastError, null);
    assert.equal(errors.filter((e) => e.code === 'ERR_ANCHOR_RPC').length, 1, 'one error per outage, not one per retry');
  });

  it('insufficient funds: ERR_ANCHOR_FUNDS, recording goes on, and the anchor goes out once the account is funded', async () => {
    const key = ANVIL_KEYS[2];
    const { anchorer, readings, anchorRecords, errors, gw } = await setup({ confirmations: 1 }, key);
    const address = new Wallet(key).address;
    const balance = await anvil.provider.getBalance(address);
    await anvil.rpc('anvil_setBalance', [address, '0x0']);
    anchorer.start();
    await readings(5);
    await until('ERR_ANCHOR_FUNDS', () => errors.find((e) => e.code === 'ERR_ANCHOR_FUNDS'), CHAIN_WAIT);
    await readings(1);
    assert.equal(gw.ledger.size, 6);
    assert.equal((await anchorRecords()).length, 0);
    await anvil.rpc('anvil_setBalance', [address, `0x${balance.toString(16)}`]);
    await until('the anchor once funded', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
  });

  it('a nonce taken by another transaction of the account: ERR_ANCHOR_NONCE, then anchored with a new nonce', async () => {
    const key = ANVIL_KEYS[1];
    const { anchorer, readings, anchorRecords, errors } = await setup({ confirmations: 1, bumpAfterSeconds: 3600 }, key);
    await anvil.rpc('evm_setAutomine', [false]);
    cleanups.push(() => anvil.rpc('evm_setAutomine', [true]));
    anchorer.start();
    await readings(5);
    const pending = await until('the anchor sent', () => anchorer.status().pending, CHAIN_WAIT);
    // The same account spends the nonce elsewhere with a higher fee: that one wins the slot.
    const wallet = new Wallet(key, anvil.provider);
    await anvil.rpc('anvil_dropTransaction', [pending.tx]);
    await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce: pending.nonce, maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 10n });
    await anvil.mine(1);
    await until('ERR_ANCHOR_NONCE', () => errors.find((e) => e.code === 'ERR_ANCHOR_NONCE'), CHAIN_WAIT);
    const again = await until('the anchor sent again', () => anchorer.status().pending, CHAIN_WAIT);
    assert.equal(again.nonce, pending.nonce + 1);
    await anvil.mine(1);
    await until('the anchor recorded', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
  });

  it('an anchor left unmined gets bounded fee bumps; a base fee above the cap is ERR_ANCHOR_FEE_CAP', async () => {
    const { anchorer, readings, anchorRecords, errors } = await setup({ confirmations: 1, bumpAfterSeconds: 0.2, maxBumps: 2 });
    await anvil.rpc('evm_setAutomine', [false]);
    cleanups.push(() => anvil.rpc('evm_setAutomine', [true]));
    anchorer.start();
    await readings(5);
    await until('two fee bumps', () => anchorer.status().pending?.bumps === 2, CHAIN_WAIT);
    const sent = anchorer.status().pending;
    const tx = await anvil.provider.getTransaction(sent?.tx as string);
    assert.ok(tx && tx.maxFeePerGas !== null);
    await anchorer.settle();
    assert.equal(anchorer.status().pending?.bumps, 2, 'no more than maxBumps');
    await anvil.mine(1);
    await until('the anchor recorded', async () => (await anchorRecords()).length === 1, CHAIN_WAIT);
    const [rec] = await anchorRecords();
    assert.equal((rec.record.body as { tx: string }).tx, sent?.tx, 'the last, bumped version is the one mined');
    assert.ok(!errors.some((e) => e.code === 'ERR_ANCHOR_FEE_CAP'));
    await anvil.rpc('evm_setAutomine', [true]);

    const capped = await setup({ confirmations: 1, maxFeeGwei: 0.000001 });
    capped.anchorer.start();
    await capped.readings(5);
    await until('ERR_ANCHOR_FEE_CAP', () => capped.errors.find((e) => e.code === 'ERR_ANCHOR_FEE_CAP'), CHAIN_WAIT);
    assert.equal((await capped.anchorRecords()).length, 0);
  });
});
