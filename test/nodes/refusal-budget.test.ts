import * as assert from 'node:assert/strict';
import { validateTerms } from '../../lib/contracts';
import { generateKey, keyToDid } from '../../lib/index';
import { helper, ledgerNode, onTab, packNodes, useTestRuntime } from './support';
import { until } from '../support/until';

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
  useTestRuntime();

  /**
   * Loads `node` (with helpers on its outputs) beside a Catch and a Complete node scoped to it,
   * sends it 1,000 messages that it refuses, and checks that every one was finished, fewer than
   * all at Catch; returns the refusals' code.
   */
  async function flood(node: Record<string, unknown> & { id: string }, outputs: string[], message: (i: number) => Record<string, unknown>): Promise<string> {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'refusals' }),
        { ...node, ledger: 'ledger', wires: outputs.map((o) => [o]) },
        ...outputs.map((id) => ({ id, type: 'helper' })),
        { id: 'catcher', type: 'catch', scope: [node.id], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
        { id: 'completer', type: 'complete', scope: [node.id], wires: [['completed']] },
        { id: 'completed', type: 'helper' },
      ]),
    );
    const n = 1000;
    const caught: { error: { code?: string } }[] = [];
    const completed: { rejected?: { code: string; unreported: boolean } }[] = [];
    helper.getNode('caught').on('input', (m: never) => caught.push(m));
    helper.getNode('completed').on('input', (m: never) => completed.push(m));
    for (let i = 0; i < n; i++) helper.getNode(node.id).receive(message(i));
    await until(() => `${n} messages caught or completed (${caught.length + completed.length})`, () => caught.length + completed.length >= n, { timeoutMs: 20_000 });
    assert.equal(caught.length + completed.length, n);
    const code = String(caught[0]?.error.code);
    assert.ok(caught.every((m) => m.error.code === code));
    assert.ok(caught.length >= 100 && caught.length < n, `${caught.length} of ${n} refusals reached Catch`);
    assert.ok(completed.every((m) => m.rejected?.code === code && m.rejected.unreported));
    return code;
  }

  it('firmware reports: at most the report budget reaches Catch, every message is finished', async () => {
    const firmware = { id: 'firmware', type: 'iot-ledger-firmware', mode: 'report' };
    assert.equal(await flood(firmware, ['out'], (i) => ({ payload: `garbage ${i}`, deviceId: 'not-a-did' })), 'ERR_FIRMWARE_REJECTED');
  });

  // An MQTT in node set to auto-detect (Node-RED's default) hands JSON text on as an object or a number.
  it('firmware reports that are JSON, not an envelope: refused and counted like other malformed reports, within the budget', async () => {
    const firmware = { id: 'firmware', type: 'iot-ledger-firmware', mode: 'report' };
    const device = keyToDid(generateKey('Ed25519'));
    assert.equal(await flood(firmware, ['out'], (i) => ({ payload: i % 2 ? { report: i } : i, deviceId: device })), 'ERR_FIRMWARE_REJECTED');
  });

  it('contract signatures: at most the report budget reaches Catch, every message is finished', async () => {
    const contract = { id: 'contract', type: 'iot-ledger-contract', terms: JSON.stringify(terms), tickSeconds: 3600 };
    assert.equal(await flood(contract, ['events', 'state'], (i) => ({ topic: 'contract/sign', payload: `not a signature ${i}` })), 'ERR_MALFORMED_ENVELOPE');
  });
});
