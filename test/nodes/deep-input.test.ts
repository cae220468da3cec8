import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, keyToJwk } from '../../lib/index';
import { cloneRisk } from '../../lib/guards/safe-value';
import { helper, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';
import { until } from '../support/until';

// Every node of the pack that takes messages, given a payload (or another property) nested
// 100 000 levels deep: Node-RED clones what a node forwards or hands to Catch and Complete,
// recursively, so each node must replace such a value by a bounded summary first.

const identityKey = generateKey('Ed25519');
const terms = {
  id: 'deep', version: 1, title: 'deep', subjects: 'any', metric: 'temperature', rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' }, parties: [keyToDid(generateKey('Ed25519'))],
};
const NODES = ['sign', 'verify', 'verify-2', 'enrol', 'record', 'query', 'contract', 'firmware', 'audit', 'witness', 'replica', 'anchor'] as const;

const flow = () =>
  onTab([
    { id: 'ledger', type: 'iot-ledger-config', ledgerName: 'deep', blockRecords: 50, blockSeconds: 3600 },
    { id: 'identity', type: 'iot-ledger-identity', name: 'pi', alg: 'Ed25519', did: keyToDid(identityKey) },
    { id: 'sign', type: 'iot-ledger-sign', identity: 'identity', format: 'jws', wires: [['out', 'out']] },
    { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, wires: [['out', 'out']] },
    { id: 'verify-2', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 2, wires: [['out'], ['out', 'out']] },
    { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['out', 'out']] },
    { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', recordType: 'reading', wires: [['out', 'out']] },
    { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'latest', limit: 10, wires: [['out', 'out']] },
    { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['out'], ['out', 'out']] },
    { id: 'firmware', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', wires: [['out', 'out']] },
    { id: 'audit', type: 'iot-ledger-audit', ledger: 'ledger', mode: 'full', interval: 0, wires: [['out', 'out']] },
    // Witness, Replica and Anchor answer a message too (a request body, a catch-up, an anchor
    // now); the last two unconfigured, as a new node dropped in the editor is.
    { id: 'witness', type: 'iot-ledger-witness', keyName: 'witness.example/deep', logs: '', prefix: '/deep-witness', wires: [['out', 'out']] },
    { id: 'replica', type: 'iot-ledger-replica', url: '', key: '', wires: [['out', 'out']] },
    { id: 'anchor', type: 'iot-ledger-anchor', ledger: 'ledger', rpcUrl: '', wires: [['out', 'out']] },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['settled']] },
    { id: 'completer', type: 'complete', scope: [...NODES], uncaught: false, wires: [['settled']] },
    { id: 'out', type: 'helper' },
    { id: 'settled', type: 'helper' },
  ]);

function deepValue(n: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}

describe('nodes: a value nested 100 000 levels deep never takes the runtime down', function () {
  this.timeout(60_000);
  let userDir: string;
  const problems: unknown[] = [];
  const onUncaught = (err: unknown) => problems.push(err);
  const settled = new Map<string, Record<string, unknown>[]>();
  const forwarded = new Map<string, Record<string, unknown>[]>();
  const note = (into: Map<string, Record<string, unknown>[]>) => (m: Record<string, unknown>) => {
    const tag = String(m.tag);
    into.set(tag, [...(into.get(tag) ?? []), m]);
  };

  before(async function () {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    userDir = await new Promise<string>((resolve) => {
      const dir = startTestRuntime(() => resolve(dir));
    });
    await helper.load(packNodes(), flow(), { identity: { jwk: JSON.stringify(keyToJwk(identityKey, true)) } });
    helper.getNode('settled').on('input', note(settled));
    helper.getNode('out').on('input', note(forwarded));
  });

  after(async () => {
    process.removeListener('uncaughtException', onUncaught);
    process.removeListener('unhandledRejection', onUncaught);
    await helper.unload().catch(() => undefined);
    await new Promise<void>((resolve) => stopTestRuntime(userDir, resolve));
  });

  async function settle(tag: string): Promise<Record<string, unknown>> {
    await until(`${tag} at Catch or Complete`, () => settled.has(tag) || problems.length > 0, { timeoutMs: 20_000 });
    assert.deepEqual(problems.map(String), [], 'uncaught exceptions or unhandled rejections');
    const got = settled.get(tag);
    assert.ok(got, `${tag}: neither Catch nor Complete got the message`);
    return got[0];
  }

  for (const node of NODES) {
    for (const where of ['payload', 'other'] as const) {
      it(`${node}: a deep msg.${where} is summarised before the message is cloned`, async () => {
        const tag = `${node}/${where}`;
        const msg: Record<string, unknown> = { tag, topic: where === 'payload' && node === 'contract' ? 'contract/sign' : 'coldroom/x/reading' };
        msg[where] = deepValue(100_000);
        if (where === 'other') msg.payload = { temperature: -21 };
        helper.getNode(node).receive(msg);
        const m = await settle(tag);
        assert.equal(cloneRisk(m), undefined);
        // Query and Audit answer in msg.payload whatever it held; every other node summarises.
        const replacedByAnswer = where === 'payload' && (node === 'query' || node === 'audit');
        if (!replacedByAnswer) assert.equal((m[where] as { refused?: string }).refused, 'ERR_PAYLOAD_TOO_DEEP', `${tag}: ${JSON.stringify(m[where])}`);
        for (const f of forwarded.get(tag) ?? []) assert.equal(cloneRisk(f), undefined);
      });
    }
  }
});
