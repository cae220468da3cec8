import * as assert from 'node:assert/strict';
import { termsHashHex, validateTerms } from '../../lib/contracts';
import type { Gateway } from '../../lib/gateway';
import { generateKey, keyToDid } from '../../lib/index';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { helper, ledgerNode, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// The gateway is shared and stays open across partial deploys, so whatever a node registers on
// it must go when the node closes: 20 "modified nodes" deploys in the runtime leave one
// listener and one contract entry, and Node-RED prints no MaxListenersExceededWarning.

/** The helper's deploy, as the editor's "Modified nodes" deploy does it (the runtime's setFlows). */
const deploy = (flows: object[]): Promise<void> =>
  (helper as unknown as { setFlows(f: object[], type: string): Promise<void> }).setFlows(flows, 'nodes');

const party = keyToDid(generateKey('Ed25519'));
const termsFor = (i: number) =>
  validateTerms({
    id: `room-${i}`,
    version: 1,
    title: `Room ${i} stays cold`,
    subjects: 'any',
    metric: 'temperature',
    unit: '°C',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [party],
  });

const flow = (i: number) =>
  onTab([
    ledgerNode(),
    { id: 'record', type: 'iot-ledger-record', name: `record ${i}`, ledger: 'ledger', recordType: 'reading', wires: [[]] },
    { id: 'contract', type: 'iot-ledger-contract', name: `contract ${i}`, ledger: 'ledger', terms: JSON.stringify(termsFor(i)), tickSeconds: 3600, wires: [[], []] },
  ]);

describe('nodes: redeploys leave nothing behind on the shared gateway', function () {
  this.timeout(60000);
  let userDir: string;
  const nodes = packNodes();
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  before((done) => {
    process.on('warning', onWarning);
    userDir = startTestRuntime(done);
  });
  after((done) => {
    process.off('warning', onWarning);
    stopTestRuntime(userDir, done);
  });
  afterEach(() => helper.unload());

  it('20 partial deploys of Record and Contract: one block listener, one contract entry, no MaxListenersExceededWarning', async () => {
    await helper.load(nodes, flow(0));
    const gw: Gateway = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    const hash0 = termsHashHex(termsFor(0));
    await until('the first contract', () => gw.contractView(hash0) !== undefined);
    const listenersBefore = gw.listenerCount('block');
    assert.equal(listenersBefore, 1);

    for (let i = 1; i <= 20; i++) {
      // no wait in between: a Contract node may close while its runners are still loading
      await deploy(flow(i));
      assert.equal(await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway(), gw, 'the gateway is kept');
    }
    const last = termsHashHex(termsFor(20));
    await until('the last contract', () => gw.contractView(last) !== undefined);
    assert.equal((helper.getNode('record') as unknown as { name: string }).name, 'record 20', 'the nodes were redeployed');
    assert.equal(gw.listenerCount('block'), 1);
    assert.ok(gw.contractView(last) !== undefined);
    // Stopping everything closes the gateway, which settles the loads of nodes closed early:
    // afterwards nothing of any of the 21 generations may be left.
    await helper.unload();
    assert.deepEqual(gw.contractViews().map((v) => v.termsHash), []);
    assert.equal(gw.listenerCount('block'), 0);
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });
});
