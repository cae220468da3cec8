import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Wallet } from 'ethers';
import { openGateways } from '../../lib/gateway/shared';
import { sidebarData } from '../../lib/gateway/sidebar-data';
import { runCli } from '../support/cli';
import { projectRoot } from '../support/paths';
import { ANVIL_CHAIN_ID, ANVIL_KEYS, CHAIN_WAIT, deployAnchor, startAnvil, type Anvil } from '../support/anvil';
import { helper, ledgerNode, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// A real Node-RED runtime and a real chain: readings go through Record, the Anchor node commits
// the checkpoint, and the command line checks the ledger against the chain afterwards.
describe('nodes: Anchor on a real chain (anvil)', function () {
  this.timeout(120000);
  let userDir: string;
  let anvil: Anvil;
  let contract: string;
  const key = ANVIL_KEYS[3];

  before(async () => {
    anvil = await startAnvil();
    contract = await deployAnchor(anvil, key);
    await new Promise<void>((resolve) => {
      userDir = startTestRuntime(resolve);
    });
  });
  after(async () => {
    await new Promise<void>((resolve) => stopTestRuntime(userDir, resolve));
    await anvil?.stop();
  });

  const anchorNode = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    type: 'iot-ledger-anchor',
    ledger: 'ledger',
    rpcUrl: anvil.url,
    chainId: String(ANVIL_CHAIN_ID),
    contract,
    confirmations: 2,
    pollSeconds: 0.1,
    everyMinutes: 60,
    wires: [['anchored']],
    ...extra,
  });

  it('anchors from a flow, reports errors to Catch, and the CLI verifies the ledger and a proof against the chain', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode(),
        { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', wires: [['recorded']] },
        anchorNode('anchor'),
        anchorNode('wrong', { chainId: '1', wires: [[]] }),
        { id: 'catcher', type: 'catch', scope: ['anchor', 'wrong'], wires: [['caught']] },
        { id: 'recorded', type: 'helper' },
        { id: 'anchored', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
      { anchor: { privateKey: key }, wrong: { privateKey: key } },
    );
    const caught = await nextMessage<{ error: { code: string; source: { id: string } } }>(helper.getNode('caught'), 20000);
    assert.equal(caught.error.code, 'ERR_ANCHOR_CONFIG');
    assert.equal(caught.error.source.id, 'wrong');

    const anchored = nextMessage<{ payload: Record<string, unknown> }>(helper.getNode('anchored'), 30000);
    for (let i = 0; i < 5; i++) {
      const m = nextMessage(helper.getNode('recorded'));
      helper.getNode('record').receive({ payload: { temperature: -21 - i / 10 } });
      await m;
    }
    // Mined at once (anvil automines); recorded after one more block.
    // What the Ledger sidebar serves (GET /iot-ledger/sidebar) for this runtime's ledgers.
    const pending = await until(
      'the pending anchor in the sidebar',
      async () => {
        const ledgers = await sidebarData(await openGateways());
        return ledgers[0]?.anchors.find((a) => a.pending)?.pending;
      },
      CHAIN_WAIT,
    );
    assert.equal(pending.size, 5);
    await anvil.mine(1);
    const { payload } = await anchored;
    assert.equal(payload.size, 5);
    assert.equal(payload.chain, ANVIL_CHAIN_ID);
    assert.equal(payload.account, new Wallet(key).address.toLowerCase());
    assert.match(String(payload.tx), /^0x[0-9a-f]{64}$/);

    const flows = JSON.stringify(helper._redNodes.getFlows().flows);
    assert.ok(!flows.includes(key.slice(2)), 'the key is not in the flow');
    await helper.unload();

    const dir = path.join(userDir, 'iot-ledger', 'ledgers', 'test-room');
    const audit = runCli(['audit', dir, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(audit.status, 0, audit.stdout + audit.stderr);
    assert.match(audit.stdout, new RegExp(`records 0\\.\\.4 anchored at block ${Number(payload.block)} \\(`));

    const bundleFile = path.join(userDir, 'proof.json');
    const prove = runCli(['prove', dir, '2', '--anchored', '--out', bundleFile]);
    assert.equal(prove.status, 0, prove.stderr);
    const gatewayKeyFile = path.join(userDir, 'iot-ledger', 'keys', 'test-room.gateway.jwk');
    const info = runCli(['info', dir]);
    const verifier = /did:key:z6Mk\w+/.exec(info.stdout)?.[0] ?? gatewayKeyFile;
    const ok = runCli(['verify-proof', bundleFile, '--key', verifier, '--anchor', anvil.url, '--contract', contract]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`anchor: anchored at block ${Number(payload.block)} \\(`));
  });

  it('examples/anchoring.json runs as shipped, its settings from the environment and the key from a 0600 file', async () => {
    const flow = JSON.parse(fs.readFileSync(path.join(projectRoot, 'examples', 'anchoring.json'), 'utf8')) as Record<string, unknown>[];
    const keyFile = path.join(userDir, 'anchor.key');
    fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    Object.assign(process.env, { ANCHOR_RPC_URL: anvil.url, ANCHOR_CHAIN_ID: String(ANVIL_CHAIN_ID), ANCHOR_CONTRACT: contract, ANCHOR_KEY_FILE: keyFile });
    try {
      const core = ['common/20-inject.js', 'common/21-debug.js', 'common/25-catch.js', 'common/90-comment.js'].map(
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (f) => require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', f)) as unknown,
      );
      await helper.load([...packNodes(), ...core], flow);
      const anchorId = String(flow.find((n) => n.type === 'iot-ledger-anchor')?.id);
      const button = String(flow.find((n) => n.type === 'inject')?.id);
      const gw = await until('the coldroom ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'coldroom'), CHAIN_WAIT);
      await gw.record({ type: 'reading', body: { temperature: -22 } });
      await gw.ledger.seal();
      await until('the anchor sent', () => gw.anchors.get(anchorId)?.().pending, CHAIN_WAIT);
      // The button makes the node look at the chain now rather than at its next poll (15 s).
      helper.getNode(button).receive({ payload: Date.now() });
      const pending = await until('the anchor in a block', () => gw.anchors.get(anchorId)?.().pending?.block, CHAIN_WAIT);
      await anvil.mine(12);
      helper.getNode(button).receive({ payload: Date.now() });
      const st = await until('the anchor confirmed after 12 blocks', () => gw.anchors.get(anchorId)?.().lastConfirmed, CHAIN_WAIT);
      assert.equal(st.block, pending);
      assert.equal(st.size, 1);
    } finally {
      for (const k of ['ANCHOR_RPC_URL', 'ANCHOR_CHAIN_ID', 'ANCHOR_CONTRACT', 'ANCHOR_KEY_FILE']) delete process.env[k];
      await helper.unload();
    }
  });
  it('takes a JSON-RPC URL with an API key or login from the credential, which stays out of the flow', async () => {
    const secret = 's3cret-api-key';
    const url = new URL(anvil.url);
    url.username = 'anchor';
    url.password = secret;
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'secret-url-room' }),
        { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', wires: [['recorded']] },
        anchorNode('anchor', { rpcUrl: '' }),
        { id: 'recorded', type: 'helper' },
        { id: 'anchored', type: 'helper' },
      ]),
      { anchor: { privateKey: key, secretRpcUrl: url.href } },
    );
    try {
      const anchored = nextMessage<{ payload: Record<string, unknown> }>(helper.getNode('anchored'), 30000);
      for (let i = 0; i < 5; i++) {
        const m = nextMessage(helper.getNode('recorded'));
        helper.getNode('record').receive({ payload: { temperature: -21 - i / 10 } });
        await m;
      }
      await until(
        'the pending anchor',
        async () => {
          const gw = (await openGateways()).find((g) => g.ledger.name === 'secret-url-room');
          return gw?.anchors.get('anchor')?.().pending;
        },
        CHAIN_WAIT,
      );
      await anvil.mine(1);
      const { payload } = await anchored;
      assert.equal(payload.size, 5);
      assert.equal(payload.chain, ANVIL_CHAIN_ID);
      const flows = JSON.stringify(helper._redNodes.getFlows().flows);
      assert.ok(!flows.includes(secret), 'the URL\'s password is not in the flow');
      assert.ok(!flows.includes(anvil.url.replace(/^http:\/\//, '')), 'the URL is not in the flow');
    } finally {
      await helper.unload();
    }
  });
});
