import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Anchorer } from '../../lib/anchor';
import { Gateway } from '../../lib/gateway';
import { runCli } from '../support/cli';
import { gatewayKey, tempDir } from '../support/ledger';
import { ANVIL_CHAIN_ID, ANVIL_KEYS, CHAIN_WAIT, deployAnchor, startAnvil, type Anvil } from '../support/anvil';
import { until } from '../support/until';

// The command line against a real chain: a rollback or fork after an anchor is found with RPC
// access alone, and an anchor the chain lost is never reported as anchored.
describe('CLI: audit and verify-proof --anchor (anvil)', function () {
  this.timeout(120000);
  let anvil: Anvil;
  let contract: string;
  const work = tempDir('cli-anchor-');
  const dir = path.join(work.dir, 'ledger');
  const backup = path.join(work.dir, 'backup');
  const name = 'cold-room.example/anchor-cli';

  const open = (d: string) => Gateway.open(d, { name, gatewayKey, blockRecords: 5, blockSeconds: 0 });
  const readings = async (gw: Gateway, from: number, n: number, tag = 'a') => {
    for (let i = from; i < from + n; i++) await gw.record({ type: 'reading', body: { temperature: -20 - i, tag } });
  };

  before(async () => {
    anvil = await startAnvil();
    contract = await deployAnchor(anvil);
    let gw = await open(dir);
    await readings(gw, 0, 3);
    await gw.close();
    fs.cpSync(dir, backup, { recursive: true });
    gw = await open(dir);
    await readings(gw, 3, 2);
    await gw.ledger.seal();
    const anchorer = new Anchorer(gw, { rpcUrl: anvil.url, chainId: ANVIL_CHAIN_ID, contract, privateKey: ANVIL_KEYS[0], confirmations: 1, pollSeconds: 0.1 });
    anchorer.start();
    await until('the anchor of tree size 5', () => anchorer.status().lastConfirmed, CHAIN_WAIT);
    await anchorer.close();
    await gw.close();
  });
  after(async () => {
    await anvil?.stop();
    work.cleanup();
  });

  const audit = (d: string, ...more: string[]) => runCli(['audit', d, '--anchor', anvil.url, '--contract', contract, ...more]);

  it('a clean ledger: exit 0 and "anchored at block B (time T)"', () => {
    const r = audit(dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /anchors: clean, 1 on chain 31337, contract 0x[0-9a-f]{40}; records 0\.\.4 anchored at block \d+ \(\d{4}-\d\d-\d\dT[\d:]+Z\)/);
    const j = JSON.parse(audit(dir, '--json').stdout) as { clean: boolean; anchors: { consistent: { size: number }[] } };
    assert.equal(j.clean, true);
    assert.equal(j.anchors.consistent[0].size, 5);
  });

  it('the directory rolled back to before the anchor, then new records: exit 1 naming the anchored size', async () => {
    const forked = path.join(work.dir, 'forked');
    fs.cpSync(backup, forked, { recursive: true });
    let r = audit(forked);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /anchor-beyond size 5: the chain holds an anchor of tree size 5 at block \d+ .* the ledger has only 3 records/);
    const gw = await open(forked);
    await readings(gw, 3, 2, 'rewritten');
    await gw.ledger.seal();
    await readings(gw, 5, 2, 'rewritten');
    await gw.close();
    // The ledger itself is self-consistent: only the chain shows what happened.
    assert.equal(runCli(['audit', forked]).status, 0);
    r = audit(forked);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /anchor-contradicted size 5: the ledger contradicts the root anchored for tree size 5 at block \d+/);

    const bundle = path.join(work.dir, 'forked-proof.json');
    assert.equal(runCli(['prove', forked, '1', '--height', '1', '--out', bundle]).status, 0);
    const info = runCli(['info', forked]).stdout;
    const key = /did:key:z6Mk\w+/.exec(info)?.[0] as string;
    const v = runCli(['verify-proof', bundle, '--key', key, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(v.status, 1, v.stdout);
    assert.match(v.stdout, /another root for tree size 5 .* \(ERR_ANCHOR_MISMATCH\)/);
    // A consistency bundle is checked by its newer checkpoint: here the rewritten one of size 5.
    const consistency = path.join(work.dir, 'forked-consistency.json');
    assert.equal(runCli(['prove', forked, '--consistency', '5', '5', '--out', consistency]).status, 0);
    const c = runCli(['verify-proof', consistency, '--key', key, '--anchor', anvil.url, '--contract', contract, '--json']);
    assert.equal(c.status, 1, c.stdout);
    assert.equal((JSON.parse(c.stdout) as { code: string }).code, 'ERR_ANCHOR_MISMATCH');
  });

  it('verify-proof: a checkpoint the chain does not hold is not anchored (exit 1, ERR_ANCHOR_MISSING)', async () => {
    const later = path.join(work.dir, 'later');
    fs.cpSync(dir, later, { recursive: true });
    const gw = await open(later);
    await readings(gw, 6, 5);
    await gw.close();
    const bundle = path.join(work.dir, 'later-proof.json');
    assert.equal(runCli(['prove', later, '7', '--out', bundle]).status, 0);
    const key = /did:key:z6Mk\w+/.exec(runCli(['info', later]).stdout)?.[0] as string;
    const v = runCli(['verify-proof', bundle, '--key', key, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(v.status, 1, v.stdout);
    assert.match(v.stdout, /not anchored .* latest anchor of .* is tree size 5 .*\(ERR_ANCHOR_MISSING\)/);
    // A consistency bundle to a checkpoint the chain does not hold is not anchored; to one it holds, it is.
    const consistency = path.join(work.dir, 'later-consistency.json');
    assert.equal(runCli(['prove', later, '--consistency', '5', '--out', consistency]).status, 0);
    const c = runCli(['verify-proof', consistency, '--key', key, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(c.status, 1, c.stdout);
    assert.match(c.stdout, /not anchored .*\(ERR_ANCHOR_MISSING\)/);
    const held = path.join(work.dir, 'held-consistency.json');
    assert.equal(runCli(['prove', later, '--consistency', '5', '5', '--out', held]).status, 0);
    const h = runCli(['verify-proof', held, '--key', key, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(h.status, 0, h.stdout + h.stderr);
    assert.match(h.stdout, /extends its checkpoint at tree size 5 \(append-only\)\nanchor: anchored at block \d+ /);
    assert.equal(runCli(['prove', later, '7', '--anchored']).status, 2, 'record 7 is after the latest anchor');
  });

  it('an anchor the chain lost (reverted) is reported missing, never as anchored', async () => {
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    const lost = path.join(work.dir, 'lost');
    fs.cpSync(dir, lost, { recursive: true });
    const gw = await open(lost);
    const anchorer = new Anchorer(gw, { rpcUrl: anvil.url, chainId: ANVIL_CHAIN_ID, contract, privateKey: ANVIL_KEYS[0], confirmations: 1, pollSeconds: 0.1, minRequestedSeconds: 0 });
    anchorer.start();
    await readings(gw, 6, 4);
    await gw.ledger.seal();
    anchorer.anchorNow();
    await until('the anchor of tree size 10', () => (anchorer.status().lastConfirmed?.size ?? 0) === 10, CHAIN_WAIT);
    await anchorer.close();
    await gw.close();
    assert.equal(audit(lost).status, 0);
    await anvil.rpc('evm_revert', [snapshot]);
    const r = audit(lost);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /anchor-missing size 10: record \d+ says tree size 10 was anchored by transaction 0x[0-9a-f]{64} in block \d+ .* the chain does not hold that anchor/);
    assert.doesNotMatch(r.stdout, /records 0\.\.9 anchored/);
  });

  it('anchor records naming another chain are said to be not checked, not passed over as "none"', async () => {
    const other = path.join(work.dir, 'other-chain');
    fs.cpSync(dir, other, { recursive: true });
    const gw = await open(other);
    const anchors = [];
    for await (const r of gw.ledger.byType('anchor')) anchors.push(r);
    assert.equal(anchors.length, 1, 'the ledger holds the anchor of tree size 5');
    const [anchor] = anchors;
    // As a gateway that anchored on chain 1 as well would have written it (the audit reads the records, not who wrote them).
    await gw.record({ type: 'anchor', body: { ...(anchor.record.body as Record<string, unknown>), chain: 1 } });
    await gw.close();
    const r = audit(other);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /anchors: clean, 1 on chain 31337/);
    assert.match(r.stdout, new RegExp(`not checked: 1 anchor record\\(s\\) of this ledger name chain 1, contract ${contract.toLowerCase()}`));
    const j = JSON.parse(audit(other, '--json').stdout) as { anchors: { elsewhere: unknown } };
    assert.deepEqual(j.anchors.elsewhere, [{ chain: 1, contract: contract.toLowerCase(), records: 1 }]);
  });

  it('usage: --anchor needs --contract, and --contract needs --anchor (exit 2)', () => {
    assert.equal(runCli(['audit', dir, '--anchor', anvil.url]).status, 2);
    assert.equal(runCli(['audit', dir, '--contract', contract]).status, 2);
  });
});
