import * as assert from 'node:assert/strict';
import { validateTerms } from '../../lib/contracts';
import { generateKey, keyToDid } from '../../lib/index';
import { helper, ledgerNode, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

const terms = validateTerms({
  id: 'cold-room-9',
  version: 1,
  title: 'Cold room stays below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  parties: [keyToDid(generateKey('Ed25519'))],
});

// A Firmware node in report mode and a Contract node's signatures listen on topics anyone can publish on. Each refused report
// is counted in the security records; Catch nodes see at most 100 a second, the rest end
// without an error for a Complete node, like Verify's rejections.
describe('nodes: refusals of what anyone can publish, in a flood', function () {
  this.timeout(30000);
  let userDir: string;
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('firmware reports: hands at most the report budget to Catch, and finishes every message', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'reports' }),
        { id: 'firmware', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'report', wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['firmware'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
        { id: 'completer', type: 'complete', scope: ['firmware'], wires: [['completed']] },
        { id: 'completed', type: 'helper' },
      ]),
    );
    const n = 1000;
    const caught: { error: { code?: string } }[] = [];
    const completed: { rejected?: { code: string; unreported: boolean } }[] = [];
    helper.getNode('caught').on('input', (m: never) => caught.push(m));
    helper.getNode('completed').on('input', (m: never) => completed.push(m));
    for (let i = 0; i < n; i++) helper.getNode('firmware').receive({ payload: `garbage ${i}`, deviceId: 'not-a-did' });
    for (const t0 = Date.now(); caught.length + completed.length < n && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 20));
    assert.equal(caught.length + completed.length, n);
    assert.ok(caught.every((m) => m.error.code === 'ERR_FIRMWARE_REJECTED'));
    assert.ok(caught.length >= 100 && caught.length < n, `${caught.length} of ${n} refusals reached Catch`);
    assert.ok(completed.every((m) => m.rejected?.code === 'ERR_FIRMWARE_REJECTED' && m.rejected.unreported));
  });

  it('contract signatures: hands at most the report budget to Catch, and finishes every message', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'signatures' }),
        { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['events'], ['state']] },
        { id: 'events', type: 'helper' },
        { id: 'state', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['contract'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
        { id: 'completer', type: 'complete', scope: ['contract'], wires: [['completed']] },
        { id: 'completed', type: 'helper' },
      ]),
    );
    const n = 1000;
    const caught: { error: { code?: string } }[] = [];
    const completed: { rejected?: { code: string; unreported: boolean } }[] = [];
    helper.getNode('caught').on('input', (m: never) => caught.push(m));
    helper.getNode('completed').on('input', (m: never) => completed.push(m));
    for (let i = 0; i < n; i++) helper.getNode('contract').receive({ topic: 'contract/sign', payload: `not a signature ${i}` });
    for (const t0 = Date.now(); caught.length + completed.length < n && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 20));
    assert.equal(caught.length + completed.length, n);
    const code = caught[0]?.error.code;
    assert.ok(code !== undefined && caught.every((m) => m.error.code === code));
    assert.ok(caught.length >= 100 && caught.length < n, `${caught.length} of ${n} refusals reached Catch`);
    assert.ok(completed.every((m) => m.rejected?.code === code && m.rejected.unreported));
  });
});
